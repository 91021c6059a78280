"""Chat sessions end to end: the official OpenAI SDK continues a session with
`extra_body={"session_id": ...}`; the fake upstream shows what the gateway really sent."""

import time
from typing import Any

import openai
import pytest

from gatewayz.history import sessions
from tests.e2e.support import REPLY, TOOLS, Caller, cost_units
from tests.fakes.openai_upstream import TOOL_ARGUMENTS, TOOL_CALL_ID, count_words

HISTORY_LIMIT = 1000  # the most recent messages of a session sent with each call (documented)
GENEROUS_SECONDS = 5.0


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


async def new_session(caller: Caller, **fields: Any) -> int:
    async with caller.http() as http:
        response = await http.post("/v1/chat/sessions", json=fields)
    assert response.status_code == 201, response.text
    session_id: int = response.json()["id"]
    return session_id


async def stored(caller: Caller, session_id: int) -> list[dict[str, Any]]:
    async with caller.http() as http:
        response = await http.get(f"/v1/chat/sessions/{session_id}")
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


async def ask(caller: Caller, session_id: int, *messages: dict[str, Any], **options: Any) -> str:
    """One unstreamed turn; returns the answer's request id."""
    raw = await caller.client().chat.completions.with_raw_response.create(
        model="fake/fake-model",
        messages=list(messages),
        extra_body={"session_id": session_id},
        **options,
    )
    assert raw.parse().choices[0].message.content == REPLY
    request_id: str = raw.headers["x-request-id"]
    return request_id


def last_sent(caller: Caller) -> dict[str, Any]:
    sent: dict[str, Any] = caller.upstream.requests[-1].json
    assert "session_id" not in sent  # the gateway's own field never goes upstream
    return sent


async def test_a_second_turn_sees_the_first_turns_prompt_and_answer(caller: Caller) -> None:
    session_id = await new_session(caller, title="Paris", model="fake/fake-model")
    first_id = await ask(caller, session_id, user("first question"))
    assert last_sent(caller)["messages"] == [user("first question")]

    client = caller.client()
    second = await client.chat.completions.create(
        model="fake/fake-model",
        messages=[user("second question")],
        extra_body={"session_id": session_id},
    )
    history = [user("first question"), assistant(REPLY), user("second question")]
    assert last_sent(caller)["messages"] == history
    # The history is prompt the upstream read, so it is billed as input.
    assert second.usage is not None
    assert second.usage.prompt_tokens == sum(count_words(m["content"]) for m in history)

    messages = await stored(caller, session_id)
    assert [m["message"] for m in messages] == [*history, assistant(REPLY)]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[0]["request_id"] == messages[1]["request_id"] == first_id
    assert messages[2]["request_id"] != first_id
    async with caller.http() as http:
        (listed,) = (await http.get("/v1/chat/sessions")).json()["data"]
    assert (listed["id"], listed["message_count"], listed["title"]) == (session_id, 4, "Paris")
    logs = await caller.logs(2)
    assert logs[1]["input_tokens"] == second.usage.prompt_tokens
    charged = sum(cost_units(log["input_tokens"], log["output_tokens"]) for log in logs)
    await caller.assert_books(calls=2, charged=charged)


async def test_a_streamed_answer_is_stored_and_continued(caller: Caller) -> None:
    session_id = await new_session(caller)
    stream = await caller.client().chat.completions.create(
        model="fake/fake-model",
        messages=[user("tell me")],
        stream=True,
        extra_body={"session_id": session_id},
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == REPLY
    assert last_sent(caller)["stream"] is True

    stream = await caller.client().chat.completions.create(
        model="fake/fake-model",
        messages=[user("and then?")],
        stream=True,
        extra_body={"session_id": session_id},
    )
    assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == REPLY
    turns = [user("tell me"), assistant(REPLY), user("and then?")]
    assert last_sent(caller)["messages"] == turns
    assert [m["message"] for m in await stored(caller, session_id)] == [*turns, assistant(REPLY)]


async def test_streamed_tool_calls_are_stored_so_the_tool_result_can_follow(
    caller: Caller,
) -> None:
    session_id = await new_session(caller)
    stream = await caller.client().chat.completions.create(
        model="fake/fake-model",
        messages=[user("weather in Paris?")],
        tools=TOOLS,
        stream=True,
        extra_body={"session_id": session_id},
    )
    async for _ in stream:
        pass
    call = {
        "id": TOOL_CALL_ID,
        "type": "function",
        "function": {"name": "get_weather", "arguments": TOOL_ARGUMENTS},
    }
    asked = {"role": "assistant", "content": None, "tool_calls": [call]}
    assert [m["message"] for m in await stored(caller, session_id)] == [
        user("weather in Paris?"),
        asked,
    ]

    result = {"role": "tool", "tool_call_id": TOOL_CALL_ID, "content": "sunny"}
    await ask(caller, session_id, result)
    assert last_sent(caller)["messages"] == [user("weather in Paris?"), asked, result]


async def test_a_repeated_system_prompt_is_sent_and_stored_once(caller: Caller) -> None:
    session_id = await new_session(caller)
    system = {"role": "system", "content": "Answer in French."}
    await ask(caller, session_id, system, user("hello"))
    await ask(caller, session_id, system, user("again"))
    turns = [system, user("hello"), assistant(REPLY), user("again")]
    assert last_sent(caller)["messages"] == turns
    assert [m["message"] for m in await stored(caller, session_id)] == [*turns, assistant(REPLY)]


async def test_someone_elses_or_an_unknown_session_is_404_before_any_upstream_call(
    caller: Caller, stack: Any
) -> None:
    other = await stack.caller()
    theirs = await new_session(other)
    sent_before = len(caller.upstream.requests)
    for session_id in (theirs, theirs + 10_000):
        with pytest.raises(openai.NotFoundError) as raised:
            await caller.client().chat.completions.create(
                model="fake/fake-model",
                messages=[user("peek")],
                extra_body={"session_id": session_id},
            )
        assert raised.value.status_code == 404
        assert raised.value.body["param"] == "session_id"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as raised:
        await caller.client().chat.completions.create(
            model="fake/fake-model", messages=[user("x")], extra_body={"session_id": "abc"}
        )
    assert raised.value.body["param"] == "session_id"  # type: ignore[index]
    assert len(caller.upstream.requests) == sent_before
    assert await stored(other, theirs) == []
    await caller.assert_books(calls=0, charged=0)


async def test_a_failed_call_stores_nothing(caller: Caller) -> None:
    session_id = await new_session(caller)
    with pytest.raises(openai.InternalServerError):
        await caller.client().chat.completions.create(
            model="fake/fake-error-500",
            messages=[user("lost")],
            extra_body={"session_id": session_id},
        )
    stream = await caller.client().chat.completions.create(
        model="fake/fake-truncate",
        messages=[user("cut off")],
        stream=True,
        extra_body={"session_id": session_id},
    )
    with pytest.raises(openai.APIError):
        async for _ in stream:
            pass
    assert await stored(caller, session_id) == []
    await ask(caller, session_id, user("retry"))
    assert last_sent(caller)["messages"] == [user("retry")]


async def test_a_deleted_session_cannot_be_continued(caller: Caller) -> None:
    session_id = await new_session(caller)
    await ask(caller, session_id, user("remember this"))
    async with caller.http() as http:
        assert (await http.delete(f"/v1/chat/sessions/{session_id}")).status_code == 200
    with pytest.raises(openai.NotFoundError):
        await ask(caller, session_id, user("what did I say?"))


async def test_requests_without_a_session_are_unchanged(caller: Caller) -> None:
    await caller.client().chat.completions.create(
        model="fake/fake-model", messages=[user("standalone")]
    )
    assert last_sent(caller)["messages"] == [user("standalone")]
    async with caller.http() as http:
        assert (await http.get("/v1/chat/sessions")).json()["data"] == []


async def test_other_apis_refuse_session_id_instead_of_ignoring_it(caller: Caller) -> None:
    session_id = await new_session(caller)
    with pytest.raises(openai.BadRequestError) as raised:
        await caller.client().responses.create(
            model="fake/fake-model", input="hi", extra_body={"session_id": session_id}
        )
    assert "session_id" in raised.value.message
    assert await stored(caller, session_id) == []


async def test_a_null_session_id_is_a_plain_call_and_never_goes_upstream(caller: Caller) -> None:
    answer = await caller.client().chat.completions.create(
        model="fake/fake-model", messages=[user("hi")], extra_body={"session_id": None}
    )
    assert answer.choices[0].message.content == REPLY
    assert last_sent(caller)["messages"] == [user("hi")]


async def seed(caller: Caller, session_id: int, messages: list[dict[str, Any]]) -> None:
    """Store messages in the session as one earlier turn, straight into the database."""
    assert await sessions.append_turn(caller.engine, caller.user_id, session_id, messages, "r")


async def post_turn(caller: Caller, session_id: int, messages: list[dict[str, Any]]) -> Any:
    """One unstreamed turn with httpx (the SDK takes seconds to build 20,000 messages)."""
    body = {"model": "fake/fake-model", "messages": messages, "session_id": session_id}
    async with caller.http() as http:
        return await http.post("/v1/chat/completions", json=body)


async def test_a_long_session_sends_its_latest_messages(caller: Caller) -> None:
    session_id = await new_session(caller)
    older = [user(f"q{i}") if i % 2 == 0 else assistant(f"a{i}") for i in range(HISTORY_LIMIT + 11)]
    await seed(caller, session_id, older)
    await ask(caller, session_id, user("next"))
    assert last_sent(caller)["messages"] == [*older[-HISTORY_LIMIT:], user("next")]
    assert len(await stored(caller, session_id)) == len(older) + 2  # nothing is forgotten


async def test_many_repeated_system_prompts_are_deduplicated_quickly(caller: Caller) -> None:
    session_id = await new_session(caller)
    rules = [{"role": "system", "content": f"rule {i}"} for i in range(20_000)]
    await seed(caller, session_id, rules)
    started = time.monotonic()
    response = await post_turn(caller, session_id, [*rules, user("go")])
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    injected = rules[-HISTORY_LIMIT:]  # already in what is sent: not sent twice
    assert last_sent(caller)["messages"] == [*injected, *rules[:-HISTORY_LIMIT], user("go")]
    assert elapsed < GENEROUS_SECONDS


async def test_a_caller_without_credits_is_refused_before_the_history_is_read(
    stack: Any,
) -> None:
    poor = await stack.caller(credits="0")
    session_id = await new_session(poor)
    rules = [{"role": "system", "content": f"rule {i}"} for i in range(20_000)]
    await seed(poor, session_id, rules)
    sent_before = len(poor.upstream.requests)
    started = time.monotonic()
    response = await post_turn(poor, session_id, [*rules, user("go")])
    assert time.monotonic() - started < GENEROUS_SECONDS
    assert response.status_code == 402, response.text
    assert response.json()["error"]["code"] == "insufficient_credits"
    assert len(poor.upstream.requests) == sent_before
    assert len(await stored(poor, session_id)) == len(rules)
    await poor.assert_books(calls=0, charged=0)


async def test_images_in_the_history_count_in_the_hold_as_in_the_request(stack: Any) -> None:
    """Three stored image parts hold 3 x 8,000 input tokens (48,000,000 units at 2 credits per
    million): more than 0.03 credits, though their bytes are few."""
    caller = await stack.caller(credits="0.03")
    picture = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    plain, pictured = await new_session(caller), await new_session(caller)
    await seed(caller, plain, [user("look"), assistant("a cat")])
    await seed(caller, pictured, [{"role": "user", "content": [picture] * 3}, assistant("cats")])
    body = {"model": "fake/fake-model", "messages": [user("and now?")], "max_tokens": 1}
    async with caller.http() as http:
        served = await http.post("/v1/chat/completions", json={**body, "session_id": plain})
        refused = await http.post("/v1/chat/completions", json={**body, "session_id": pictured})
    assert served.status_code == 200, served.text
    assert refused.status_code == 402, refused.text
    assert "0.048" in refused.json()["error"]["message"]  # the three images' input bound
