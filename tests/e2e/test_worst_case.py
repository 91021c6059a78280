"""The credit hold is a true bound on what a chat completion can cost: the output limit held is
the one sent upstream (also when the client sent none), times `n`, with images and tools in the
input counted; a call whose worst case the balance cannot cover is refused with 402 before
anything is sent, and limits out of range are 400s naming the field."""

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import orjson
import pytest

from gatewayz.settings import Settings
from tests.e2e.conftest import Stack, e2e_settings, running_stack, with_fake_models
from tests.e2e.support import HI, TOOLS, Caller, assert_openai_error, cost_units
from tests.fakes.openai_upstream import FakeOpenAIUpstream

CHAT = "/v1/chat/completions"
DEFAULT_LIMIT = 4096  # GATEWAYZ_DEFAULT_MAX_OUTPUT_TOKENS when the operator sets nothing
CAPPED_LIMIT = 300  # max_output_tokens of fake-capped below
IMAGE_TOKENS = 8000  # GATEWAYZ_IMAGE_INPUT_TOKENS when the operator sets nothing
TOOLS_TOKENS = 1000  # GATEWAYZ_TOOLS_INPUT_TOKENS when the operator sets nothing
IMAGE_PART = {"type": "image_url", "image_url": {"url": "https://images.example/cat.png"}}


def _settings(url: str, upstream: FakeOpenAIUpstream) -> Settings:
    capped = {"max_output_tokens": CAPPED_LIMIT}
    return with_fake_models(e2e_settings(url, upstream), **{"fake-capped": capped})


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """The e2e gateway, plus `fake-capped`: a model whose row sets max_output_tokens."""
    async with running_stack(request.param, tmp_path_factory.mktemp("bound"), _settings) as made:
        yield made


def held(body: bytes, output_tokens: int, *, images: int = 0, tools: bool = False) -> int:
    """The documented worst case at the fake's prices: a token per request byte, a bound per
    image part, a fixed overhead when tools are declared, and the output limit held."""
    input_tokens = len(body) + images * IMAGE_TOKENS + (TOOLS_TOKENS if tools else 0)
    return cost_units(input_tokens, output_tokens)


def credits(units: int) -> str:
    return f"{Decimal(units).scaleb(-9).normalize():f}"


def chat_body(model: str = "fake-model", **fields: Any) -> bytes:
    return orjson.dumps({"model": model, "messages": HI, **fields})


async def post(caller: Caller, body: bytes) -> Any:
    async with caller.http() as http:
        return await http.post(CHAT, content=body, headers={"content-type": "application/json"})


def sent(stack: Stack) -> dict[str, Any]:
    """The body of the last chat completion the fake upstream received."""
    body = stack.upstream.requests[-1].json
    assert isinstance(body, dict)
    return body


async def test_an_unaffordable_n_is_refused_before_anything_is_sent(stack: Stack) -> None:
    poor = await stack.caller(credits="1")
    body = chat_body(n=64)  # 64 answers of up to 4096 tokens each: about 2.1 credits
    before = len(stack.upstream.requests)
    response = await post(poor, body)
    error = assert_openai_error(response, 402)
    assert f"may cost up to {credits(held(body, 64 * DEFAULT_LIMIT))} credits" in error["message"]
    assert len(stack.upstream.requests) == before, "nothing was sent upstream"
    await poor.assert_books(calls=0, charged=0)


async def test_n_multiplies_the_output_limit_held(stack: Stack) -> None:
    two, three = chat_body(n=2, max_tokens=1000), chat_body(n=3, max_tokens=1000)
    caller = await stack.caller(credits=credits(held(three, 3000) - 1))
    assert (await post(caller, two)).status_code == 200
    assert (sent(stack)["n"], sent(stack)["max_tokens"]) == (2, 1000)
    await caller.logs(1)
    before = len(stack.upstream.requests)
    error = assert_openai_error(await post(caller, three), 402)
    assert f"may cost up to {credits(held(three, 3000))} credits" in error["message"]
    assert len(stack.upstream.requests) == before


@pytest.mark.parametrize("stream", [False, True])
async def test_without_a_limit_the_held_limit_is_sent_upstream(
    stack: Stack, caller: Caller, stream: bool
) -> None:
    assert (await post(caller, chat_body(stream=stream))).status_code == 200
    assert sent(stack)["max_tokens"] == DEFAULT_LIMIT
    assert "max_completion_tokens" not in sent(stack)
    assert (await post(caller, chat_body("fake-capped", stream=stream))).status_code == 200
    assert sent(stack)["max_tokens"] == CAPPED_LIMIT
    await caller.logs(2)


async def test_the_held_limit_is_sent_as_the_field_the_client_used(
    stack: Stack, caller: Caller
) -> None:
    assert (await post(caller, chat_body(max_completion_tokens=700))).status_code == 200
    assert sent(stack)["max_completion_tokens"] == 700
    assert "max_tokens" not in sent(stack)
    await caller.logs(1)


async def test_with_both_limits_the_smaller_is_held_and_sent(stack: Stack) -> None:
    body = chat_body(max_tokens=50, max_completion_tokens=700)
    # Enough for 50 output tokens, not for 700.
    caller = await stack.caller(credits=credits(held(body, 50) + 1000))
    assert (await post(caller, body)).status_code == 200
    assert sent(stack)["max_completion_tokens"] == 50
    assert "max_tokens" not in sent(stack)
    await caller.logs(1)


async def test_an_image_part_raises_the_hold(stack: Stack) -> None:
    text = chat_body(max_tokens=10)
    picture = orjson.dumps(
        {
            "model": "fake-model",
            "max_tokens": 10,
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "what?"}, IMAGE_PART]}
            ],
        }
    )
    caller = await stack.caller(credits=credits(held(picture, 10, images=1) - 1))
    assert (await post(caller, text)).status_code == 200
    await caller.logs(1)
    before = len(stack.upstream.requests)
    error = assert_openai_error(await post(caller, picture), 402)
    assert f"may cost up to {credits(held(picture, 10, images=1))} credits" in error["message"]
    assert len(stack.upstream.requests) == before


async def test_declared_tools_raise_the_hold(stack: Stack) -> None:
    plain, with_tools = chat_body(max_tokens=10), chat_body(max_tokens=10, tools=TOOLS)
    caller = await stack.caller(credits=credits(held(with_tools, 10, tools=True) - 1))
    assert (await post(caller, plain)).status_code == 200
    await caller.logs(1)
    error = assert_openai_error(await post(caller, with_tools), 402)
    assert f"may cost up to {credits(held(with_tools, 10, tools=True))} credits" in error["message"]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"max_tokens": 10**18}, "max_tokens"),
        ({"max_tokens": 10_000_001}, "max_tokens"),
        ({"max_completion_tokens": 10**18}, "max_completion_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"n": 0}, "n"),
        ({"n": 129}, "n"),
        ({"n": 10**18}, "n"),
        ({"n": "2"}, "n"),
        ({"n": True}, "n"),
    ],
)
async def test_limits_out_of_range_are_400s_naming_the_field(
    stack: Stack, caller: Caller, fields: dict[str, Any], param: str
) -> None:
    before = len(stack.upstream.requests)
    error = assert_openai_error(await post(caller, chat_body(**fields)), 400)
    assert error["param"] == param
    assert param in error["message"]
    assert len(stack.upstream.requests) == before
    await caller.assert_books(calls=0, charged=0)
