"""The fake Gemini upstream speaks the generativelanguage REST wire format."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from tests.fakes.gemini_upstream import (
    FUNCTION_ARGS,
    MODELS,
    FakeGeminiUpstream,
    prompt_word_count,
)

API_KEY = "gemini-fake-key"
REPLY = "This is a fake reply."
REPLY_WORDS = 5
BODY: dict[str, Any] = {
    "systemInstruction": {"parts": [{"text": "Be brief."}]},
    "contents": [
        {"role": "user", "parts": [{"text": "Hello there"}]},
        {"role": "model", "parts": [{"text": "Hi."}]},
        {"role": "user", "parts": [{"text": "What is the weather"}]},
    ],
}
PROMPT_TOKENS = 9  # "Be brief." + "Hello there" + "Hi." + "What is the weather"
TOOLS = [
    {
        "functionDeclarations": [
            {
                "name": "get_weather",
                "description": "The weather in a city.",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
            {"name": "other", "parameters": {"type": "object"}},
        ]
    }
]


@pytest.fixture(scope="module")
async def upstream() -> AsyncIterator[FakeGeminiUpstream]:
    async with FakeGeminiUpstream() as up:
        yield up


@pytest.fixture
async def client(upstream: FakeGeminiUpstream) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"x-goog-api-key": API_KEY}
    async with httpx.AsyncClient(base_url=upstream.base_url, headers=headers) as http:
        yield http


def generate(model: str = "gemini-fake", stream: bool = False, version: str = "v1beta") -> str:
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return f"/{version}/models/{model}:{method}"


def assert_error(response: httpx.Response, status: int, name: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == status
    assert error["status"] == name
    assert error["message"]
    return error


async def sse_chunks(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> list[Any]:
    """Each SSE event's data, decoded; events must be ``data: `` lines ending in CRLF CRLF."""
    async with client.stream("POST", url, json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = await response.aread()
    assert raw.endswith(b"\r\n\r\n")
    events = raw.split(b"\r\n\r\n")[:-1]
    assert all(event.startswith(b"data: ") for event in events)
    return [orjson.loads(event.removeprefix(b"data: ")) for event in events]


async def test_response_has_the_documented_shape_and_exact_usage(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(generate(), json=BODY)
    assert response.status_code == 200
    body = response.json()
    assert body["responseId"]
    assert body == {
        "candidates": [
            {
                "content": {"parts": [{"text": REPLY}], "role": "model"},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": PROMPT_TOKENS,
            "candidatesTokenCount": REPLY_WORDS,
            "totalTokenCount": PROMPT_TOKENS + REPLY_WORDS,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": PROMPT_TOKENS}],
        },
        "modelVersion": "gemini-fake",
        "responseId": body["responseId"],
    }


async def test_v1_path_and_key_query_parameter_work(upstream: FakeGeminiUpstream) -> None:
    async with httpx.AsyncClient(base_url=upstream.base_url) as http:
        response = await http.post(generate(version="v1"), params={"key": API_KEY}, json=BODY)
    assert response.status_code == 200
    assert upstream.requests[-1].path == "/v1/models/gemini-fake:generateContent"
    assert upstream.requests[-1].query == {"key": API_KEY}


async def test_missing_key_is_permission_denied(upstream: FakeGeminiUpstream) -> None:
    async with httpx.AsyncClient(base_url=upstream.base_url) as http:
        response = await http.post(generate(), json=BODY)
    assert "unregistered callers" in assert_error(response, 403, "PERMISSION_DENIED")["message"]


async def test_wrong_key_is_api_key_invalid(upstream: FakeGeminiUpstream) -> None:
    headers = {"x-goog-api-key": "wrong"}
    async with httpx.AsyncClient(base_url=upstream.base_url, headers=headers) as http:
        response = await http.post(generate(), json=BODY)
    error = assert_error(response, 400, "INVALID_ARGUMENT")
    assert error["details"][0]["reason"] == "API_KEY_INVALID"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({}, "contents is not specified"),
        ({"contents": []}, "contents is not specified"),
        ({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}, "valid role"),
        ({"contents": [{"role": "user", "parts": []}]}, "must not be empty"),
    ],
)
async def test_invalid_requests_are_invalid_argument(
    client: httpx.AsyncClient, body: dict[str, Any], problem: str
) -> None:
    response = await client.post(generate(), json=body)
    assert problem in assert_error(response, 400, "INVALID_ARGUMENT")["message"]


async def test_function_declarations_get_a_function_call(client: httpx.AsyncClient) -> None:
    body = (await client.post(generate(), json={**BODY, "tools": TOOLS})).json()
    candidate = body["candidates"][0]
    assert candidate["content"]["parts"] == [
        {"functionCall": {"name": "get_weather", "args": FUNCTION_ARGS}}
    ]
    assert candidate["finishReason"] == "STOP"
    assert body["usageMetadata"]["candidatesTokenCount"] == 2


async def test_snake_case_request_fields_are_understood(client: httpx.AsyncClient) -> None:
    body = {
        "system_instruction": {"parts": [{"text": "Be brief."}]},
        "contents": BODY["contents"],
        "tools": [{"function_declarations": [{"name": "lookup"}]}],
    }
    answer = (await client.post(generate(), json=body)).json()
    assert answer["usageMetadata"]["promptTokenCount"] == PROMPT_TOKENS
    assert answer["candidates"][0]["content"]["parts"][0]["functionCall"]["name"] == "lookup"


async def test_max_output_tokens_cuts_the_reply(client: httpx.AsyncClient) -> None:
    body = {**BODY, "generationConfig": {"maxOutputTokens": 2}}
    answer = (await client.post(generate(), json=body)).json()
    candidate = answer["candidates"][0]
    assert candidate["content"]["parts"] == [{"text": "This is "}]
    assert candidate["finishReason"] == "MAX_TOKENS"
    assert answer["usageMetadata"]["candidatesTokenCount"] == 2


def test_prompt_words_ignore_non_text_parts() -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "w", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "w", "response": {}}}]},
            {"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": "AA"}}]},
        ]
    }
    assert prompt_word_count(body) == 3


async def test_sse_stream_sends_one_word_per_chunk_and_usage_last(
    client: httpx.AsyncClient,
) -> None:
    chunks = await sse_chunks(client, generate(stream=True), BODY)
    assert len(chunks) == REPLY_WORDS
    texts = [chunk["candidates"][0]["content"]["parts"][0]["text"] for chunk in chunks]
    assert "".join(texts) == REPLY
    assert len({chunk["responseId"] for chunk in chunks}) == 1
    for chunk in chunks[:-1]:
        assert "usageMetadata" not in chunk
        assert "finishReason" not in chunk["candidates"][0]
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[-1]["usageMetadata"]["promptTokenCount"] == PROMPT_TOKENS
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] == REPLY_WORDS
    assert chunks[-1]["usageMetadata"]["totalTokenCount"] == PROMPT_TOKENS + REPLY_WORDS


async def test_stream_usage_equals_the_unstreamed_usage(client: httpx.AsyncClient) -> None:
    whole = (await client.post(generate(), json=BODY)).json()
    chunks = await sse_chunks(client, generate(stream=True), BODY)
    assert chunks[-1]["usageMetadata"] == whole["usageMetadata"]


async def test_stream_without_sse_is_a_json_array(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1beta/models/gemini-fake:streamGenerateContent", json=BODY)
    assert response.status_code == 200
    chunks = response.json()
    assert isinstance(chunks, list)
    assert len(chunks) == REPLY_WORDS
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


async def test_stream_of_a_function_call_is_one_whole_chunk(client: httpx.AsyncClient) -> None:
    chunks = await sse_chunks(client, generate(stream=True), {**BODY, "tools": TOOLS})
    assert len(chunks) == 1
    candidate = chunks[0]["candidates"][0]
    assert candidate["content"]["parts"] == [
        {"functionCall": {"name": "get_weather", "args": FUNCTION_ARGS}}
    ]
    assert candidate["finishReason"] == "STOP"
    assert chunks[0]["usageMetadata"]["candidatesTokenCount"] == 2


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (400, "INVALID_ARGUMENT"),
        (401, "UNAUTHENTICATED"),
        (403, "PERMISSION_DENIED"),
        (404, "NOT_FOUND"),
        (429, "RESOURCE_EXHAUSTED"),
        (500, "INTERNAL"),
        (503, "UNAVAILABLE"),
        (504, "DEADLINE_EXCEEDED"),
    ],
)
async def test_error_models_return_google_errors(
    client: httpx.AsyncClient, status: int, name: str
) -> None:
    for stream in (False, True):
        response = await client.post(generate(f"fake-error-{status}", stream), json=BODY)
        error = assert_error(response, status, name)
        if status == 429:
            assert error["details"] == [
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}
            ]


async def test_safety_block_has_no_content(client: httpx.AsyncClient) -> None:
    answer = (await client.post(generate("fake-safety"), json=BODY)).json()
    candidate = answer["candidates"][0]
    assert "content" not in candidate
    assert candidate["finishReason"] == "SAFETY"
    assert any(rating.get("blocked") for rating in candidate["safetyRatings"])
    assert answer["usageMetadata"]["promptTokenCount"] == PROMPT_TOKENS
    assert answer["usageMetadata"]["totalTokenCount"] == PROMPT_TOKENS
    assert "candidatesTokenCount" not in answer["usageMetadata"]
    chunks = await sse_chunks(client, generate("fake-safety", stream=True), BODY)
    assert [chunk["candidates"][0]["finishReason"] for chunk in chunks] == ["SAFETY"]


async def test_slow_model_waits_before_answering(client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    response = await client.post(generate("fake-slow-100"), json=BODY)
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.1


async def test_truncated_answer_breaks_off(client: httpx.AsyncClient) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post(generate("fake-truncate"), json=BODY)


async def test_truncated_stream_stops_after_two_chunks(client: httpx.AsyncClient) -> None:
    received = b""
    with pytest.raises(httpx.RemoteProtocolError):
        async with client.stream("POST", generate("fake-truncate", True), json=BODY) as response:
            assert response.status_code == 200
            async for piece in response.aiter_bytes():
                received += piece
    events = received.split(b"\r\n\r\n")[:-1]
    assert len(events) == 2
    assert all(b"finishReason" not in event for event in events)


async def test_models_are_listed_in_gemini_format(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1beta/models")
    assert response.status_code == 200
    models = response.json()["models"]
    assert [model["name"] for model in models] == [f"models/{name}" for name in MODELS]
    for model in models:
        assert model["displayName"]
        assert model["inputTokenLimit"] > 0
        assert model["outputTokenLimit"] > 0
        assert "generateContent" in model["supportedGenerationMethods"]
    one = (await client.get("/v1beta/models/gemini-fake")).json()
    assert one["name"] == "models/gemini-fake"
    assert_error(await client.get("/v1beta/models/missing"), 404, "NOT_FOUND")


async def test_unknown_method_is_not_found(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/v1beta/models/gemini-fake:embed", json=BODY), 404, "NOT_FOUND")


async def test_requests_are_recorded(
    client: httpx.AsyncClient, upstream: FakeGeminiUpstream
) -> None:
    await client.post(generate("recorded-model", stream=True), json=BODY)
    recorded = upstream.requests[-1]
    assert recorded.method == "POST"
    assert recorded.path == "/v1beta/models/recorded-model:streamGenerateContent"
    assert recorded.query == {"alt": "sse"}
    assert recorded.headers["x-goog-api-key"] == API_KEY
    assert recorded.json == BODY


# The official SDK (``google-genai``) parses what the fake sends, when it is installed.


@pytest.fixture
def genai_client(upstream: FakeGeminiUpstream) -> Any:
    genai = pytest.importorskip("google.genai")
    options = genai.types.HttpOptions(base_url=upstream.base_url, api_version="v1beta")
    return genai.Client(api_key=API_KEY, http_options=options)


async def test_sdk_generates_and_streams(genai_client: Any) -> None:
    types = pytest.importorskip("google.genai.types")
    config = types.GenerateContentConfig(system_instruction="Be brief.")
    contents = "Hello there, what is the weather"
    answer = await genai_client.aio.models.generate_content(
        model="gemini-fake", contents=contents, config=config
    )
    assert answer.text == REPLY
    assert answer.candidates[0].finish_reason == types.FinishReason.STOP
    assert answer.usage_metadata.prompt_token_count == 8
    assert answer.usage_metadata.candidates_token_count == REPLY_WORDS
    chunks = [
        chunk
        async for chunk in await genai_client.aio.models.generate_content_stream(
            model="gemini-fake", contents=contents, config=config
        )
    ]
    assert "".join(chunk.text or "" for chunk in chunks) == REPLY
    assert chunks[-1].usage_metadata == answer.usage_metadata


async def test_sdk_reads_function_calls_and_errors(genai_client: Any) -> None:
    types = pytest.importorskip("google.genai.types")
    errors = pytest.importorskip("google.genai.errors")
    tool = types.Tool(function_declarations=[types.FunctionDeclaration(name="get_weather")])
    config = types.GenerateContentConfig(
        tools=[tool], automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)
    )
    answer = await genai_client.aio.models.generate_content(
        model="gemini-fake", contents="Weather?", config=config
    )
    assert [(call.name, call.args) for call in answer.function_calls] == [
        ("get_weather", FUNCTION_ARGS)
    ]
    with pytest.raises(errors.ClientError) as raised:
        await genai_client.aio.models.generate_content(model="fake-error-429", contents="x")
    assert (raised.value.code, raised.value.status) == (429, "RESOURCE_EXHAUSTED")
    with pytest.raises(errors.ServerError) as server:
        await genai_client.aio.models.generate_content(model="fake-error-503", contents="x")
    assert server.value.status == "UNAVAILABLE"
