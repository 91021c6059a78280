"""An adapter passed to the gateway serves the calls of its wire protocol: the relay holds,
bills and logs what it answers, as for any upstream."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.protocols.fields import Dropped
from gatewayz.providers.base import EventStream, UpstreamReply
from gatewayz.providers.capabilities import Adapter
from gatewayz.providers.sse import Batch
from gatewayz.providers.table import Provider
from gatewayz.store.tables import request_logs
from tests.conftest import FAKE_PRICES, add_funded_user, gateway_settings, serve, settle_now
from tests.fakes.openai_upstream import FakeOpenAIUpstream

CHAT = {"model": "fake/fake-model", "messages": [{"role": "user", "content": "hi"}]}
USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
COST = 3 * 2_000 + 2 * 8_000  # at the fake model's prices: 2 and 8 credits a million tokens


def _chunk(delta: dict[str, Any], usage: dict[str, int] | None = None) -> bytes:
    choices = [{"index": 0, "delta": delta, "finish_reason": None if delta else "stop"}]
    chunk = {"id": "chatcmpl-echo", "object": "chat.completion.chunk", "choices": choices}
    return orjson.dumps({**chunk, "usage": usage} if usage else chunk)


class _Batches:
    """A stream of the given batches of events."""

    def __init__(self, batches: list[Batch]) -> None:
        self._batches = iter(batches)

    def __aiter__(self) -> AsyncIterator[Batch]:
        return self

    async def __anext__(self) -> Batch:
        try:
            return next(self._batches)
        except StopIteration:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        return None


class _Echo:
    """A chat adapter that answers "echo" itself, reporting 3 tokens in and 2 out."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    async def chat(
        self, provider: Provider, body: dict[str, Any], dropped: Dropped | None = None
    ) -> UpstreamReply:
        self.bodies.append(body)
        message = {"role": "assistant", "content": "echo"}
        data = {
            "id": "chatcmpl-echo",
            "object": "chat.completion",
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": USAGE,
        }
        return UpstreamReply(orjson.dumps(data), data)

    async def chat_stream(
        self, provider: Provider, body: dict[str, Any], dropped: Dropped | None = None
    ) -> EventStream:
        self.bodies.append(body)
        return _Batches(
            [
                [(None, _chunk({"role": "assistant", "content": "echo"}))],
                [(None, _chunk({})), (None, _chunk({}, USAGE))],
            ]
        )


async def test_an_adapter_double_serves_and_is_billed_like_an_upstream(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    _, key = await add_funded_user(engine, "dev@example.com", "10")
    echo = _Echo()
    settings = gateway_settings(database_url, upstream)
    async with serve(settings, adapters={"openai": Adapter(chat=echo)}) as (base_url, state):
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers) as http:
            answer = await http.post("/v1/chat/completions", json=CHAT)
            streamed = await http.post("/v1/chat/completions", json={**CHAT, "stream": True})
        await settle_now(state)
    assert answer.status_code == 200
    assert answer.json()["choices"][0]["message"]["content"] == "echo"
    assert answer.headers["x-gatewayz-provider"] == "fake"
    assert streamed.status_code == 200
    assert '"content":"echo"' in streamed.text
    assert streamed.text.endswith("data: [DONE]\n\n")
    assert [body["model"] for body in echo.bodies] == ["fake-model", "fake-model"]
    assert upstream.requests == []  # the double served both calls
    async with engine.connect() as conn:
        logged = (
            await conn.execute(select(request_logs.c.stream, request_logs.c.cost_units))
        ).all()
    assert sorted(logged) == [(False, COST), (True, COST)]


async def test_a_model_whose_adapter_lacks_its_capability_is_left_out_and_named(
    database_url: str,
    engine: AsyncEngine,
    upstream: FakeOpenAIUpstream,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, key = await add_funded_user(engine, "dev@example.com", "10")
    embeds = {"id": "fake-embed", "type": "embeddings", **FAKE_PRICES}
    fake = {"name": "fake", "protocol": "openai", "base_url": upstream.base_url}
    provider = {**fake, "api_key": upstream.api_key, "models": [embeds]}
    settings = gateway_settings(database_url, upstream, providers=[provider])
    async with serve(settings, adapters={"openai": Adapter(chat=_Echo())}) as (base_url, _):
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers) as http:
            answer = await http.post(
                "/v1/embeddings", json={"model": "fake/fake-embed", "input": "hi"}
            )
    assert answer.status_code == 400
    assert "does not serve" in answer.json()["error"]["message"]
    assert upstream.requests == []
    assert "does not serve embeddings models: fake/fake-embed is left out" in caplog.text
