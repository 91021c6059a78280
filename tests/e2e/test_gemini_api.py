"""The Gemini SDK (google-genai) against the gateway's Gemini-format API, served by an
OpenAI-format, an Anthropic-format and a Gemini-format upstream: what the client sees, what
the upstream receives, and what each call costs."""

from collections.abc import AsyncIterator
import httpx
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from tests.e2e.multi_stack import REPLY, REPLY_TOKENS, MultiStack, cost, multi_stack
from tests.e2e.support import Caller

MODEL = {"fake": "fake/fake-model", "claude": "claude/claude-fake", "gem": "gem/gemini-fake"}
TOOL_MODEL = {
    "fake": "fake/fake-tool-then-text",
    "claude": "claude/claude-tool-then-text",
    "gem": "gem/gemini-tool-then-text",
}
TARGETS = list(MODEL)
PROMPT = "say hi please"  # 3 words: 3 input tokens at every fake
WEATHER_FN = types.FunctionDeclaration(
    name="get_weather",
    description="The weather in a city.",
    parameters=types.Schema(
        type=types.Type.OBJECT,
        properties={"city": types.Schema(type=types.Type.STRING)},
        required=["city"],
    ),
)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MultiStack]:
    extra = {name: [model.split("/", 1)[1]] for name, model in TOOL_MODEL.items()}
    extra["fake"].append("fake-embedding")
    async with multi_stack(request.param, tmp_path_factory.mktemp("gemapi"), extra) as stack:
        yield stack


@pytest.fixture
async def caller(stack: MultiStack) -> Caller:
    return await stack.caller()


def sdk(stack: MultiStack, key: str, version: str = "v1beta") -> genai.Client:
    """The Gemini SDK pointed at the gateway, traffic on 127.0.0.1 only."""
    options = types.HttpOptions(base_url=stack.base_url, api_version=version, timeout=20_000)
    return genai.Client(api_key=key, http_options=options)


@pytest.mark.parametrize("target", TARGETS)
async def test_generate_content_is_answered_and_charged(
    stack: MultiStack, caller: Caller, target: str
) -> None:
    client = sdk(stack, caller.api_key)
    answer = await client.aio.models.generate_content(model=MODEL[target], contents=PROMPT)
    assert answer.text == REPLY
    assert answer.candidates[0].finish_reason == types.FinishReason.STOP
    assert answer.usage_metadata.prompt_token_count == 3
    assert answer.usage_metadata.candidates_token_count == REPLY_TOKENS
    await caller.assert_books(1, cost(target, 3, REPLY_TOKENS))


@pytest.mark.parametrize("target", TARGETS)
async def test_stream_generate_content_is_answered_and_charged(
    stack: MultiStack, caller: Caller, target: str
) -> None:
    client = sdk(stack, caller.api_key)
    stream = await client.aio.models.generate_content_stream(model=MODEL[target], contents=PROMPT)
    chunks = [chunk async for chunk in stream]
    assert "".join(chunk.text or "" for chunk in chunks) == REPLY
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.candidates_token_count == REPLY_TOKENS
    await caller.assert_books(1, cost(target, 3, REPLY_TOKENS))


async def test_the_v1_version_prefix_the_sdk_defaults_to(stack: MultiStack, caller: Caller) -> None:
    client = sdk(stack, caller.api_key, version="v1")
    answer = await client.aio.models.generate_content(model=MODEL["fake"], contents=PROMPT)
    assert answer.text == REPLY
    await caller.assert_books(1, cost("fake", 3, REPLY_TOKENS))


async def test_key_in_the_query_string(stack: MultiStack, caller: Caller) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]}
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=20) as http:
        url = f"/v1beta/models/{MODEL['fake']}:generateContent"
        answer = await http.post(url, params={"key": caller.api_key}, json=body)
        refused = await http.post(url, params={"key": "gw_live_not-a-key"}, json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["candidates"][0]["content"]["parts"][0]["text"] == REPLY
    assert refused.status_code == 401
    assert refused.json()["error"]["status"] == "UNAUTHENTICATED"
    await caller.assert_books(1, cost("fake", 3, REPLY_TOKENS))


async def test_a_bad_key_is_a_client_error_in_googles_format(stack: MultiStack) -> None:
    client = sdk(stack, "gw_live_not-a-key")
    with pytest.raises(genai_errors.ClientError) as raised:
        await client.aio.models.generate_content(model=MODEL["fake"], contents=PROMPT)
    assert raised.value.code == 401
    assert raised.value.status == "UNAUTHENTICATED"


async def test_no_credits_is_a_client_error_in_googles_format(stack: MultiStack) -> None:
    poor = await stack.caller(credits="0")
    client = sdk(stack, poor.api_key)
    sent = len(stack.openai.requests)
    with pytest.raises(genai_errors.ClientError) as raised:
        await client.aio.models.generate_content(model=MODEL["fake"], contents=PROMPT)
    assert raised.value.code == 402
    assert raised.value.status == "FAILED_PRECONDITION"
    assert "Insufficient credits" in raised.value.message
    assert len(stack.openai.requests) == sent  # refused before anything was sent


async def test_an_unknown_model_is_a_404_in_googles_format(
    stack: MultiStack, caller: Caller
) -> None:
    client = sdk(stack, caller.api_key)
    with pytest.raises(genai_errors.ClientError) as raised:
        await client.aio.models.generate_content(model="nobody/no-such-model", contents=PROMPT)
    assert raised.value.code == 404
    assert raised.value.status == "NOT_FOUND"
    assert "nobody/no-such-model" in raised.value.message
