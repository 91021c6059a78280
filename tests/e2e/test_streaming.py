"""Streamed chat completions: the wire format the SDK relies on, and usage billed either way."""

import json
from typing import Any

from tests.e2e.support import HI, HI_COST, REPLY, REPLY_TOKENS, TOOLS, Caller, cost_units, sse_data
from tests.fakes.openai_upstream import TOOL_ARGUMENTS, TOOL_CALL_ID
from tests.openai_spec import validate


def _text(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


async def _stream(caller: Caller, body: dict[str, Any]) -> list[Any]:
    async with (
        caller.http() as http,
        http.stream("POST", "/v1/chat/completions", json=body) as response,
    ):
        assert response.headers["x-request-id"].startswith("req_")
        return await sse_data(response)


async def test_stream_without_include_usage_sends_no_usage_but_is_billed_in_full(
    caller: Caller,
) -> None:
    events = await _stream(caller, {"model": "fake/fake-model", "messages": HI, "stream": True})
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert "[DONE]" not in chunks
    for chunk in chunks:
        validate("CreateChatCompletionStreamResponse", chunk)
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk.get("usage") is None
        assert chunk["choices"], "a usage-only chunk reached a client that did not ask for it"
    assert _text(chunks) == REPLY
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    # The gateway asked the upstream for usage anyway, so it could bill the real tokens.
    sent = caller.upstream.requests[-1].json
    assert sent["model"] == "fake-model"
    assert sent["stream"] is True
    assert sent["stream_options"]["include_usage"] is True
    (log,) = await caller.assert_books(calls=1, charged=HI_COST)
    assert (log["input_tokens"], log["output_tokens"]) == (3, REPLY_TOKENS)
    assert log["usage_estimated"] is False


async def test_stream_with_include_usage_ends_with_exactly_one_usage_chunk(
    caller: Caller,
) -> None:
    body = {
        "model": "fake-model",
        "messages": HI,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    events = await _stream(caller, body)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    for chunk in chunks:
        validate("CreateChatCompletionStreamResponse", chunk)
    usage_chunks = [c for c in chunks if c.get("usage") is not None]
    assert len(usage_chunks) == 1
    assert usage_chunks[0] is chunks[-1], "the usage chunk must be the last before [DONE]"
    assert chunks[-1]["choices"] == []
    assert [c for c in chunks if not c["choices"]] == [chunks[-1]]
    usage = chunks[-1]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (3, REPLY_TOKENS)
    assert usage["total_tokens"] == 3 + REPLY_TOKENS
    assert _text(chunks) == REPLY
    assert caller.upstream.requests[-1].json["stream_options"] == {"include_usage": True}
    await caller.assert_books(calls=1, charged=HI_COST)


async def test_sdk_stream_iteration_with_and_without_usage(caller: Caller) -> None:
    client = caller.client()
    stream = await client.chat.completions.create(model="fake/fake-model", messages=HI, stream=True)
    chunks = [chunk async for chunk in stream]
    assert all(chunk.usage is None for chunk in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == REPLY

    stream = await client.chat.completions.create(
        model="fake-model", messages=HI, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == REPLY_TOKENS
    assert all(chunk.usage is None for chunk in chunks[:-1])
    assert "".join(c.choices[0].delta.content or "" for c in chunks[:-1]) == REPLY
    await caller.assert_books(calls=2, charged=2 * HI_COST)


async def test_sdk_stream_helper_assembles_the_message_without_duplication(
    caller: Caller,
) -> None:
    client = caller.client()
    deltas = []
    async with client.chat.completions.stream(model="fake/fake-model", messages=HI) as stream:
        async for event in stream:
            if event.type == "content.delta":
                deltas.append(event.delta)
        final = await stream.get_final_completion()
    message = final.choices[0].message
    assert message.role == "assistant"  # "assistantassistant" if role were repeated
    assert message.content == REPLY
    assert "".join(deltas) == REPLY
    assert final.choices[0].finish_reason == "stop"
    await caller.assert_books(calls=1, charged=HI_COST)


async def test_streamed_tool_call_is_reassembled_by_the_sdk(caller: Caller) -> None:
    client = caller.client()
    messages = [{"role": "user", "content": "weather in Paris?"}]
    async with client.chat.completions.stream(
        model="fake/fake-model", messages=messages, tools=TOOLS
    ) as stream:
        final = await stream.get_final_completion()
    assert caller.upstream.requests[-1].json["tools"] == TOOLS
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.id == TOOL_CALL_ID  # "call_fake_1call_fake_1" if the id were repeated
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert call.function.arguments == TOOL_ARGUMENTS
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    await caller.assert_books(calls=1, charged=cost_units(3, len(TOOL_ARGUMENTS.split())))


async def test_streamed_tool_call_chunks_match_the_spec(caller: Caller) -> None:
    body = {
        "model": "fake-model",
        "messages": [{"role": "user", "content": "weather in Paris?"}],
        "tools": TOOLS,
        "stream": True,
    }
    events = await _stream(caller, body)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    for chunk in chunks:
        validate("CreateChatCompletionStreamResponse", chunk)
    fragments = [
        call for chunk in chunks for call in (chunk["choices"][0]["delta"].get("tool_calls") or [])
    ]
    assert [f.get("id") for f in fragments] == [TOOL_CALL_ID] + [None] * (len(fragments) - 1)
    assert all(f["index"] == 0 for f in fragments)
    assert "".join(f["function"]["arguments"] for f in fragments) == TOOL_ARGUMENTS
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_a_streamed_call_costs_what_the_same_call_costs_unstreamed(caller: Caller) -> None:
    client = caller.client()
    await client.chat.completions.create(model="fake-model", messages=HI)
    stream = await client.chat.completions.create(model="fake-model", messages=HI, stream=True)
    async for _ in stream:
        pass
    plain, streamed = await caller.assert_books(calls=2, charged=2 * HI_COST)
    assert plain["cost_units"] == streamed["cost_units"] == HI_COST
    assert (plain["stream"], streamed["stream"]) == (False, True)
