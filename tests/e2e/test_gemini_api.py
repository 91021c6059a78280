"""The Gemini SDK (google-genai) against the gateway's Gemini-format API, served by an
OpenAI-format, an Anthropic-format and a Gemini-format upstream: what the client sees, what
the upstream receives, and what each call costs."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from pydantic import BaseModel

from tests.e2e.multi_stack import REPLY, REPLY_TOKENS, MultiStack, cost, multi_stack
from tests.e2e.support import Caller
from tests.fakes import anthropic_upstream as anthropic_fake
from tests.fakes import gemini_upstream as gemini_fake
from tests.fakes import openai_upstream as openai_fake
from tests.fakes.openai_upstream import EMBEDDING_DIMENSIONS

MODEL = {"fake": "fake/fake-model", "claude": "claude/claude-fake", "gem": "gem/gemini-fake"}
TOOL_MODEL = {
    "fake": "fake/fake-tool-then-text",
    "claude": "claude/claude-tool-then-text",
    "gem": "gem/gemini-tool-then-text",
}
TARGETS = list(MODEL)
CALL_WORDS = 2  # '{"city": "Paris"}', the fakes' function call arguments
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
    extra: dict[str, list[Any]] = {
        name: [model.split("/", 1)[1]] for name, model in TOOL_MODEL.items()
    }
    extra["fake"].append({"id": "fake-embedding", "type": "embeddings"})
    extra["gem"] += ["gemini-thinking", "fake-error-429"]
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


def get_weather(city: str) -> dict[str, int]:
    """The weather in a city.

    Args:
        city: The city.
    """
    return {"temp_c": 18}


def prompt_tokens(stack: MultiStack, target: str, last: int) -> list[int]:
    """What the fake upstream counted as prompt tokens for its `last` requests (its own
    counting, computed from what it received)."""
    if target == "fake":
        sent = [r.json for r in stack.openai.requests[-last:]]
        return [openai_fake.prompt_word_count(body["messages"]) for body in sent]
    if target == "claude":
        sent = [r.json for r in stack.anthropic.requests[-last:]]
        return [anthropic_fake.prompt_word_count(body) for body in sent]
    sent = [r.json for r in stack.gemini.requests[-last:]]
    return [gemini_fake.prompt_word_count(body) for body in sent]


@pytest.mark.parametrize("target", TARGETS)
async def test_function_calling_runs_to_completion(
    stack: MultiStack, caller: Caller, target: str
) -> None:
    """The SDK calls the function the model asks for, sends its result back, and the model
    answers it with text: two calls, each charged."""
    client = sdk(stack, caller.api_key)
    config = types.GenerateContentConfig(tools=[get_weather])
    answer = await client.aio.models.generate_content(
        model=TOOL_MODEL[target], contents="weather in Paris?", config=config
    )
    assert answer.text == REPLY
    history = answer.automatic_function_calling_history
    call = history[1].parts[0].function_call
    assert (call.name, call.args) == ("get_weather", {"city": "Paris"})
    assert history[2].parts[0].function_response.response == {"result": {"temp_c": 18}}
    first, second = prompt_tokens(stack, target, 2)
    assert first == 3
    charged = cost(target, first, CALL_WORDS) + cost(target, second, REPLY_TOKENS)
    await caller.assert_books(2, charged)


@pytest.mark.parametrize("target", TARGETS)
async def test_streamed_function_call_arrives_whole(
    stack: MultiStack, caller: Caller, target: str
) -> None:
    client = sdk(stack, caller.api_key)
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[WEATHER_FN])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    stream = await client.aio.models.generate_content_stream(
        model=MODEL[target], contents="weather in Paris?", config=config
    )
    calls = [call async for chunk in stream for call in chunk.function_calls or ()]
    assert [(c.name, c.args) for c in calls] == [("get_weather", {"city": "Paris"})]
    await caller.assert_books(1, cost(target, 3, CALL_WORDS))


class Weather(BaseModel):
    city: str
    temp_c: int


def sent_schema(stack: MultiStack, target: str) -> dict[str, Any]:
    """The JSON schema the upstream was sent for the answer."""
    if target == "fake":
        response_format = stack.openai.requests[-1].json["response_format"]
        assert response_format["type"] == "json_schema"
        return response_format["json_schema"]["schema"]
    if target == "claude":
        return stack.anthropic.requests[-1].json["output_config"]["format"]["schema"]
    config = stack.gemini.requests[-1].json["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    return config.get("responseJsonSchema") or config["responseSchema"]


@pytest.mark.parametrize("target", TARGETS)
async def test_response_schema_reaches_the_upstream(
    stack: MultiStack, caller: Caller, target: str
) -> None:
    client = sdk(stack, caller.api_key)
    config = types.GenerateContentConfig(
        response_mime_type="application/json", response_schema=Weather
    )
    answer = await client.aio.models.generate_content(
        model=MODEL[target], contents=PROMPT, config=config
    )
    assert answer.text == REPLY  # the fakes answer text whatever they are asked
    schema = sent_schema(stack, target)
    assert set(schema["properties"]) == {"city", "temp_c"}
    assert str(schema["properties"]["temp_c"]["type"]).lower() == "integer"
    await caller.assert_books(1, cost(target, 3, REPLY_TOKENS))


@pytest.mark.parametrize("target", TARGETS)
async def test_the_output_limit_sent_is_the_one_held(
    stack: MultiStack, caller: Caller, target: str
) -> None:
    client = sdk(stack, caller.api_key)
    config = types.GenerateContentConfig(max_output_tokens=3)
    answer = await client.aio.models.generate_content(
        model=MODEL[target], contents=PROMPT, config=config
    )
    if target == "fake":  # the OpenAI-format fake does not cut its reply
        assert stack.openai.requests[-1].json["max_tokens"] == 3
        await caller.assert_books(1, cost(target, 3, REPLY_TOKENS))
        return
    assert answer.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    if target == "claude":
        assert stack.anthropic.requests[-1].json["max_tokens"] == 3
    else:
        assert stack.gemini.requests[-1].json["generationConfig"]["maxOutputTokens"] == 3
    await caller.assert_books(1, cost(target, 3, 3))


async def test_a_gemini_upstream_is_sent_the_limit_held_when_the_client_sets_none(
    stack: MultiStack, caller: Caller
) -> None:
    client = sdk(stack, caller.api_key)
    await client.aio.models.generate_content(model=MODEL["gem"], contents=PROMPT)
    held = stack.services.relay.default_max_output_tokens
    assert stack.gemini.requests[-1].json["generationConfig"]["maxOutputTokens"] == held


async def test_hosted_tools_and_cached_content_are_not_passed_through(
    stack: MultiStack, caller: Caller
) -> None:
    client = sdk(stack, caller.api_key)
    sent = len(stack.gemini.requests)
    search = types.GenerateContentConfig(tools=[types.Tool(google_search=types.GoogleSearch())])
    with pytest.raises(genai_errors.ClientError) as raised:
        await client.aio.models.generate_content(model=MODEL["gem"], contents=PROMPT, config=search)
    assert raised.value.code == 400 and raised.value.status == "INVALID_ARGUMENT"
    assert "tools.0.googleSearch" in raised.value.message
    cached = types.GenerateContentConfig(cached_content="cachedContents/abc")
    with pytest.raises(genai_errors.ClientError) as raised:
        await client.aio.models.generate_content(model=MODEL["gem"], contents=PROMPT, config=cached)
    assert "cachedContent" in raised.value.message
    assert len(stack.gemini.requests) == sent


async def test_hints_are_named_as_dropped_on_translated_calls(
    stack: MultiStack, caller: Caller
) -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": PROMPT}]}],
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
        "tools": [{"googleSearch": {}}],
        "generationConfig": {"topK": 40, "thinkingConfig": {"thinkingBudget": 2048}},
    }
    async with caller.http() as http:
        answer = await http.post(f"/v1beta/models/{MODEL['fake']}:generateContent", json=body)
    assert answer.status_code == 200, answer.text
    dropped = "safetySettings, tools.0.googleSearch, generationConfig.topK"
    assert answer.headers["x-gatewayz-dropped"] == dropped
    assert stack.openai.requests[-1].json["reasoning_effort"] == "medium"
    (row,) = await caller.logs(1)
    assert row["dropped"] == dropped
    assert row["api"] == "gemini.generate_content"


async def test_thoughts_reach_a_gemini_client_that_asks_for_them(
    stack: MultiStack, caller: Caller
) -> None:
    client = sdk(stack, caller.api_key)
    config = types.GenerateContentConfig(
        thinking_config=types.ThinkingConfig(include_thoughts=True, thinking_budget=1024)
    )
    answer = await client.aio.models.generate_content(
        model="gem/gemini-thinking", contents=PROMPT, config=config
    )
    thought, text = answer.candidates[0].content.parts
    assert thought.thought is True and thought.text == gemini_fake.THOUGHT
    assert text.text == REPLY
    thinking = len(gemini_fake.THOUGHT.split())
    await caller.assert_books(1, cost("gem", 3, REPLY_TOKENS + thinking))


async def test_count_tokens(stack: MultiStack, caller: Caller) -> None:
    client = sdk(stack, caller.api_key)
    counted = await client.aio.models.count_tokens(model=MODEL["gem"], contents=PROMPT)
    assert counted.total_tokens == 3  # the Gemini upstream's own count
    estimated = await client.aio.models.count_tokens(model=MODEL["fake"], contents=PROMPT)
    assert estimated.total_tokens == 4  # 13 bytes of text at four a token, rounded up
    await caller.assert_books(0, 0)


async def test_embed_content_is_answered_and_charged(stack: MultiStack, caller: Caller) -> None:
    client = sdk(stack, caller.api_key)
    answer = await client.aio.models.embed_content(
        model="fake/fake-embedding", contents=["hello there world", "again"]
    )
    assert len(answer.embeddings) == 2
    assert all(len(e.values) == EMBEDDING_DIMENSIONS for e in answer.embeddings)
    await caller.assert_books(1, cost("fake", 4, 0))
    async with caller.http() as http:
        one = await http.post(
            "/v1beta/models/fake/fake-embedding:embedContent",
            json={"content": {"parts": [{"text": "hello"}]}, "taskType": "RETRIEVAL_QUERY"},
        )
    assert one.status_code == 200, one.text
    assert len(one.json()["embedding"]["values"]) == EMBEDDING_DIMENSIONS
    assert one.headers["x-gatewayz-dropped"] == "taskType"


async def test_models_are_listed_and_got_in_geminis_format(
    stack: MultiStack, caller: Caller
) -> None:
    for version in ("v1beta", "v1"):
        client = sdk(stack, caller.api_key, version=version)
        names = [model.name async for model in await client.aio.models.list()]
        assert "models/gem/gemini-fake" in names and "models/fake/fake-model" in names
        model = await client.aio.models.get(model="claude/claude-fake")
        assert model.name == "models/claude/claude-fake"
        assert "generateContent" in model.supported_actions
    async with httpx.AsyncClient(base_url=stack.base_url) as http:
        openai_list = await http.get("/v1/models")  # OpenAI's clients still get theirs
    assert openai_list.json()["object"] == "list"


async def test_a_key_scoped_to_the_catalog_cannot_generate(
    stack: MultiStack, caller: Caller
) -> None:
    async with caller.http() as http:
        created = await http.post("/user/api-keys", json={"name": "catalog", "scopes": ["models"]})
    scoped = created.json()["key"]
    client = sdk(stack, scoped)
    with pytest.raises(genai_errors.ClientError) as raised:
        await client.aio.models.generate_content(model=MODEL["fake"], contents=PROMPT)
    assert raised.value.code == 403 and raised.value.status == "PERMISSION_DENIED"
    assert "gemini" in raised.value.message


@pytest.mark.parametrize(
    "path",
    [
        "/v1beta/models/fake%2Ffake-model:generateContent",  # the slash encoded
        "/v1beta/fake/fake-model:generateContent",  # no models/ (Vercel's Google provider)
        "/v1/fake/fake-model:generateContent",
    ],
)
async def test_other_spellings_of_a_model_path(
    stack: MultiStack, caller: Caller, path: str
) -> None:
    body = {"contents": [{"parts": [{"text": PROMPT}]}]}
    async with caller.http() as http:
        answer = await http.post(path, json=body)
    assert answer.status_code == 200, answer.text
    await caller.assert_books(1, cost("fake", 3, REPLY_TOKENS))


async def test_a_missing_key_is_refused_before_the_body_is_read(stack: MultiStack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=20) as http:
        answer = await http.post(
            f"/v1beta/models/{MODEL['fake']}:generateContent", content=b"not even JSON"
        )
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert (error["code"], error["status"]) == (401, "UNAUTHENTICATED")


async def test_a_stream_that_breaks_ends_with_an_error_the_sdk_raises(
    stack: MultiStack, caller: Caller
) -> None:
    client = sdk(stack, caller.api_key)
    stream = await client.aio.models.generate_content_stream(
        model="claude/fake-stream-error", contents=PROMPT
    )
    with pytest.raises(genai_errors.APIError) as raised:
        async for _ in stream:
            pass
    assert raised.value.code == 502
    assert "claude" in raised.value.message


async def test_an_upstream_rate_limit_is_a_429_in_googles_format(
    stack: MultiStack, caller: Caller
) -> None:
    body = {"contents": [{"parts": [{"text": PROMPT}]}]}
    async with caller.http() as http:
        answer = await http.post("/v1beta/models/gem/fake-error-429:generateContent", json=body)
    assert answer.status_code == 429
    error = answer.json()["error"]
    assert (error["code"], error["status"]) == (429, "RESOURCE_EXHAUSTED")
    assert "gem" in error["message"]


async def test_a_body_over_the_limit_is_a_413_in_googles_format(stack: MultiStack) -> None:
    limit = stack.services.settings.max_body_bytes
    host, port = stack.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    path = f"/v1beta/models/{MODEL['fake']}:generateContent"
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {limit + 1}\r\n\r\n".encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":")[1]
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
    )
    body = await reader.readexactly(length)
    writer.close()
    assert head.startswith(b"HTTP/1.1 413")
    error = orjson.loads(body)["error"]
    assert (error["code"], error["status"]) == (413, "INVALID_ARGUMENT")


@pytest.mark.parametrize("target", ["gem", "fake"])
async def test_the_hold_counts_every_candidate_asked_for(stack: MultiStack, target: str) -> None:
    """maxOutputTokens 1,000,000 at 4 or 8 credits per million output tokens: one candidate
    fits a balance of 9 credits, two at the OpenAI-format provider's price do not, nor do
    three at Gemini's."""
    caller = await stack.caller(credits="9")
    client = sdk(stack, caller.api_key)
    many = 3 if target == "gem" else 2
    config = types.GenerateContentConfig(max_output_tokens=1_000_000, candidate_count=many)
    with pytest.raises(genai_errors.ClientError) as raised:
        await client.aio.models.generate_content(
            model=MODEL[target], contents=PROMPT, config=config
        )
    assert raised.value.code == 402
    one = types.GenerateContentConfig(max_output_tokens=1_000_000, candidate_count=1)
    answer = await client.aio.models.generate_content(
        model=MODEL[target], contents=PROMPT, config=one
    )
    assert answer.text == REPLY
    await caller.assert_books(1, cost(target, 3, REPLY_TOKENS))  # the refusal costs nothing
