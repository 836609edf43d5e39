"""`workspace/executeCommand` for every LSP client: `dspex.chat` and `dspex.explain`.
The answer is returned, and shown where the client can show it: a short one with
`window/showMessage`, a long one as a markdown file (editor/answers.py) opened with
`window/showDocument` when the client supports it (else `window/showMessage`)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pydantic import ValidationError

from dspex_protocol import (
    ChatCommandArgs,
    ChatParams,
    CommandAnswer,
    CommandOptions,
    ExplainCommandArgs,
    Message,
)
from dspex_protocol.names import COMMAND_NAMES

from ..app import DspexServer
from ..editor.answers import Selection, cut, explain_messages, is_short, write_answer
from ..errors import DspexError, InvalidParams
from ..services import Services
from .base import internal_error

log = logging.getLogger("dspex.commands")

CHAT, EXPLAIN = COMMAND_NAMES[2], COMMAND_NAMES[3]


def command_args(command: str, model: type[Any], args: tuple[Any, ...], text_field: str) -> Any:
    """The command's one argument: an object shaped like `model`, or a bare string (the
    `text_field`), as Helix's `:lsp-workspace-command dspex.chat "..."` sends it."""
    if len(args) == 1 and isinstance(args[0], str):
        args = ({text_field: args[0]},)
    if len(args) != 1 or not isinstance(args[0], dict):
        raise _invalid(command, ["arguments"], "one object (or a string)")
    try:
        return model.model_validate(args[0])
    except ValidationError as exc:
        errors = [
            {"loc": ["arguments", 0, *e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        said = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][2:]) or '(argument)'}: {e['msg']}" for e in errors
        )
        raise InvalidParams(
            f"{command}: invalid arguments: {said}", data={"method": command, "errors": errors}
        ) from None


def _invalid(command: str, loc: list[Any], msg: str) -> InvalidParams:
    return InvalidParams(
        f"{command}: {msg}",
        data={"method": command, "errors": [{"loc": loc, "msg": msg, "type": "value_error"}]},
    )


def supports_show_document(server: DspexServer) -> bool:
    caps = server.client_capabilities
    window = caps.window if caps else None
    return bool(window and window.show_document and window.show_document.support)


async def ask_and_show(
    server: DspexServer,
    services: Services,
    kind: str,
    heading: str,
    messages: list[Message],
    options: CommandOptions,
) -> CommandAnswer:
    params = ChatParams(
        messages=messages,
        provider=options.provider,
        model=options.model,
        temperature=options.temperature,
        max_tokens=options.max_tokens,
    )
    result = await services.pipeline.chat(params)
    message = result.choices[0].message if result.choices else None
    text = message.content if message is not None and isinstance(message.content, str) else ""
    answer = CommandAnswer(
        text=text, shown="none", provider=result.provider, model=result.model, usage=result.usage
    )
    show = options.show
    if show == "auto":
        show = "message" if is_short(text) else "document"
    if show == "document" and not supports_show_document(server):
        show = "message"
    if show == "message":
        info = types.MessageType.Info
        server.window_show_message(types.ShowMessageParams(type=info, message=text))
    elif show == "document":
        footer = f"*{result.provider}/{result.model}*"
        path = await asyncio.to_thread(write_answer, kind, heading, text, footer)
        answer.uri = path.as_uri()
        # Not awaited: a client may answer it only after our answer.
        shown = server.window_show_document_async(
            types.ShowDocumentParams(uri=answer.uri, take_focus=True)
        )
        asyncio.ensure_future(shown).add_done_callback(_log_failure)
    answer.shown = show
    return answer


def selection(server: DspexServer, args: ExplainCommandArgs) -> Selection:
    """The text to explain: given, or a document's range or lines (the whole without)."""
    if args.text is not None:
        return cut(args.text, args.language, None)
    uri = args.uri if args.uri is not None else _path_uri(server, args.path or "")
    document = server.workspace.get_text_document(uri)
    try:
        source = document.source
    except OSError:
        raise _invalid(EXPLAIN, ["arguments", 0, "uri"], f"no such document: {uri}") from None
    if args.range is not None:
        start, end = (
            document.offset_at_position(types.Position(line=p.line, character=p.character))
            for p in (args.range.start, args.range.end)
        )
        text = source[min(start, end) : max(start, end)]
    elif args.start_line is not None or args.end_line is not None:
        lines = source.splitlines(keepends=True)
        text = "".join(lines[(args.start_line or 1) - 1 : args.end_line or len(lines)])
    else:
        text = source
    if not text.strip():
        raise _invalid(EXPLAIN, ["arguments", 0, "range"], "the selection is empty")
    language = args.language or document.language_id or _language_of(uri)
    return cut(text, language, uri.rsplit("/", 1)[-1])


async def _answered(work: Any) -> Any:
    try:
        answer: CommandAnswer = await work
    except DspexError as exc:
        raise exc.to_jsonrpc() from None
    except (asyncio.CancelledError, InvalidParams):
        raise
    except Exception as exc:
        raise internal_error(exc) from None
    return answer.to_wire()


def register(server: DspexServer, services: Services) -> None:
    @server.command(CHAT)
    async def chat_command(*raw: Any) -> Any:
        args: ChatCommandArgs = command_args(CHAT, ChatCommandArgs, raw, "prompt")
        messages = [Message(role="user", content=args.prompt)]
        if args.system:
            messages.insert(0, Message(role="system", content=args.system))
        heading = args.prompt.strip().splitlines()[0][:80] if args.prompt.strip() else "dspex chat"
        return await _answered(ask_and_show(server, services, "chat", heading, messages, args))

    @server.command(EXPLAIN)
    async def explain_command(*raw: Any) -> Any:
        args: ExplainCommandArgs = command_args(EXPLAIN, ExplainCommandArgs, raw, "text")
        chosen = selection(server, args)
        heading = f"Explanation of {chosen.name or 'the selection'}"
        messages = explain_messages(chosen, args.question)
        return await _answered(ask_and_show(server, services, "explain", heading, messages, args))


def _log_failure(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.debug("window/showDocument failed: %s", type(future.exception()).__name__)


def _path_uri(server: DspexServer, path: str) -> str:
    """A document named by path: an open one whose path ends with it, else the file under
    the workspace root (Helix's `%{buffer_name}` is relative to it)."""
    for uri in server.workspace.text_documents:
        parsed = urlparse(uri)
        if parsed.scheme == "file" and unquote(parsed.path).endswith("/" + path.lstrip("/")):
            return str(uri)
    candidate = Path(path)
    if not candidate.is_absolute():
        root = server.workspace.root_path
        candidate = Path(root or ".") / candidate
    return candidate.resolve().as_uri()


_EXTENSIONS = {
    ".py": "python", ".rs": "rust", ".go": "go", ".js": "javascript", ".ts": "typescript",
    ".lua": "lua", ".el": "elisp", ".md": "markdown", ".c": "c", ".h": "c", ".cpp": "cpp",
    ".java": "java", ".rb": "ruby", ".sh": "bash", ".toml": "toml", ".json": "json",
}  # fmt: skip


def _language_of(uri: str) -> str | None:
    return _EXTENSIONS.get(Path(urlparse(uri).path).suffix.lower())
