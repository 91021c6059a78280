"""The built-in demo provider: a model served by the gateway itself, in the OpenAI wire format,
so a new gateway answers its first request with no upstream key and no network.

Calls to it take the whole real path (auth, rate limits, credit holds, settlement, request
log, metrics); only the upstream is local. Its models cost 0 credits. It is on unless the
operator sets `GATEWAYZ_DEMO_PROVIDER=false`.
"""

import asyncio
import base64
import secrets
import struct
import time
from typing import Any

import orjson

from gatewayz.protocols.fields import Dropped
from gatewayz.providers import demo_model
from gatewayz.providers.base import UpstreamReply
from gatewayz.providers.spec import ModelSpec, ProviderSpec
from gatewayz.providers.sse import Batch
from gatewayz.providers.table import Provider

NAME = "demo"
CHAT_MODEL = "demo-chat"
EMBEDDING_MODEL = "demo-embed"
_DIMENSIONS = 256
_FREE = {"input_price_per_mtok": 0, "output_price_per_mtok": 0}

SPEC = ProviderSpec(
    name=NAME,
    display_name="Gatewayz demo",
    protocol="demo",
    base_url="http://demo.gatewayz.invalid",
    auth="none",
    models_path=None,
    docs="Answers on the gateway itself with deterministic text; free.",
    models=(
        ModelSpec(
            id=CHAT_MODEL,
            name="Gatewayz demo chat",
            context_length=32_768,
            max_output_tokens=1_024,
            **_FREE,
        ),
        ModelSpec(id=EMBEDDING_MODEL, type="embeddings", name="Gatewayz demo embeddings", **_FREE),
    ),
)


def demo_provider() -> Provider:
    return Provider(spec=SPEC, base_url=SPEC.base_url, api_key=None)


class DemoAdapter:
    """Chat completions (streamed too) and embeddings, answered in process."""

    async def chat(
        self, provider: Provider, body: dict[str, Any], dropped: Dropped | None = None
    ) -> UpstreamReply:
        reply = _Reply(body)
        data = reply.completion()
        return UpstreamReply(orjson.dumps(data), data)

    async def chat_stream(
        self, provider: Provider, body: dict[str, Any], dropped: Dropped | None = None
    ) -> "DemoStream":
        return DemoStream(_Reply(body).chunks())

    async def embeddings(self, provider: Provider, body: dict[str, Any]) -> UpstreamReply:
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else list(texts or [])
        dimensions = body.get("dimensions")
        size = dimensions if isinstance(dimensions, int) and 0 < dimensions <= 4096 else _DIMENSIONS
        items = []
        for index, text in enumerate(texts):
            vector: Any = demo_model.embedding(str(text), size)
            if body.get("encoding_format") == "base64":
                vector = base64.b64encode(struct.pack(f"<{size}f", *vector)).decode()
            items.append({"object": "embedding", "index": index, "embedding": vector})
        tokens = sum(demo_model.count_tokens(str(text)) for text in texts)
        data = {
            "object": "list",
            "data": items,
            "model": body.get("model"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return UpstreamReply(orjson.dumps(data), data)


class DemoStream:
    """The chunks of one demo reply, one event per batch (as an upstream streams them)."""

    def __init__(self, chunks: list[dict[str, Any]]) -> None:
        self._chunks = iter(chunks)

    def __aiter__(self) -> "DemoStream":
        return self

    async def __anext__(self) -> Batch:
        chunk = next(self._chunks, None)
        if chunk is None:
            raise StopAsyncIteration
        await asyncio.sleep(0)
        return [(None, orjson.dumps(chunk))]

    async def aclose(self) -> None:
        self._chunks = iter(())


class _Reply:
    """One request's answer in both shapes: a chat.completion and its chunks."""

    def __init__(self, body: dict[str, Any]) -> None:
        self._body = body
        self._id = "chatcmpl-demo" + secrets.token_hex(8)
        self._created = int(time.time())
        count = body.get("n")
        self._n = count if isinstance(count, int) and 1 <= count <= 128 else 1
        self._answer = demo_model.answer(body)

    def _usage(self) -> dict[str, int]:
        prompt = demo_model.prompt_tokens(self._body)
        completion = self._answer.tokens * self._n
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def _envelope(self, kind: str) -> dict[str, Any]:
        return {
            "id": self._id,
            "object": kind,
            "created": self._created,
            "model": self._body.get("model"),
            "system_fingerprint": "fp_gatewayz_demo",
        }

    def completion(self) -> dict[str, Any]:
        answer = self._answer
        message: dict[str, Any] = {"role": "assistant", "content": answer.text, "refusal": None}
        if answer.tool_call is not None:
            message["tool_calls"] = [_tool_call(answer.tool_call)]
        choices = [
            {
                "index": i,
                "message": message,
                "logprobs": None,
                "finish_reason": answer.finish_reason,
            }
            for i in range(self._n)
        ]
        return {**self._envelope("chat.completion"), "choices": choices, "usage": self._usage()}

    def chunks(self) -> list[dict[str, Any]]:
        chunks = []
        for index in range(self._n):
            chunks += [self._chunk(index, delta) for delta in self._deltas()]
            chunks.append(self._chunk(index, {}, self._answer.finish_reason))
        options = self._body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            chunks.append(
                {**self._envelope("chat.completion.chunk"), "choices": [], "usage": self._usage()}
            )
        return chunks

    def _deltas(self) -> list[dict[str, Any]]:
        call = self._answer.tool_call
        if call is not None:
            first = {**_tool_call(call), "index": 0}
            first["function"] = {"name": call.name, "arguments": ""}
            fragments = [
                {"index": 0, "function": {"arguments": piece}}
                for piece in demo_model.pieces(call.arguments)
            ]
            return [{"role": "assistant", "content": None, "tool_calls": [first]}] + [
                {"tool_calls": [fragment]} for fragment in fragments
            ]
        words = demo_model.pieces(self._answer.text or "")
        return [{"role": "assistant", "content": ""}] + [{"content": word} for word in words]

    def _chunk(
        self, index: int, delta: dict[str, Any], finish_reason: str | None = None
    ) -> dict[str, Any]:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**self._envelope("chat.completion.chunk"), "choices": [choice]}


def _tool_call(call: demo_model.ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }
