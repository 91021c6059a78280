"""POST /v1/completions (OpenAI's legacy text completions), as code-completion tools call it:
passed through to OpenAI-format providers and charged like chat. The hold is the prompt's
bytes plus every completion generated (`n`, or `best_of` when larger, per prompt) times
`max_tokens`, 16 when absent (the API's default, sent upstream so); streams ask the upstream
for usage and strip it again when the client did not; providers of other formats are a 400.
"""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.e2e.multi_stack import MultiStack, cost, stack_fixture
from tests.e2e.support import Caller, assert_openai_error, sse_data

MODEL = "fake/fake-model"
PROMPT = "def fibonacci(n):"  # 2 words at the fake
REPLY = "This is a fake reply."
REPLY_TOKENS = 5


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MultiStack]:
    async for stack in stack_fixture(request, tmp_path_factory):
        yield stack


@pytest.fixture
async def caller(stack: MultiStack) -> Caller:
    return await stack.caller()


def _sent(stack: MultiStack) -> dict[str, Any]:
    """The last text completion request the OpenAI-format upstream received."""
    sent = [r for r in stack.openai.requests if r.path == "/v1/completions"]
    assert sent, "the upstream received no text completion"
    body = sent[-1].json
    assert isinstance(body, dict)
    return body


async def test_the_openai_sdk_completes_text_and_is_charged_like_chat(
    stack: MultiStack, caller: Caller
) -> None:
    answer = await caller.client().completions.create(
        model=MODEL, prompt=PROMPT, max_tokens=50, suffix="    return n", echo=False
    )
    assert answer.object == "text_completion"
    assert [choice.text for choice in answer.choices] == [REPLY]
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (2, REPLY_TOKENS)
    sent = _sent(stack)
    assert sent["model"] == "fake-model", "the provider's own model id"
    assert (sent["prompt"], sent["max_tokens"], sent["suffix"]) == (PROMPT, 50, "    return n")
    logs = await caller.assert_books(calls=1, charged=cost("fake", 2, REPLY_TOKENS))
    assert (logs[0]["api"], logs[0]["provider"], logs[0]["status_code"]) == (
        "completions",
        "fake",
        200,
    )


async def test_a_stream_costs_what_the_unstreamed_call_costs(
    stack: MultiStack, caller: Caller
) -> None:
    client = caller.client()
    whole = await client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=50)
    chunks = [
        chunk
        async for chunk in await client.completions.create(
            model=MODEL,
            prompt=PROMPT,
            max_tokens=50,
            stream=True,
            stream_options={"include_usage": True},
        )
    ]
    assert {chunk.object for chunk in chunks} == {"text_completion"}
    text = "".join(choice.text for chunk in chunks for choice in chunk.choices)
    assert text == whole.choices[0].text == REPLY
    usages = [chunk.usage for chunk in chunks if chunk.usage is not None]
    assert usages == [whole.usage], "one usage chunk, the unstreamed call's usage"
    unit = cost("fake", 2, REPLY_TOKENS)
    logs = await caller.assert_books(calls=2, charged=2 * unit)
    assert [(log["stream"], log["cost_units"]) for log in logs] == [(False, unit), (True, unit)]


async def test_usage_is_asked_for_and_stripped_when_the_client_did_not_ask(
    stack: MultiStack, caller: Caller
) -> None:
    async with (
        caller.http() as http,
        http.stream(
            "POST",
            "/v1/completions",
            json={"model": MODEL, "prompt": PROMPT, "max_tokens": 50, "stream": True},
        ) as response,
    ):
        events = await sse_data(response)
    assert events[-1] == "[DONE]"
    assert all("usage" not in event for event in events[:-1]), "no usage the client did not ask"
    assert _sent(stack)["stream_options"] == {"include_usage": True}
    await caller.assert_books(calls=1, charged=cost("fake", 2, REPLY_TOKENS))


async def test_without_max_tokens_the_default_of_16_is_sent_and_held(
    stack: MultiStack,
) -> None:
    """A balance that covers 16 output tokens but not the gateway's chat default of 4096."""
    caller = await stack.caller(credits="0.001")  # 1,000,000 units; 4096 tokens cost 32.8M
    client = caller.client()
    answer = await client.completions.create(model=MODEL, prompt=PROMPT)
    assert answer.choices[0].text == REPLY
    assert _sent(stack)["max_tokens"] == 16
    await caller.assert_books(calls=1, charged=cost("fake", 2, REPLY_TOKENS))
    with pytest.raises(openai.APIStatusError) as refused:
        await client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=4096)
    assert refused.value.status_code == 402


async def test_n_best_of_and_every_prompt_count_in_the_hold(stack: MultiStack) -> None:
    """Two prompts, best_of 3: six completions of up to 500 tokens are held (24M units, more
    than the balance); the same request for one completion is not."""
    caller = await stack.caller(credits="0.01")  # 10,000,000 units
    client = caller.client()
    prompts = [PROMPT, "class Stack:"]
    with pytest.raises(openai.APIStatusError) as refused:
        await client.completions.create(model=MODEL, prompt=prompts, max_tokens=500, n=2, best_of=3)
    assert refused.value.status_code == 402
    one = await client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=500)
    assert one.choices[0].text == REPLY
    many = await client.completions.create(model=MODEL, prompt=prompts, max_tokens=2, n=2)
    assert [choice.index for choice in many.choices] == [0, 1, 2, 3]
    assert many.usage is not None and many.usage.completion_tokens == 4 * 2
    charged = cost("fake", 2, REPLY_TOKENS) + cost("fake", 4, 8)
    await caller.assert_books(calls=2, charged=charged)


async def test_echo_logprobs_and_token_prompts_pass_through(
    stack: MultiStack, caller: Caller
) -> None:
    answer = await caller.client().completions.create(
        model=MODEL, prompt=[101, 2023, 102], max_tokens=3, echo=True, logprobs=2
    )
    assert answer.choices[0].finish_reason == "length"
    sent = _sent(stack)
    assert (sent["prompt"], sent["echo"], sent["logprobs"]) == ([101, 2023, 102], True, 2)
    await caller.assert_books(calls=1, charged=cost("fake", 3, 3))


async def test_a_model_of_another_format_is_a_400_naming_the_model(
    stack: MultiStack, caller: Caller
) -> None:
    before = len(stack.anthropic.requests)
    async with caller.http() as http:
        response = await http.post(
            "/v1/completions", json={"model": "claude/claude-fake", "prompt": PROMPT}
        )
    error = assert_openai_error(response, 400)
    assert error["param"] == "model"
    assert "anthropic" in error["message"] and "completions" in error["message"]
    assert len(stack.anthropic.requests) == before, "nothing was sent upstream"
    await caller.assert_books(calls=0, charged=0)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": MODEL}, "prompt"),
        ({"model": MODEL, "prompt": [1, "a"]}, "prompt"),
        ({"model": MODEL, "prompt": PROMPT, "max_tokens": 0}, "max_tokens"),
        ({"model": MODEL, "prompt": PROMPT, "n": 3, "best_of": 2}, "best_of"),
        ({"model": MODEL, "prompt": PROMPT, "stream": "yes"}, "stream"),
    ],
)
async def test_bad_requests_are_400s_naming_the_field(
    caller: Caller, body: dict[str, Any], param: str
) -> None:
    async with caller.http() as http:
        response = await http.post("/v1/completions", json=body)
    assert assert_openai_error(response, 400)["param"] == param


async def test_the_edge_bounds_and_counts_it_like_the_other_model_calls(
    stack: MultiStack, caller: Caller
) -> None:
    """The model-call body limit (not the smaller one of other endpoints: the body reaches the
    upstream, whose own limit is 1 MiB; past the model-call limit, the gateway's 413), the key,
    and the route in the metrics."""
    settings = stack.services.settings
    over_other = orjson.dumps(
        {"model": MODEL, "prompt": "x " * settings.max_other_body_bytes, "max_tokens": 1}
    )
    async with caller.http() as http:
        big = await http.post("/v1/completions", content=over_other)
        huge = await http.post("/v1/completions", content=b"x" * (settings.max_body_bytes + 1))
        keyless = await http.post(
            "/v1/completions", content=over_other, headers={"Authorization": "Bearer nope"}
        )
        metrics = (await http.get("/metrics")).text
    assert big.json()["error"]["message"].startswith("fake: "), "the upstream answered"
    assert assert_openai_error(huge, 413)["type"] == "invalid_request_error"
    assert assert_openai_error(keyless, 401), (
        "(tests/api/test_authenticate_first.py: before the body)"
    )
    assert 'route="/v1/completions"' in metrics
    (log,) = await caller.assert_books(calls=1, charged=0)
    assert log["provider"] == "fake"


async def test_the_path_without_v1_works_too(
    stack: MultiStack,
) -> None:
    """`/completions` without the /v1 prefix works too, as for chat."""
    caller = await stack.caller()
    async with httpx.AsyncClient(
        base_url=caller.base_url, headers={"Authorization": f"Bearer {caller.api_key}"}
    ) as http:
        response = await http.post(
            "/completions", json={"model": MODEL, "prompt": PROMPT, "max_tokens": 50}
        )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["text"] == REPLY


async def test_the_chat_scope_covers_text_completions(caller: Caller) -> None:
    """A key limited to `chat` completes text; one limited to `messages` gets 403."""
    async with caller.http() as http:
        keys = {}
        for scope in ("chat", "messages"):
            made = await http.post("/user/api-keys", json={"name": scope, "scopes": [scope]})
            assert made.status_code == 201, made.text
            keys[scope] = made.json()["key"]
        body = {"model": MODEL, "prompt": PROMPT, "max_tokens": 50}
        answers = {
            scope: await http.post(
                "/v1/completions", json=body, headers={"Authorization": f"Bearer {key}"}
            )
            for scope, key in keys.items()
        }
    assert answers["chat"].status_code == 200, answers["chat"].text
    assert assert_openai_error(answers["messages"], 403)["code"] == "key_scopes"
