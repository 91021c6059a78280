"""Streamed Gemini GenerateContentResponses as OpenAI chat.completion.chunk objects."""

import time
from collections.abc import Callable

from gatewayz.protocols.checks import Json
from gatewayz.protocols.gemini.call_ids import new_call_id
from gatewayz.protocols.gemini.response import (
    candidate_output,
    candidate_thoughts,
    chat_usage,
    finish_reason,
    prompt_blocked,
)


class GeminiStreamToChat:
    """Streamed GenerateContentResponses in, OpenAI chat.completion.chunk dicts out; with
    `single_call` (the client's `parallel_tool_calls: false`) each choice keeps its first
    function call only."""

    def __init__(
        self,
        model: str,
        chunk_id: str,
        include_usage: bool,
        tool_call_ids: Callable[[], str] | None = None,
        single_call: bool = False,
    ) -> None:
        self._single_call = single_call
        self._model = model
        self._id = chunk_id
        self._include_usage = include_usage
        self._new_id = tool_call_ids or new_call_id
        self._created = int(time.time())
        self._started: set[int] = set()
        self._calls: dict[int, int] = {}
        self._usage: Json | None = None

    @property
    def usage(self) -> tuple[int, int] | None:
        """(prompt, completion) tokens from the latest usageMetadata, None before any."""
        if self._usage is None:
            return None
        return self._usage["prompt_tokens"], self._usage["completion_tokens"]

    def feed(self, resp: Json) -> list[Json]:
        """The chunks for one streamed GenerateContentResponse."""
        usage = chat_usage(resp.get("usageMetadata"))
        if usage is not None:
            self._usage = usage
        if prompt_blocked(resp):
            return [self._chunk(0, {}, "content_filter")]
        chunks: list[Json] = []
        for position, candidate in enumerate(resp.get("candidates") or ()):
            index = candidate.get("index", position)
            text, calls = candidate_output(candidate, self._new_id)
            delta: Json = {"content": text} if text else {}
            thoughts = candidate_thoughts(candidate)
            if thoughts:  # as OpenAI-compatible reasoning models stream them
                delta = {"reasoning_content": thoughts, **delta}
            if calls and self._single_call:
                calls = [] if self._calls.get(index) else calls[:1]
            if calls:
                sent = self._calls.get(index, 0)
                delta["tool_calls"] = [{"index": sent + k, **call} for k, call in enumerate(calls)]
                self._calls[index] = sent + len(calls)
            reason = candidate.get("finishReason")
            finish = finish_reason(reason, index in self._calls) if reason else None
            if delta or finish or index not in self._started:
                chunks.append(self._chunk(index, delta, finish))
        return chunks

    def finish(self) -> list[Json]:
        """The trailing usage chunk, when the client asked for usage and the upstream sent it."""
        if not self._include_usage or self._usage is None:
            return []
        return [{**self._envelope([]), "usage": self._usage}]

    def _chunk(self, index: int, delta: Json, finish: str | None) -> Json:
        """One chunk for one choice; the choice's first delta carries the role."""
        if index not in self._started:
            self._started.add(index)
            delta = {"role": "assistant", **delta}
        choice = {"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}
        chunk = self._envelope([choice])
        if self._include_usage:
            chunk["usage"] = None
        return chunk

    def _envelope(self, choices: list[Json]) -> Json:
        """The fields every chunk of this stream shares."""
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": choices,
        }
