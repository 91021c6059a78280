"""The fake OpenAI upstream speaks the wire format of OpenAI's published spec."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.fakes.openai_upstream import TOOL_ARGUMENTS, TOOL_CALL_ID, FakeOpenAIUpstream
from tests.openai_spec import validate

API_KEY = "sk-fake-upstream"
REPLY = "This is a fake reply."
MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": [{"type": "text", "text": "What is the weather"}]},
]
PROMPT_TOKENS = 6
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    },
    {"type": "function", "function": {"name": "other", "parameters": {"type": "object"}}},
]


@pytest.fixture(scope="module")
async def upstream() -> AsyncIterator[FakeOpenAIUpstream]:
    async with FakeOpenAIUpstream() as up:
        yield up


@pytest.fixture
async def client(upstream: FakeOpenAIUpstream) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(base_url=upstream.base_url, headers=headers) as http:
        yield http


def chat(model: str = "fake-model", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": MESSAGES, **extra}


async def read_events(response: httpx.Response) -> list[Any]:
    """The data of each SSE event, JSON-decoded except for the final ``[DONE]``."""
    events: list[Any] = []
    async for line in response.aiter_lines():
        if line.startswith("data: "):
            data = line.removeprefix("data: ")
            events.append(data if data == "[DONE]" else orjson.loads(data))
    return events


async def stream_events(client: httpx.AsyncClient, body: dict[str, Any]) -> list[Any]:
    async with client.stream("POST", "/chat/completions", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return await read_events(response)


async def test_completion_matches_spec_with_exact_usage(client: httpx.AsyncClient) -> None:
    response = await client.post("/chat/completions", json=chat())
    assert response.status_code == 200
    assert response.headers["x-request-id"].startswith("req_fake_")
    body = response.json()
    validate("CreateChatCompletionResponse", body)
    assert body["object"] == "chat.completion"
    assert body["model"] == "fake-model"
    assert body["choices"][0]["message"]["content"] == REPLY
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["prompt_tokens"] == PROMPT_TOKENS
    assert body["usage"]["completion_tokens"] == 5
    assert body["usage"]["total_tokens"] == PROMPT_TOKENS + 5


async def test_stream_matches_spec_and_sends_usage_last(client: httpx.AsyncClient) -> None:
    events = await stream_events(client, chat(stream=True, stream_options={"include_usage": True}))
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    for chunk in chunks:
        validate("CreateChatCompletionStreamResponse", chunk)
        assert chunk["object"] == "chat.completion.chunk"
        assert (chunk["id"], chunk["created"], chunk["model"]) == (
            chunks[0]["id"],
            chunks[0]["created"],
            "fake-model",
        )
    *content_chunks, usage_chunk = chunks
    assert all(chunk["usage"] is None for chunk in content_chunks)
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["prompt_tokens"] == PROMPT_TOKENS
    assert usage_chunk["usage"]["completion_tokens"] == 5
    deltas = [chunk["choices"][0]["delta"] for chunk in content_chunks]
    assert [i for i, delta in enumerate(deltas) if "role" in delta] == [0]
    assert "".join(delta.get("content") or "" for delta in deltas) == REPLY
    assert len(deltas) == 1 + 5 + 1
    assert [chunk["choices"][0]["finish_reason"] for chunk in content_chunks[-2:]] == [None, "stop"]


async def test_stream_without_include_usage_has_no_usage_key(client: httpx.AsyncClient) -> None:
    events = await stream_events(client, chat(stream=True))
    assert events[-1] == "[DONE]"
    assert all("usage" not in chunk and chunk["choices"] for chunk in events[:-1])


async def test_tool_call_whole_and_streamed(client: httpx.AsyncClient) -> None:
    body = (await client.post("/chat/completions", json=chat(tools=TOOLS))).json()
    validate("CreateChatCompletionResponse", body)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"] == [
        {
            "id": TOOL_CALL_ID,
            "type": "function",
            "function": {"name": "get_weather", "arguments": TOOL_ARGUMENTS},
        }
    ]
    events = await stream_events(client, chat(tools=TOOLS, stream=True))
    for chunk in events[:-1]:
        validate("CreateChatCompletionStreamResponse", chunk)
    fragments = [
        call for chunk in events[:-1] for call in chunk["choices"][0]["delta"].get("tool_calls", [])
    ]
    assert 2 <= len(fragments) <= 3
    assert all(fragment["index"] == 0 for fragment in fragments)
    assert fragments[0]["id"] == TOOL_CALL_ID
    assert fragments[0]["function"]["name"] == "get_weather"
    assert all({"id", "type"}.isdisjoint(f) and "name" not in f["function"] for f in fragments[1:])
    assert "".join(f["function"]["arguments"] for f in fragments) == TOOL_ARGUMENTS
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls"


async def test_wrong_key_is_rejected_like_openai(upstream: FakeOpenAIUpstream) -> None:
    async with httpx.AsyncClient(base_url=upstream.base_url) as http:
        response = await http.post(
            "/chat/completions", json=chat(), headers={"Authorization": "Bearer nope"}
        )
    assert response.status_code == 401
    body = response.json()
    validate("ErrorResponse", body)
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize("status", [400, 429, 500])
async def test_error_models(client: httpx.AsyncClient, status: int) -> None:
    response = await client.post("/chat/completions", json=chat(f"fake-error-{status}"))
    assert response.status_code == status
    validate("ErrorResponse", response.json())
    assert response.headers.get("retry-after") == ("1" if status == 429 else None)


async def test_slow_model_delays_answer_and_chunks(client: httpx.AsyncClient) -> None:
    started = time.perf_counter()
    await client.post("/chat/completions", json=chat("fake-slow-100"))
    assert time.perf_counter() - started >= 0.1
    started = time.perf_counter()
    events = await stream_events(client, chat("fake-slow-20", stream=True))
    assert time.perf_counter() - started >= 0.02 * (len(events) - 1)


async def test_truncated_answers_break_mid_body(client: httpx.AsyncClient) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("/chat/completions", json=chat("fake-truncate"))
    events: list[Any] = []
    with pytest.raises(httpx.RemoteProtocolError):
        body = chat("fake-truncate", stream=True, stream_options={"include_usage": True})
        async with client.stream("POST", "/chat/completions", json=body) as response:
            async for line in response.aiter_lines():
                if line:
                    events.append(orjson.loads(line.removeprefix("data: ")))
    assert [chunk["choices"][0]["delta"].get("content") for chunk in events] == ["", "This ", "is "]


async def test_garbage_answers(client: httpx.AsyncClient) -> None:
    response = await client.post("/chat/completions", json=chat("fake-garbage"))
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    async with client.stream(
        "POST", "/chat/completions", json=chat("fake-garbage", stream=True)
    ) as r:
        lines = [line async for line in r.aiter_lines() if line]
    assert lines[0] == "data: not json"


async def test_no_usage_model(client: httpx.AsyncClient) -> None:
    body = (await client.post("/chat/completions", json=chat("fake-no-usage"))).json()
    assert "usage" not in body
    events = await stream_events(
        client, chat("fake-no-usage", stream=True, stream_options={"include_usage": True})
    )
    assert events[-1] == "[DONE]"
    assert all("usage" not in chunk and chunk["choices"] for chunk in events[:-1])


async def test_models_and_embeddings(client: httpx.AsyncClient) -> None:
    models = (await client.get("/models")).json()
    validate("ListModelsResponse", models)
    assert "fake-model" in [model["id"] for model in models["data"]]
    body = {"model": "fake-embedding", "input": ["hello world", "again"]}
    first = (await client.post("/embeddings", json=body)).json()
    validate("CreateEmbeddingResponse", first)
    assert first["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    assert first == (await client.post("/embeddings", json=body)).json()


async def test_requests_are_recorded(
    upstream: FakeOpenAIUpstream, client: httpx.AsyncClient
) -> None:
    before = len(upstream.requests)
    await client.post("/chat/completions", json=chat(), headers={"X-Trace": "t1"})
    recorded = upstream.requests[before]
    assert recorded.path == "/v1/chat/completions"
    assert recorded.headers["authorization"] == f"Bearer {API_KEY}"
    assert recorded.headers["x-trace"] == "t1"
    assert recorded.json == chat()


async def test_official_sdk_reads_it(upstream: FakeOpenAIUpstream) -> None:
    sdk = openai.AsyncOpenAI(base_url=upstream.base_url, api_key=API_KEY, max_retries=0)
    completion = await sdk.chat.completions.create(model="fake-model", messages=MESSAGES)
    assert completion.choices[0].message.content == REPLY
    async with sdk.chat.completions.stream(
        model="fake-model", messages=MESSAGES, tools=TOOLS
    ) as stream:
        final = await stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == (
        TOOL_CALL_ID,
        "get_weather",
        TOOL_ARGUMENTS,
    )
    embeddings = await sdk.embeddings.create(model="fake-embedding", input="hello world")
    assert len(embeddings.data[0].embedding) == 8
    with pytest.raises(openai.RateLimitError):
        await sdk.chat.completions.create(model="fake-error-429", messages=MESSAGES)
    await sdk.close()
