"""Prompt caching, priced exactly: an upstream's cache reads and writes reach the client in its
own format (OpenAI `prompt_tokens_details.cached_tokens`, Anthropic `cache_read_input_tokens` /
`cache_creation_input_tokens`, Responses `input_tokens_details`), and each kind of input token
is charged once at its own price, streamed exactly as unstreamed, through every client API and
every upstream format.

The conversation is the same in every format: a system prompt (`SYSTEM`, 40 words) the
upstreams report as read from their cache, a first user message (`FIRST`, 30 words) they report
as written to it (Anthropic: half of it, 15 words, for an hour), then a short exchange
(`PLAIN_WORDS` words) that is plain input. Gemini reports its cache reads only (it bills no
writes per call): its first message is plain input too. See each fake's ``*-cached`` model.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anthropic
import orjson
import pytest

from tests.e2e.multi_stack import PRICES, MultiStack, multi_stack
from tests.e2e.support import Caller

SYSTEM = " ".join(f"rule{i}" for i in range(40))
FIRST = " ".join(f"fact{i}" for i in range(30))
REPLY_WORDS = 5  # "This is a fake reply."
TURNS = [
    {"role": "user", "content": FIRST},
    {"role": "assistant", "content": "Noted."},
    {"role": "user", "content": "say hi please"},
]
READ_WORDS, WRITE_WORDS, PLAIN_WORDS = 40, 30, 4

# Cache prices per million tokens, at 0.1x, 1.25x and 2x each provider's input price (the
# input and output prices are multi_stack's).
CACHE_FACTORS = {"read": Decimal("0.1"), "write": Decimal("1.25"), "write_1h": Decimal(2)}
CACHED_MODELS = {
    "fake": "fake-cached",
    "claude": "claude-cached",
    "gem": "gemini-cached",
    "oresp": "resp-cached",
}


def _cache_prices(provider: str) -> dict[str, str]:
    price_in = Decimal(PRICES[provider][0])
    return {
        f"cache_{kind}_price_per_mtok": str(price_in * factor)
        for kind, factor in CACHE_FACTORS.items()
    }


@dataclass(frozen=True)
class Tokens:
    """What an upstream reports for the conversation, by kind."""

    plain: int
    read: int
    write_5m: int
    write_1h: int
    output: int = REPLY_WORDS

    @property
    def written(self) -> int:
        return self.write_5m + self.write_1h

    @property
    def total_input(self) -> int:
        return self.plain + self.read + self.written


TOKENS = {
    "fake": Tokens(PLAIN_WORDS, READ_WORDS, WRITE_WORDS, 0),
    "claude": Tokens(PLAIN_WORDS, READ_WORDS, WRITE_WORDS - 15, 15),
    "gem": Tokens(PLAIN_WORDS + WRITE_WORDS, READ_WORDS, 0, 0),
    "oresp": Tokens(PLAIN_WORDS, READ_WORDS, WRITE_WORDS, 0),
}


def expected_cost(provider: str) -> int:
    """Units (1e-9 credit) the call must cost, computed here from the prices: each kind of
    token at its own price, once."""
    price_in, price_out = (Decimal(p) for p in PRICES[provider])
    tokens = TOKENS[provider]
    per_mtok = (
        tokens.plain * price_in
        + tokens.read * price_in * CACHE_FACTORS["read"]
        + tokens.write_5m * price_in * CACHE_FACTORS["write"]
        + tokens.write_1h * price_in * CACHE_FACTORS["write_1h"]
        + tokens.output * price_out
    )
    units = per_mtok * 1000  # 10^9 units per credit / 10^6 tokens per million
    assert units == int(units)
    return int(units)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MultiStack]:
    extra: dict[str, list[Any]] = {
        provider: [{"id": model, **_cache_prices(provider)}]
        for provider, model in CACHED_MODELS.items()
    }
    # The same upstream model on a row without cache prices.
    price_in, price_out = PRICES["fake"]
    plain = {"input_price_per_mtok": str(price_in), "output_price_per_mtok": str(price_out)}
    extra["fake-open"] = [{"id": "fake-cached", **plain}]
    async with multi_stack(request.param, tmp_path_factory.mktemp("cache"), extra) as stack:
        yield stack


@pytest.fixture
async def caller(stack: MultiStack) -> Caller:
    return await stack.caller()


def _model(provider: str) -> str:
    return f"{provider}/{CACHED_MODELS[provider]}"


def claude(caller: Caller) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=caller.base_url, api_key=caller.api_key, max_retries=0, timeout=20
    )


async def _chat(caller: Caller, provider: str, stream: bool) -> dict[str, Any]:
    """The usage an OpenAI chat client sees."""
    messages = [{"role": "system", "content": SYSTEM}, *TURNS]
    client = caller.client()
    if not stream:
        answer = await client.chat.completions.create(model=_model(provider), messages=messages)
        return answer.usage.model_dump()
    chunks = await client.chat.completions.create(
        model=_model(provider),
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
    )
    usages = [chunk.usage async for chunk in chunks if chunk.usage is not None]
    assert len(usages) == 1, "one usage chunk, at the end"
    return usages[0].model_dump()


async def _messages(caller: Caller, provider: str, stream: bool) -> dict[str, Any]:
    """The usage an Anthropic client sees (streamed: as the SDK accumulates it)."""
    options: dict[str, Any] = {
        "model": _model(provider),
        "max_tokens": 200,
        "system": SYSTEM,
        "messages": TURNS,
    }
    if not stream:
        message = await claude(caller).messages.create(**options)
        return message.usage.model_dump()
    async with claude(caller).messages.stream(**options) as events:
        message = await events.get_final_message()
    return message.usage.model_dump()


async def _responses(caller: Caller, provider: str, stream: bool) -> dict[str, Any]:
    """The usage a Responses client sees (streamed: in response.completed)."""
    client = caller.client()
    options: dict[str, Any] = {"model": _model(provider), "instructions": SYSTEM, "input": TURNS}
    if not stream:
        response = await client.responses.create(**options)
        assert response.usage is not None
        return response.usage.model_dump()
    events = await client.responses.create(**options, stream=True)
    done = [event async for event in events if event.type == "response.completed"]
    assert len(done) == 1 and done[0].response.usage is not None
    return done[0].response.usage.model_dump()


def _check_chat(usage: dict[str, Any], tokens: Tokens) -> None:
    assert usage["prompt_tokens"] == tokens.total_input, "cache tokens are inside prompt_tokens"
    assert usage["completion_tokens"] == tokens.output
    details = usage["prompt_tokens_details"]
    assert details["cached_tokens"] == tokens.read
    assert (details.get("cache_write_tokens") or 0) == tokens.written


def _check_messages(usage: dict[str, Any], tokens: Tokens) -> None:
    assert usage["input_tokens"] == tokens.plain, "cache tokens are beside input_tokens"
    assert usage["output_tokens"] == tokens.output
    assert usage["cache_read_input_tokens"] == tokens.read
    assert (usage.get("cache_creation_input_tokens") or 0) == tokens.written


def _check_responses(usage: dict[str, Any], tokens: Tokens) -> None:
    assert usage["input_tokens"] == tokens.total_input, "cache tokens are inside input_tokens"
    assert usage["output_tokens"] == tokens.output
    details = usage["input_tokens_details"]
    assert details["cached_tokens"] == tokens.read
    assert (details.get("cache_write_tokens") or 0) == tokens.written


CLIENTS = {
    "chat": (_chat, _check_chat),
    "messages": (_messages, _check_messages),
    "responses": (_responses, _check_responses),
}
CASES = [
    ("chat", "fake"),
    ("chat", "claude"),
    ("chat", "gem"),
    ("messages", "fake"),
    ("messages", "claude"),
    ("messages", "gem"),
    ("responses", "fake"),
    ("responses", "claude"),
    ("responses", "gem"),
    ("responses", "oresp"),
]


@pytest.mark.parametrize(("api", "provider"), CASES)
async def test_a_cache_hit_is_charged_exactly_and_streamed_as_unstreamed(
    caller: Caller, api: str, provider: str
) -> None:
    call, check = CLIENTS[api]
    unary = await call(caller, provider, stream=False)
    streamed = await call(caller, provider, stream=True)
    check(unary, TOKENS[provider])
    check(streamed, TOKENS[provider])
    cost = expected_cost(provider)
    logs = await caller.assert_books(calls=2, charged=2 * cost)
    assert [log["cost_units"] for log in logs] == [cost, cost]
    assert [log["stream"] for log in logs] == [False, True]
    assert [log["input_tokens"] for log in logs] == [TOKENS[provider].total_input] * 2
    assert [log["cache_read_tokens"] for log in logs] == [TOKENS[provider].read] * 2
    assert [log["cache_write_tokens"] for log in logs] == [TOKENS[provider].written] * 2
    assert not any(log["usage_estimated"] for log in logs)


async def test_without_cache_prices_cache_tokens_cost_the_input_price(caller: Caller) -> None:
    """The same upstream answer, on a model row without cache prices: every input token costs
    the input price, as if there were no cache."""
    client = caller.client()
    messages = [{"role": "system", "content": SYSTEM}, *TURNS]
    answer = await client.chat.completions.create(model="fake-open/fake-cached", messages=messages)
    assert answer.usage is not None
    _check_chat(answer.usage.model_dump(), TOKENS["fake"])
    price_in, price_out = PRICES["fake"]
    tokens = TOKENS["fake"]
    cost = (tokens.total_input * price_in + tokens.output * price_out) * 1000
    await caller.assert_books(calls=1, charged=cost)


async def test_the_hold_prices_input_as_cache_writes_when_they_cost_more(
    stack: MultiStack,
) -> None:
    """Anthropic writes for an hour at twice the input price: a balance that covers the request
    at the input price, but not with every input token written for an hour, is refused before
    anything is sent (the upstream could bill that much)."""
    body = {"model": _model("claude"), "max_tokens": 200, "system": SYSTEM, "messages": TURNS}
    raw = orjson.dumps(body)
    price_in, price_out = PRICES["claude"]
    output = 200 * price_out * 1000
    at_input = len(raw) * price_in * 1000 + output
    at_hour_writes = len(raw) * price_in * 2 * 1000 + output
    balance = (at_input + at_hour_writes) // 2
    caller = await stack.caller(credits=str(Decimal(balance) / 10**9))
    sent = len(stack.anthropic.requests)
    async with caller.http() as http:
        refused = await http.post("/v1/messages", content=raw)
    assert refused.status_code == 402, refused.text
    assert len(stack.anthropic.requests) == sent, "nothing reached the upstream"
    await caller.assert_books(calls=0, charged=0)
