"""The Responses API's typed stream events as stream parts.

`response.created` (and `in_progress`, `queued`) name the response; items open with
`response.output_item.added` and close with `response.output_item.done`; their content
streams as `response.output_text.delta`, `response.refusal.delta`,
`response.reasoning_summary_text.delta`, `response.reasoning_text.delta` and
`response.function_call_arguments.delta` (each `*.done` event repeats the whole, used
when no delta came); `response.completed` or `response.incomplete` end the stream with the
usage, `response.failed` and `error` with an error. Server-tool progress events
(`response.web_search_call.searching`, ...) and event types added later are skipped: a
server tool's item arrives whole with its `output_item.done`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .base import StreamPart
from .delta import Delta
from .http import Malformed
from .openai_responses_items import OutputAssembler, finish_reason, parse_usage

if TYPE_CHECKING:
    from .openai_responses import OpenAIResponsesAdapter

START_EVENTS = frozenset({"response.created", "response.in_progress", "response.queued"})
END_EVENTS = frozenset({"response.completed", "response.incomplete"})


class ResponsesStreamParser:
    """Feeds the typed events, in order, to an OutputAssembler; `done` once the stream's
    terminal event came."""

    def __init__(self, adapter: OpenAIResponsesAdapter, model: str, req_id: str | None) -> None:
        self.adapter = adapter
        self.model = model
        self.request_id = req_id
        self.out = OutputAssembler()
        self.done = False
        self.finished_items: set[int] = set()
        self._handlers: dict[str, Callable[[dict[str, Any], int], list[Delta]]] = {
            "response.output_item.added": self._item_added,
            "response.output_item.done": self._item_done,
            "response.content_part.added": self._part_added,
            "response.output_text.delta": lambda e, i: self.out.text(
                i, _text(e, "delta"), e.get("logprobs")
            ),
            "response.output_text.done": lambda e, i: self.out.text_done(
                i, "text", _text(e, "text"), _item_id(e)
            ),
            "response.refusal.delta": lambda e, i: self.out.refusal(i, _text(e, "delta")),
            "response.refusal.done": lambda e, i: self.out.text_done(
                i, "refusal", _text(e, "refusal"), None
            ),
            "response.reasoning_summary_text.delta": lambda e, i: self.out.reasoning(
                i, ("summary", e.get("summary_index", 0)), _text(e, "delta")
            ),
            "response.reasoning_summary_text.done": lambda e, i: self._segment_done(
                i, ("summary", e.get("summary_index", 0)), _text(e, "text")
            ),
            "response.reasoning_text.delta": lambda e, i: self.out.reasoning(
                i, ("text", e.get("content_index", 0)), _text(e, "delta")
            ),
            "response.reasoning_text.done": lambda e, i: self._segment_done(
                i, ("text", e.get("content_index", 0)), _text(e, "text")
            ),
            "response.function_call_arguments.delta": lambda e, i: self.out.call_args(
                i, _text(e, "delta")
            ),
            "response.function_call_arguments.done": self._arguments_done,
        }

    def feed(self, event: Any) -> list[StreamPart]:
        if isinstance(event, Malformed) or not isinstance(event, dict):
            return [StreamPart(malformed=1)]  # skipped, counted: the rest still flows
        kind = event.get("type")
        if kind == "error":
            raise self.adapter.stream_error(event, self.model)
        response = event.get("response")
        response = response if isinstance(response, dict) else {}
        if kind == "response.failed":
            raise self.adapter.failed(response, self.model)
        if kind in START_EVENTS:
            return [self._named(StreamPart(), response)]
        if kind in END_EVENTS:
            self.done = True
            parts = [self._part(d) for d in self._backfill(response)]
            end = StreamPart(
                finish_reason=finish_reason(response, self.out.has_calls),
                usage=parse_usage(response.get("usage")),
            )
            return [*parts, self._named(end, response)]
        handler = self._handlers.get(str(kind))
        if handler is None:  # progress events, annotations, event types added later
            return []
        index = event.get("output_index", 0)
        return [self._part(d) for d in handler(event, index if isinstance(index, int) else 0)]

    def _part(self, delta: Delta) -> StreamPart:
        part = StreamPart(delta=delta, request_id=self.request_id)
        self.request_id = None
        return part

    def _named(self, part: StreamPart, response: dict[str, Any]) -> StreamPart:
        part.model = _str(response.get("model"))
        part.response_id = _str(response.get("id"))
        part.request_id, self.request_id = self.request_id, None
        return part

    def _item_added(self, event: dict[str, Any], index: int) -> list[Delta]:
        item = event.get("item")
        if not isinstance(item, dict) or item.get("type") != "function_call":
            return []
        return self.out.call_start(
            index, _str(item.get("call_id")), _str(item.get("name")), _str(item.get("id"))
        )

    def _item_done(self, event: dict[str, Any], index: int) -> list[Delta]:
        item = event.get("item")
        if not isinstance(item, dict):
            return []
        self.finished_items.add(index)
        return self.out.item_done(index, item)

    def _backfill(self, response: dict[str, Any]) -> list[Delta]:
        """The final response's items whose `output_item.done` never came (the server
        skipped it): what of them was not streamed, at the end."""
        deltas: list[Delta] = []
        output = response.get("output")
        for index, item in enumerate(output if isinstance(output, list) else ()):
            if index not in self.finished_items and isinstance(item, dict):
                self.finished_items.add(index)
                deltas += self.out.item_done(index, item)
        return deltas

    def _part_added(self, event: dict[str, Any], index: int) -> list[Delta]:
        part = event.get("part")
        if isinstance(part, dict) and part.get("type") == "output_text":
            return self.out.text_start(index, _item_id(event))
        return []

    def _segment_done(self, index: int, segment: Any, whole: str) -> list[Delta]:
        if segment in self.out.segments.get(index, ()):
            return []
        return self.out.reasoning(index, segment, whole)

    def _arguments_done(self, event: dict[str, Any], index: int) -> list[Delta]:
        if index in self.out.args_sent:
            return []
        return self.out.call_args(index, _text(event, "arguments"))


def _text(event: dict[str, Any], key: str) -> str:
    value = event.get(key)
    return value if isinstance(value, str) else ""


def _item_id(event: dict[str, Any]) -> str | None:
    return _str(event.get("item_id"))


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
