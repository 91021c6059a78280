"""The built-in demo provider through a running gateway: every client API gets a deterministic
answer with real usage, at no cost, on the whole real path (holds, settlement, request log)."""

from collections.abc import AsyncIterator

import anthropic
import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.providers import demo_model
from tests.conftest import add_funded_user, gateway_settings, serve
from tests.e2e.support import Caller, new_caller
from tests.fakes.openai_upstream import FakeOpenAIUpstream

MODEL = "demo/demo-chat"
HELLO = [{"role": "user", "content": "Hello there!"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}


@pytest.fixture
async def demo(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> AsyncIterator[Caller]:
    """A gateway with the demo provider on, and a user who holds no credits at all."""
    settings = gateway_settings(database_url, upstream, demo_provider=True)
    async with serve(settings) as (base_url, state):
        yield await new_caller(base_url, engine, state, upstream, database_url, credits="0")


def _prompt_tokens(messages: list[dict[str, str]]) -> int:
    return sum(3 + demo_model.count_tokens(m["content"]) for m in messages)


async def test_chat_answers_deterministically_with_real_usage_and_costs_nothing(
    demo: Caller,
) -> None:
    client = demo.client()
    first = await client.chat.completions.create(model=MODEL, messages=HELLO)  # type: ignore[arg-type]
    again = await client.chat.completions.create(model=MODEL, messages=HELLO)  # type: ignore[arg-type]
    text = first.choices[0].message.content or ""
    assert text == again.choices[0].message.content
    assert text.startswith("Hello! This is the Gatewayz demo model.")
    assert text.endswith("You said: Hello there!")
    assert first.usage is not None
    assert first.usage.prompt_tokens == _prompt_tokens(HELLO)
    assert first.usage.completion_tokens == demo_model.count_tokens(text)
    logs = await demo.assert_books(calls=2, charged=0)
    assert {log["provider"] for log in logs} == {"demo"}
    assert logs[0]["output_tokens"] == first.usage.completion_tokens


async def test_streams_arrive_word_by_word_with_usage_and_equal_the_unstreamed_answer(
    demo: Caller,
) -> None:
    client = demo.client()
    whole = await client.chat.completions.create(model=MODEL, messages=HELLO)  # type: ignore[arg-type]
    stream = await client.chat.completions.create(
        model=MODEL,
        messages=HELLO,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(pieces) > 10
    assert "".join(pieces) == whole.choices[0].message.content
    assert chunks[-1].usage is not None and chunks[-1].usage == whole.usage
    await demo.assert_books(calls=2, charged=0)


async def test_offered_tools_are_called_and_a_tool_result_is_answered(demo: Caller) -> None:
    client = demo.client()
    called = await client.chat.completions.create(model=MODEL, messages=HELLO, tools=[WEATHER])  # type: ignore[arg-type,list-item]
    choice = called.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.function.name == "get_weather"
    assert orjson.loads(call.function.arguments) == {"city": "demo", "days": 1}
    answered = await client.chat.completions.create(
        model=MODEL,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[
            *HELLO,
            {"role": "assistant", "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21 C"},
        ],  # type: ignore[list-item]
    )
    assert answered.choices[0].message.content == "The tool answered: Sunny, 21 C"
    assert answered.choices[0].finish_reason == "stop"


async def test_json_schema_answers_match_the_schema_and_max_tokens_cuts(demo: Caller) -> None:
    client = demo.client()
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    shaped = await client.chat.completions.create(
        model=MODEL,
        messages=HELLO,  # type: ignore[arg-type]
        response_format={"type": "json_schema", "json_schema": {"name": "p", "schema": schema}},
    )
    assert orjson.loads(shaped.choices[0].message.content or "") == {"name": "demo"}
    cut = await client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=3)  # type: ignore[arg-type]
    assert cut.choices[0].finish_reason == "length"
    assert cut.usage is not None and cut.usage.completion_tokens == 3


async def test_messages_responses_and_embeddings_are_answered_too(demo: Caller) -> None:
    claude = anthropic.AsyncAnthropic(base_url=demo.base_url, api_key=demo.api_key, max_retries=0)
    message = await claude.messages.create(model=MODEL, max_tokens=200, messages=HELLO)  # type: ignore[arg-type]
    assert message.content[0].type == "text"
    assert message.content[0].text.startswith("Hello! This is the Gatewayz demo model.")
    assert message.usage.input_tokens == _prompt_tokens(HELLO)
    async with claude.messages.stream(model=MODEL, max_tokens=200, messages=HELLO) as stream:  # type: ignore[arg-type]
        streamed = await stream.get_final_message()
    assert streamed.content[0].text == message.content[0].text  # type: ignore[union-attr]
    client = demo.client()
    response = await client.responses.create(model=MODEL, input="Hello there!")
    assert response.output_text.endswith("You said: Hello there!")
    vectors = await client.embeddings.create(model="demo/demo-embed", input=["a", "b"])
    assert len(vectors.data) == 2 and len(vectors.data[0].embedding) == 256
    assert vectors.data[0].embedding != vectors.data[1].embedding
    await demo.assert_books(calls=4, charged=0)


async def test_the_demo_provider_is_listed_and_can_be_turned_off(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream, demo: Caller
) -> None:
    async with httpx.AsyncClient(base_url=demo.base_url) as http:
        models = (await http.get("/v1/models")).json()["data"]
        providers = (await http.get("/v1/providers")).json()["data"]
    assert {"demo/demo-chat", "demo/demo-embed"} <= {m["id"] for m in models}
    assert any(p["id"] == "demo" and p["enabled"] for p in providers)
    _, key = await add_funded_user(engine, "nodemo@example.com", "1")
    async with (
        serve(gateway_settings(database_url, upstream)) as (base_url, _),
        httpx.AsyncClient(base_url=base_url) as http,
    ):
        refused = await http.post(
            "/v1/chat/completions",
            json={"model": MODEL, "messages": HELLO},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert refused.status_code == 404
    assert "demo/demo-chat" in refused.json()["error"]["message"]
