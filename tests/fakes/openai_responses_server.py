"""A fake OpenAI Responses API: POST /v1/responses (the documented request checks, the
response object, the typed SSE events with `sequence_number`, error bodies), GET
/v1/models, and the API's state rules: stored responses for `previous_response_id`, and
the links between reasoning items and the items that follow them (with `store: false`,
an item id alone cannot be looked up; a reasoning item must come back with the item that
followed it, and a function call with its reasoning item)."""

from __future__ import annotations

import itertools
from typing import Any

from aiohttp import web

from .base import (
    FakeProvider,
    HttpError,
    Reply,
    SlowStream,
    StreamErrorEvent,
    StreamWire,
    TruncatedStream,
    split_text,
)
from .openai_responses_wire import (
    EventWriter,
    closing_event,
    decrypt_link,
    item_events,
    opening_events,
    render_response,
    sse,
)

REQUEST_ID = "req_fake_responses"
# The create parameters the API documents; any other is refused as unknown.
PARAMETERS = frozenset(
    {
        "background",
        "context_management",
        "conversation",
        "include",
        "input",
        "instructions",
        "max_output_tokens",
        "max_tool_calls",
        "metadata",
        "model",
        "parallel_tool_calls",
        "previous_response_id",
        "prompt",
        "prompt_cache_key",
        "prompt_cache_retention",
        "reasoning",
        "safety_identifier",
        "service_tier",
        "store",
        "stream",
        "stream_options",
        "temperature",
        "text",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "truncation",
        "user",
    }
)
INCLUDABLE = frozenset(
    {
        "web_search_call.action.sources",
        "code_interpreter_call.outputs",
        "computer_call_output.output.image_url",
        "file_search_call.results",
        "message.input_image.image_url",
        "message.output_text.logprobs",
        "reasoning.encrypted_content",
    }
)
INPUT_CONTENT = frozenset({"input_text", "input_image", "input_file"})
TOOL_TYPES = frozenset(
    {"function", "web_search", "file_search", "code_interpreter", "image_generation", "mcp"}
)


def responses_error(
    status: int,
    message: str,
    type_: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
) -> HttpError:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return HttpError(status, body, {"x-request-id": REQUEST_ID})


class FakeOpenAIResponses(FakeProvider):
    model_ids = ("gpt-4.1", "o4-mini", "o3-pro", "gpt-5-codex")

    def __init__(self, api_key: str | None = "sk-test-fake-key") -> None:
        super().__init__(api_key)
        self.stored: dict[str, dict[str, Any]] = {}  # response id -> {input, output}
        self.call_reasoning: dict[str, str] = {}  # function call item id -> reasoning id
        self.contexts: list[list[dict[str, Any]]] = []  # the whole input each request saw
        self._ids = itertools.count(1)

    def reset(self) -> None:
        super().reset()
        self.stored.clear()
        self.call_reasoning.clear()
        self.contexts.clear()

    @property
    def api_base(self) -> str:
        return self.base_url + "/v1"

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/responses", self.responses), web.get("/v1/models", self.models)]

    def _authorised(self, request: web.Request) -> bool:
        return (
            self.api_key is None or request.headers.get("Authorization") == f"Bearer {self.api_key}"
        )

    async def models(self, request: web.Request) -> web.Response:
        await self.record(request)
        if not self._authorised(request):
            return self.error_response(self.unauthorised())
        data = [
            {"id": m, "object": "model", "created": 1, "owned_by": "openai"} for m in self.model_ids
        ]
        return web.json_response({"object": "list", "data": data})

    @staticmethod
    def unauthorised() -> HttpError:
        return responses_error(
            401, "Incorrect API key provided.", code="invalid_api_key", param=None
        )

    async def responses(self, request: web.Request) -> web.StreamResponse:
        body = await self.record(request)
        if not self._authorised(request):
            return self.error_response(self.unauthorised())
        refused = self.check(body)
        if refused is not None:
            return self.error_response(refused)
        behaviour = self.next_behaviour(Reply(text=self._echo(body)))
        canned = self.canned(behaviour)
        if canned is not None:
            return canned
        streaming = bool(body.get("stream"))
        if isinstance(behaviour, TruncatedStream | StreamErrorEvent):
            return await self.broken(request, body, behaviour)
        fault = await self.play_fault(request, behaviour, streaming, self.wire(body))
        if fault is not None:
            return fault
        if isinstance(behaviour, SlowStream):
            return await self.slow(request, body, behaviour)
        reply = self.as_reply(behaviour)
        await self.sleep(reply.delay_s)
        response = self.answer(body, reply)
        if streaming:
            return await self.stream(request, response)
        return web.json_response(response, headers={"x-request-id": REQUEST_ID})

    # -- the request, as the API checks it ----------------------------------------------

    def check(self, body: Any) -> HttpError | None:
        if not isinstance(body, dict) or not body.get("model"):
            return responses_error(400, "Missing required parameter: 'model'.", param="model")
        unknown = sorted(set(body) - PARAMETERS)
        if unknown:
            return responses_error(
                400,
                f"Unknown parameter: '{unknown[0]}'.",
                code="unknown_parameter",
                param=unknown[0],
            )
        bad_include = [i for i in body.get("include") or () if i not in INCLUDABLE]
        if bad_include:
            return responses_error(400, f"Invalid value: '{bad_include[0]}'.", param="include")
        for tool in body.get("tools") or ():
            if tool.get("type") not in TOOL_TYPES:
                return responses_error(400, f"Invalid tool type: '{tool.get('type')}'.")
            if tool["type"] == "function" and not tool.get("name"):
                return responses_error(400, "Missing required parameter: 'tools[0].name'.")
        context = list(self._previous(body) or [])
        if body.get("previous_response_id") and body["previous_response_id"] not in self.stored:
            return responses_error(
                404,
                f"Previous response with id '{body['previous_response_id']}' not found.",
                code="previous_response_not_found",
                param="previous_response_id",
            )
        items = body.get("input")
        items = [{"role": "user", "content": items}] if isinstance(items, str) else items or []
        for item in items:
            refused = self._check_item(item)
            if refused is not None:
                return refused
        refused = self._check_links(items, body.get("store", True) is not False)
        if refused is not None:
            return refused
        self.contexts.append(context + items)
        return None

    def _previous(self, body: dict[str, Any]) -> list[dict[str, Any]] | None:
        stored = self.stored.get(str(body.get("previous_response_id")))
        return None if stored is None else stored["input"] + stored["output"]

    @staticmethod
    def _check_item(item: Any) -> HttpError | None:
        if not isinstance(item, dict):
            return responses_error(400, "Invalid input item.", param="input")
        if "role" in item and item.get("type", "message") == "message" and "id" not in item:
            content = item.get("content")
            if item["role"] not in ("user", "assistant", "system", "developer"):
                return responses_error(400, f"Invalid role: '{item['role']}'.", param="input")
            if isinstance(content, list) and item["role"] != "assistant":
                kinds = {c.get("type") for c in content}
                if not kinds <= INPUT_CONTENT:
                    return responses_error(
                        400, f"Invalid content type: {sorted(kinds - INPUT_CONTENT)[0]}."
                    )
                for c in content:
                    if c["type"] == "input_file" and "file_data" in c and not c.get("filename"):
                        return responses_error(400, "Missing required parameter: 'filename'.")
            return None
        kind = item.get("type")
        if kind == "function_call_output" and not item.get("call_id"):
            return responses_error(400, "Missing required parameter: 'call_id'.", param="input")
        if kind == "message" and not item.get("id"):
            return responses_error(400, "Missing required parameter: 'id'.", param="input")
        return None

    def _check_links(self, items: list[dict[str, Any]], store: bool) -> HttpError | None:
        """A reasoning item needs its encrypted content where nothing is stored, and the
        item that followed it right after it; a function call that followed reasoning
        needs that reasoning item before it."""
        seen: set[str] = set()
        for i, item in enumerate(items):
            kind, item_id = item.get("type"), item.get("id")
            if kind == "reasoning":
                data = item.get("encrypted_content")
                if not data and not store:
                    return responses_error(
                        404,
                        f"Item with id '{item_id}' not found. Items are not persisted when "
                        "`store` is set to false. Try again with `store` set to true, or "
                        "remove this item from your input.",
                        param="input",
                    )
                link = decrypt_link(data) if data else None
                following = items[i + 1].get("id") if i + 1 < len(items) else None
                if link is not None and link["next"] is not None and link["next"] != following:
                    return responses_error(
                        400,
                        f"Item '{item_id}' of type 'reasoning' was provided without its "
                        "required following item.",
                        param="input",
                    )
                seen.add(str(item_id))
            elif kind == "function_call" and item_id in self.call_reasoning:
                needed = self.call_reasoning[item_id]
                if needed not in seen:
                    return responses_error(
                        400,
                        f"Item '{item_id}' of type 'function_call' was provided without its "
                        f"required 'reasoning' item: '{needed}'.",
                        param="input",
                    )
        return None

    @staticmethod
    def _echo(body: dict[str, Any]) -> str:
        items = body.get("input")
        if isinstance(items, str):
            return items
        for item in reversed(items or []):
            if item.get("role") == "user":
                content = item.get("content")
                if isinstance(content, str):
                    return content
                return " ".join(c.get("text", "") for c in content if c["type"] == "input_text")
        return "ok"

    # -- the answer -----------------------------------------------------------------------

    def answer(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        response_id = f"resp_fake_{next(self._ids):04d}"
        rendered = render_response(body, reply, response_id, self._ids)
        self.call_reasoning.update(rendered.call_reasoning)
        if body.get("store", True) is not False:
            self.stored[response_id] = {
                "input": self.contexts[-1] if self.contexts else [],
                "output": rendered.response["output"],
            }
        return rendered.response

    async def stream(self, request: web.Request, response: dict[str, Any]) -> web.StreamResponse:
        out = await self.open_sse(request, {"x-request-id": REQUEST_ID})
        w = EventWriter()
        events = opening_events(w, response)
        for index, item in enumerate(response["output"]):
            events += item_events(w, index, item)
        events.append(closing_event(w, response))
        for event in events:
            await out.write(sse(event))
        await out.write_eof()
        return out

    def wire(self, body: dict[str, Any]) -> StreamWire:
        """The stream faults: a message item whose text arrives in deltas."""
        head = render_response(body, Reply(text=""), "resp_fake_stream", self._ids).response
        w = EventWriter()
        message = {
            "type": "message",
            "id": "msg_fault",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        opener = [
            *opening_events(w, head),
            w.event("response.output_item.added", output_index=0, item=message),
            w.event(
                "response.content_part.added",
                output_index=0,
                item_id="msg_fault",
                content_index=0,
                part={"type": "output_text", "text": "", "annotations": []},
            ),
        ]

        def delta(text: str) -> bytes:
            return sse(
                w.event(
                    "response.output_text.delta",
                    output_index=0,
                    item_id="msg_fault",
                    content_index=0,
                    delta=text,
                )
            )

        def finish(reply: Reply) -> list[bytes]:
            final = render_response(body, reply, "resp_fake_stream", self._ids).response
            final["output"] = [
                {
                    **message,
                    "status": "completed",
                    "content": [
                        {"type": "output_text", "text": reply.text or "", "annotations": []}
                    ],
                }
            ]
            done = w.event("response.output_item.done", output_index=0, item=final["output"][0])
            return [sse(done), sse(closing_event(w, final))]

        return StreamWire(
            content_type="text/event-stream",
            opener=[sse(e) for e in opener],
            delta=delta,
            finish=finish,
            end=[],
            malformed=b'event: response.output_text.delta\ndata: {"type": "response.output_te\n\n',
        )

    async def broken(
        self,
        request: web.Request,
        body: dict[str, Any],
        behaviour: TruncatedStream | StreamErrorEvent,
    ) -> web.StreamResponse:
        wire = self.wire(body)
        head = wire.opener + [
            wire.delta(p) for p in split_text(behaviour.text, 6)[: behaviour.chunks]
        ]

        def error_event(err: Any) -> bytes:
            return sse({"type": "error", "sequence_number": 999, **err})

        return await self.broken_sse(
            request, behaviour, head, error_event, {"x-request-id": REQUEST_ID}
        )

    async def slow(
        self, request: web.Request, body: dict[str, Any], slow: SlowStream
    ) -> web.StreamResponse:
        wire = self.wire(body)
        out = await self.open_sse(request)
        for event in wire.opener:
            await out.write(event)
        await self.write_slowly(
            out, [wire.delta(slow.piece) for _ in range(slow.chunks)], slow.interval_s
        )
        for event in wire.finish(Reply(text=slow.piece * slow.chunks)):
            await out.write(event)
        await out.write_eof()
        return out
