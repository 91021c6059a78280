"""The hold bounds the cost in every wire format: Anthropic Messages, the Responses API passed
through natively, and a Gemini-format upstream receive the output limit that was held (also
when the client sent none); images count in each format; limits out of range are 400s in the
caller's format; and an upstream billing past what it was sent (thinking included) is charged
in full, recorded as a shortfall, and refused with 402 until paid."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest

from gatewayz.billing import ledger
from tests.conftest import gateway_settings, serve
from tests.e2e.conftest import ONE_ATTEMPT, migrated_database
from tests.e2e.multi_stack import MultiStack, cost, providers
from tests.e2e.support import Caller, assert_openai_error
from tests.fakes.anthropic_upstream import FakeAnthropicUpstream
from tests.fakes.gemini_upstream import FakeGeminiUpstream
from tests.fakes.openai_upstream import OVERBILL_TOKENS, FakeOpenAIUpstream
from tests.fakes.responses_upstream import FakeResponsesUpstream

DEFAULT_LIMIT = 4096  # GATEWAYZ_DEFAULT_MAX_OUTPUT_TOKENS when the operator sets nothing
IMAGE_TOKENS = 8000  # GATEWAYZ_IMAGE_INPUT_TOKENS when the operator sets nothing
HI = [{"role": "user", "content": "say hi please"}]  # 3 words at every fake
JSON = {"content-type": "application/json"}
PNG = "iVBORw0KGgo="


@asynccontextmanager
async def overbilling_stack(database: str, tmp_dir: Any) -> AsyncIterator[MultiStack]:
    """tests/e2e/multi_stack.py's gateway with a `fake-overbill` model on every provider."""
    async with (
        migrated_database(database, tmp_dir) as (url, engine),
        FakeOpenAIUpstream() as openai,
        FakeAnthropicUpstream() as anthropic,
        FakeGeminiUpstream() as gemini,
        FakeResponsesUpstream() as responses,
    ):
        rows = providers(openai, anthropic, gemini, responses)
        for row in rows:
            first = row["models"][0]  # the row's prices
            prices = {k: first[k] for k in ("input_price_per_mtok", "output_price_per_mtok")}
            row["models"] = [*row["models"], {"id": "fake-overbill", **prices}]
        settings = gateway_settings(url, openai, providers=rows, routing=ONE_ATTEMPT)
        async with serve(settings) as (base_url, state):
            yield MultiStack(url, engine, openai, anthropic, gemini, responses, base_url, state)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MultiStack]:
    async with overbilling_stack(request.param, tmp_path_factory.mktemp("bound")) as stack:
        yield stack


def credits(units: int) -> str:
    return f"{Decimal(units).scaleb(-9).normalize():f}"


def held(provider: str, body: bytes, output_tokens: int, images: int = 0) -> int:
    """The documented worst case: a token per request byte, a bound per image, the output
    limit held, at the provider's prices."""
    return cost(provider, len(body) + images * IMAGE_TOKENS, output_tokens)


async def post(caller: Caller, path: str, body: dict[str, Any]) -> httpx.Response:
    async with caller.http() as http:
        return await http.post(path, content=orjson.dumps(body), headers=JSON)


def last(requests: list[Any]) -> dict[str, Any]:
    body = requests[-1].json
    assert isinstance(body, dict)
    return body


def anthropic_error(response: httpx.Response, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == kind
    return str(body["error"]["message"])


async def pay_and_retry(caller: Caller, path: str, body: dict[str, Any]) -> None:
    """The debt blocks the next call with 402 until a credit pays it; then calls work."""
    await ledger.change_credits(
        caller.engine,
        caller.user_id,
        20 * 10**9,
        kind="grant",
        reason="pays the debt",
        idempotency_key=f"test:debt:{caller.user_id}",
    )
    assert (await post(caller, path, body)).status_code == 200


async def assert_shortfall(caller: Caller, charged: int, hold: int) -> None:
    (log,) = await caller.logs(1)
    assert log["cost_units"] == charged
    (row,) = await caller.usage_rows()
    assert row["amount_units"] == -charged
    assert row["shortfall_units"] == charged - hold
    assert (await caller.user()).balance_units == caller.start_units - charged < 0


# --- Anthropic Messages ------------------------------------------------------------------


async def test_messages_shortfall_is_charged_and_refused_until_paid(stack: MultiStack) -> None:
    caller = await stack.caller(credits="1")
    body = {"model": "claude/fake-overbill", "max_tokens": 10, "messages": HI}
    assert (await post(caller, "/v1/messages", body)).status_code == 200
    assert last(stack.anthropic.requests)["max_tokens"] == 10
    charged = cost("claude", 3, OVERBILL_TOKENS)
    await assert_shortfall(caller, charged, held("claude", orjson.dumps(body), 10))
    ok = {"model": "claude/claude-fake", "max_tokens": 10, "messages": HI}
    refused = await post(caller, "/v1/messages", ok)
    assert "balance" in anthropic_error(refused, 402, "billing_error")
    await pay_and_retry(caller, "/v1/messages", ok)


async def test_messages_translated_upstream_gets_max_tokens(stack: MultiStack) -> None:
    caller = await stack.caller()
    body = {"model": "fake/fake-model", "max_tokens": 77, "messages": HI}
    assert (await post(caller, "/v1/messages", body)).status_code == 200
    assert last(stack.openai.requests)["max_tokens"] == 77
    await caller.logs(1)


async def test_an_anthropic_image_block_raises_the_hold(stack: MultiStack) -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    text = {"model": "claude/claude-fake", "max_tokens": 10, "messages": HI}
    picture = {
        "model": "claude/claude-fake",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "what?"}, image]}],
    }
    hold = held("claude", orjson.dumps(picture), 10, images=1)
    caller = await stack.caller(credits=credits(hold - 1))
    assert (await post(caller, "/v1/messages", text)).status_code == 200
    await caller.logs(1)
    before = len(stack.anthropic.requests)
    refused = await post(caller, "/v1/messages", picture)
    assert f"may cost up to {credits(hold)} credits" in anthropic_error(
        refused, 402, "billing_error"
    )
    assert len(stack.anthropic.requests) == before


@pytest.mark.parametrize("limit", [10**18, 10_000_001])
async def test_messages_max_tokens_out_of_range_is_a_400(
    stack: MultiStack, caller: Caller, limit: int
) -> None:
    body = {"model": "claude/claude-fake", "max_tokens": limit, "messages": HI}
    assert "max_tokens" in anthropic_error(
        await post(caller, "/v1/messages", body), 400, "invalid_request_error"
    )


# --- Responses API passed through natively -------------------------------------------------


async def test_native_responses_upstream_gets_the_held_limit(stack: MultiStack) -> None:
    caller = await stack.caller()
    body = {"model": "oresp/resp-fake", "input": "say hi please"}
    assert (await post(caller, "/v1/responses", body)).status_code == 200
    assert last(stack.responses.requests)["max_output_tokens"] == DEFAULT_LIMIT
    stream = {**body, "stream": True, "max_output_tokens": 55}
    async with (
        caller.http() as http,
        http.stream("POST", "/v1/responses", content=orjson.dumps(stream), headers=JSON) as r,
    ):
        assert r.status_code == 200
        await r.aread()
    assert last(stack.responses.requests)["max_output_tokens"] == 55
    await caller.logs(2)


async def test_responses_shortfall_is_charged_and_refused_until_paid(stack: MultiStack) -> None:
    caller = await stack.caller(credits="1")
    body = {"model": "oresp/fake-overbill", "input": "say hi please"}
    assert (await post(caller, "/v1/responses", body)).status_code == 200
    charged = cost("oresp", 3, OVERBILL_TOKENS)
    await assert_shortfall(caller, charged, held("oresp", orjson.dumps(body), DEFAULT_LIMIT))
    ok = {"model": "oresp/resp-fake", "input": "say hi please", "max_output_tokens": 10}
    refused = assert_openai_error(await post(caller, "/v1/responses", ok), 402)
    assert "balance" in refused["message"]
    await pay_and_retry(caller, "/v1/responses", ok)


async def test_a_responses_input_image_raises_the_hold(stack: MultiStack) -> None:
    image = {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"}
    text = {"model": "oresp/resp-fake", "input": "what?", "max_output_tokens": 10}
    picture = {
        "model": "oresp/resp-fake",
        "max_output_tokens": 10,
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "what?"}, image]}],
    }
    hold = held("oresp", orjson.dumps(picture), 10, images=1)
    caller = await stack.caller(credits=credits(hold - 1))
    assert (await post(caller, "/v1/responses", text)).status_code == 200
    await caller.logs(1)
    refused = assert_openai_error(await post(caller, "/v1/responses", picture), 402)
    assert f"may cost up to {credits(hold)} credits" in refused["message"]


async def test_responses_max_output_tokens_out_of_range_is_a_400(
    stack: MultiStack, caller: Caller
) -> None:
    body = {"model": "oresp/resp-fake", "input": "hi", "max_output_tokens": 10**18}
    error = assert_openai_error(await post(caller, "/v1/responses", body), 400)
    assert error["param"] == "max_output_tokens"


# --- A Gemini-format upstream --------------------------------------------------------------


async def test_gemini_upstream_gets_the_held_limit_and_n_as_candidate_count(
    stack: MultiStack,
) -> None:
    caller = await stack.caller()
    chat = "/v1/chat/completions"
    assert (
        await post(caller, chat, {"model": "gem/gemini-fake", "messages": HI})
    ).status_code == 200
    assert last(stack.gemini.requests)["generationConfig"] == {"maxOutputTokens": DEFAULT_LIMIT}
    body = {"model": "gem/gemini-fake", "messages": HI, "n": 2, "max_completion_tokens": 30}
    assert (await post(caller, chat, body)).status_code == 200
    assert last(stack.gemini.requests)["generationConfig"] == {
        "maxOutputTokens": 30,
        "candidateCount": 2,
    }
    await caller.logs(2)


async def test_gemini_thinking_past_the_limit_is_charged_as_output(stack: MultiStack) -> None:
    caller = await stack.caller(credits="1")
    body = {"model": "gem/fake-overbill", "messages": HI, "max_tokens": 10}
    assert (await post(caller, "/v1/chat/completions", body)).status_code == 200
    assert last(stack.gemini.requests)["generationConfig"] == {"maxOutputTokens": 10}
    # The reply's 5 words, capped at 10 tokens by the fake, plus the thinking it reports.
    charged = cost("gem", 3, 5 + OVERBILL_TOKENS)
    await assert_shortfall(caller, charged, held("gem", orjson.dumps(body), 10))
    ok = {"model": "gem/gemini-fake", "messages": HI, "max_tokens": 10}
    refused = assert_openai_error(await post(caller, "/v1/chat/completions", ok), 402)
    assert "balance" in refused["message"]
    await pay_and_retry(caller, "/v1/chat/completions", ok)
