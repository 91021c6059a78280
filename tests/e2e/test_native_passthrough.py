"""What reaches a native upstream under the operator's key: a chat completion sent to an
OpenAI-format provider, a Responses request passed through to an OpenAI-format provider with
`quirks: [responses_api]`, and a Messages request passed through to an Anthropic provider.
Each field is understood and billed, allowed by the provider row (`passthrough_fields`), or
refused with a 400 naming it before anything is sent."""

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import openai
import pytest

from tests.e2e.multi_stack import (
    OPEN_CHAT,
    OPEN_MESSAGES,
    OPEN_RESPONSES,
    REPLY,
    REPLY_TOKENS,
    MultiStack,
    cost,
    stack_fixture,
)
from tests.e2e.support import Caller

PROMPT = "say hi please"  # 3 words
HI = [{"role": "user", "content": PROMPT}]
FUNCTION = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
CLAUDE_TOOL = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MultiStack]:
    async for stack in stack_fixture(request, tmp_path_factory):
        yield stack


@pytest.fixture
async def caller(stack: MultiStack) -> Caller:
    return await stack.caller()


def claude(caller: Caller) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=caller.base_url, api_key=caller.api_key, max_retries=0, timeout=20
    )


# --- Responses, passed through to an OpenAI-format provider --------------------------------

REFUSED_RESPONSES = [
    ({"background": True}, "background"),
    ({"store": True}, "store"),
    ({"previous_response_id": "resp_someone_elses"}, "previous_response_id"),
    ({"conversation": "conv_123"}, "conversation"),
    ({"prompt": {"id": "pmpt_123", "version": "2"}}, "prompt"),
    ({"service_tier": "priority"}, "service_tier"),
    ({"service_tier": "flex"}, "service_tier"),
    ({"context_management": [{"type": "compaction"}]}, "context_management"),
    ({"moderation": {"model": "omni-moderation-latest"}}, "moderation"),
    ({"future_option": {"depth": 2}}, "future_option"),
    (
        {"tools": [{"type": "web_search"}], "tool_choice": {"type": "web_search"}},
        "tools[0].type",
    ),
    (
        {
            "tools": [FUNCTION, {"type": "mcp", "server_label": "x", "server_url": "https://x"}],
            "tool_choice": {"type": "mcp", "server_label": "x"},
        },
        "tools[1].type",
    ),
    ({"tool_choice": {"type": "web_search_preview"}}, "tool_choice.type"),
    ({"include": ["reasoning.encrypted_content", "not.a.value"]}, "include[1]"),
    ({"input": [{"type": "item_reference", "id": "msg_stored"}]}, "input[0]"),
    ({"input": [{"id": "msg_stored"}]}, "input[0]"),
    (
        {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]}]},
        "input[0].content[0].file_id",
    ),
]


@pytest.mark.parametrize(
    ("extra", "param"), REFUSED_RESPONSES, ids=[p for _, p in REFUSED_RESPONSES]
)
async def test_responses_field_the_gateway_cannot_bill_is_refused_before_the_upstream(
    stack: MultiStack, caller: Caller, extra: dict[str, Any], param: str
) -> None:
    before = len(stack.responses.requests)
    body = {"input": PROMPT, **extra}
    with pytest.raises(openai.BadRequestError) as caught:
        await caller.client().responses.create(model="oresp/resp-fake", extra_body=body)
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["param"] == param
    assert param.split("[")[0].split(".")[0] in error["message"]
    assert len(stack.responses.requests) == before  # nothing reached the upstream
    await caller.assert_books(calls=1, charged=0)


HOSTED_TOOLS = [
    {"type": "web_search", "external_web_access": False},
    {"type": "web_search_preview_2025_03_11"},
    {"type": "file_search", "vector_store_ids": ["vs_1"]},
    {"type": "code_interpreter", "container": {"type": "auto"}},
    {"type": "computer_use_preview", "display_width": 1024},
    {"type": "image_generation"},
    {"type": "mcp", "server_label": "x", "server_url": "https://x"},
    {"type": "shell", "environment": {"type": "container_auto"}},
    {"type": "tool_search"},
    {"type": "openrouter:web_search"},
]


@pytest.mark.parametrize("tool", HOSTED_TOOLS, ids=[t["type"] for t in HOSTED_TOOLS])
async def test_a_hosted_tool_the_row_does_not_allow_is_left_out_and_named(
    stack: MultiStack, caller: Caller, tool: dict[str, Any]
) -> None:
    """It would bill its use at the upstream, beyond the usage: the client cannot have it
    through this row, and the rest of the request is served (Codex sends web_search always)."""
    raw = await caller.client().responses.with_raw_response.create(
        model="oresp/resp-fake",
        input=PROMPT,
        tools=[FUNCTION, tool],  # type: ignore[list-item]
    )
    assert raw.headers["x-gatewayz-dropped"] == "tools.1"
    assert stack.responses.requests[-1].json["tools"] == [FUNCTION]
    (log,) = await caller.assert_books(calls=1, charged=cost("oresp", 3, 2))
    assert log["dropped"] == "tools.1"


async def test_a_strict_row_refuses_the_hosted_tool(stack: MultiStack, caller: Caller) -> None:
    before = len(stack.responses.requests)
    with pytest.raises(openai.BadRequestError) as caught:
        await caller.client().responses.create(
            model="oresp-strict/resp-strict", input=PROMPT, tools=[{"type": "web_search"}]
        )
    assert isinstance(caught.value.body, dict) and caught.value.body["param"] == "tools.0"
    assert len(stack.responses.requests) == before


async def test_responses_streamed_refusal_is_a_400_too(stack: MultiStack, caller: Caller) -> None:
    before = len(stack.responses.requests)
    with pytest.raises(openai.BadRequestError) as caught:
        await caller.client().responses.create(
            model="oresp/resp-fake", input=PROMPT, stream=True, background=True
        )
    assert isinstance(caught.value.body, dict) and caught.value.body["param"] == "background"
    assert len(stack.responses.requests) == before


async def test_what_codex_sends_is_passed_through(stack: MultiStack, caller: Caller) -> None:
    """Stateless, client-side tools only: every field is one the gateway can bill."""
    body: dict[str, Any] = {
        "model": "oresp/resp-fake",
        "instructions": "You are terse.",
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": PROMPT}],
            },
            {"type": "reasoning", "summary": [], "encrypted_content": "gAAA"},
        ],
        "tools": [
            FUNCTION,
            {"type": "namespace", "name": "crm", "description": "CRM tools", "tools": [FUNCTION]},
            {"type": "custom", "name": "apply", "description": "free-form input"},
            {"type": "local_shell"},
            {"type": "apply_patch"},
            {"type": "shell", "environment": {"type": "local"}},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "low", "summary": "auto"},
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content", "message.output_text.logprobs"],
        "prompt_cache_key": "thread-1",
        "client_metadata": {"originator": "codex_exec"},
        "service_tier": "auto",
        "text": {"verbosity": "low"},
        "background": False,
        "truncation": "disabled",
        "max_output_tokens": 100,
    }
    fields = {k: v for k, v in body.items() if k not in ("model", "stream")}
    stream = await caller.client().responses.create(
        model=body["model"], stream=True, extra_body=fields
    )
    kinds = [event.type async for event in stream]
    assert kinds[-1] == "response.completed"
    assert stack.responses.requests[-1].json == {**body, "model": "resp-fake"}
    await caller.assert_books(calls=1, charged=cost("oresp", 3 + 3, 2))


async def test_responses_store_is_turned_off_when_left_out(
    stack: MultiStack, caller: Caller
) -> None:
    """OpenAI stores a response unless told not to: nothing is kept at the upstream under the
    operator's key unless the provider row allows `store`."""
    response = await caller.client().responses.create(
        model="oresp/resp-fake", input=PROMPT, service_tier="default"
    )
    assert response.output_text == REPLY
    assert response.store is False
    sent = stack.responses.requests[-1].json
    assert sent == {
        "model": "resp-fake",
        "input": PROMPT,
        "service_tier": "default",
        "store": False,
        "max_output_tokens": 4096,  # the limit held, sent although the client set none
    }
    await caller.assert_books(calls=1, charged=cost("oresp", 3, REPLY_TOKENS))


async def test_what_the_provider_row_allows_reaches_the_upstream(
    stack: MultiStack, caller: Caller
) -> None:
    assert set(OPEN_RESPONSES) >= {"previous_response_id", "store", "tools.web_search"}
    extra = {
        "previous_response_id": "resp_earlier",
        "store": True,
        "service_tier": "priority",
        "tools": [{"type": "web_search"}, {"type": "web_search_2025_08_26"}],
        "tool_choice": {"type": "web_search"},
        "future_option": {"depth": 2},
    }
    response = await caller.client().responses.create(
        model="oresp-open/resp-open", input=PROMPT, extra_body=extra
    )
    assert response.output_text == REPLY
    sent = stack.responses.requests[-1].json
    assert sent == {"model": "resp-open", "input": PROMPT, **extra, "max_output_tokens": 4096}
    await caller.assert_books(calls=1, charged=cost("oresp", 3, REPLY_TOKENS))

    before = len(stack.responses.requests)
    with pytest.raises(openai.BadRequestError) as caught:  # what the row does not name, forced
        await caller.client().responses.create(
            model="oresp-open/resp-open",
            input=PROMPT,
            tools=[{"type": "file_search", "vector_store_ids": ["vs_1"]}],
            tool_choice={"type": "file_search"},
        )
    assert isinstance(caught.value.body, dict) and caught.value.body["param"] == "tools[0].type"
    assert "oresp-open" in caught.value.body["message"]
    assert len(stack.responses.requests) == before


# --- Messages, passed through to an Anthropic provider -------------------------------------

REFUSED_MESSAGES = [
    (
        {"mcp_servers": [{"type": "url", "url": "https://mcp.example.com", "name": "x"}]},
        "mcp_servers",
    ),
    ({"container": "container_123"}, "container"),
    ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools.0.type"),
    (
        {"tools": [CLAUDE_TOOL, {"type": "code_execution_20250825", "name": "code_execution"}]},
        "tools.1.type",
    ),
    ({"tools": [{"type": "web_fetch_20250910", "name": "web_fetch"}]}, "tools.0.type"),
    ({"tools": [{"type": "mcp_toolset", "mcp_server_name": "x"}]}, "tools.0.type"),
    ({"tools": [{"type": "advisor_20260301", "name": "advisor"}]}, "tools.0.type"),
    ({"service_tier": "priority"}, "service_tier"),
    ({"speed": "fast"}, "speed"),
    ({"inference_geo": "us"}, "inference_geo"),
    ({"fallbacks": ["claude-opus-4-1"]}, "fallbacks"),
    ({"compaction": {"type": "auto"}}, "compaction"),
    (
        {"context_management": {"edits": [{"type": "compact_20260112"}]}},
        "context_management.edits.0.type",
    ),
    ({"future_option": {"depth": 2}}, "future_option"),
    (
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "document", "source": {"type": "file", "file_id": "file_1"}},
                        {"type": "text", "text": PROMPT},
                    ],
                }
            ]
        },
        "messages.0.content.0.source",
    ),
]


@pytest.mark.parametrize(("extra", "param"), REFUSED_MESSAGES, ids=[p for _, p in REFUSED_MESSAGES])
async def test_messages_field_the_gateway_cannot_bill_is_refused_before_the_upstream(
    stack: MultiStack, caller: Caller, extra: dict[str, Any], param: str
) -> None:
    before = len(stack.anthropic.requests)
    with pytest.raises(anthropic.BadRequestError) as caught:
        await claude(caller).messages.create(
            model="claude/claude-fake", max_tokens=50, messages=HI, extra_body=extra
        )
    error = caught.value.body
    assert isinstance(error, dict) and error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert param in error["error"]["message"]
    assert len(stack.anthropic.requests) == before  # nothing reached the upstream
    await caller.assert_books(calls=1, charged=0)


async def test_what_claude_code_sends_is_passed_through(stack: MultiStack, caller: Caller) -> None:
    body: dict[str, Any] = {
        "model": "claude/claude-fake",
        "max_tokens": 64,
        "system": [
            {"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}
        ],
        "messages": HI,
        "tools": [
            CLAUDE_TOOL,
            {"type": "bash_20250124", "name": "bash"},
            {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
            {"type": "memory_20250818", "name": "memory"},
        ],
        "tool_choice": {"type": "auto"},
        "metadata": {"user_id": "user_abc"},
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "low"},
        "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]},
        "cache_control": {"type": "ephemeral"},
        "service_tier": "auto",
        "speed": "standard",
        "stream": True,
    }
    fields = {
        k: v for k, v in body.items() if k not in ("model", "max_tokens", "messages", "stream")
    }
    async with claude(caller).messages.stream(
        model=body["model"], max_tokens=64, messages=HI, extra_body=fields
    ) as stream:
        final = await stream.get_final_message()
    assert final.stop_reason == "tool_use"  # the fake calls the first tool it is given
    assert stack.anthropic.requests[-1].json == {**body, "model": "claude-fake"}
    await caller.assert_books(calls=1, charged=cost("claude", 3 + 3, 2))


async def test_what_the_anthropic_row_allows_reaches_the_upstream(
    stack: MultiStack, caller: Caller
) -> None:
    assert set(OPEN_MESSAGES) >= {"mcp_servers", "tools.web_search", "messages.file_id"}
    document = {"type": "document", "source": {"type": "file", "file_id": "file_1"}}
    messages = [{"role": "user", "content": [document, {"type": "text", "text": PROMPT}]}]
    extra = {
        "mcp_servers": [{"type": "url", "url": "https://mcp.example.com", "name": "x"}],
        "tools": [{"type": "web_search_20250305", "name": "web_search"}],
        "speed": "fast",
        "future_option": {"depth": 2},
    }
    message = await claude(caller).messages.create(
        model="claude-open/claude-open", max_tokens=50, messages=messages, extra_body=extra
    )
    assert message.stop_reason == "tool_use"
    sent = stack.anthropic.requests[-1].json
    assert sent == {"model": "claude-open", "max_tokens": 50, "messages": messages, **extra}
    await caller.assert_books(calls=1, charged=cost("claude", 3, 2))

    before = len(stack.anthropic.requests)
    with pytest.raises(anthropic.BadRequestError) as caught:  # what the row does not name
        await claude(caller).messages.create(
            model="claude-open/claude-open",
            max_tokens=50,
            messages=HI,
            extra_body={"container": "container_1"},
        )
    assert isinstance(caught.value.body, dict)
    assert "'container'" in caught.value.body["error"]["message"]
    assert len(stack.anthropic.requests) == before


# --- Chat completions, sent to an OpenAI-format provider -----------------------------------

REFUSED_CHAT = [
    ({"web_search_options": {}}, "web_search_options"),
    ({"search_parameters": {"mode": "on"}}, "search_parameters"),
    ({"plugins": [{"id": "web"}]}, "plugins"),
    ({"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
    ({"modalities": ["text", "audio"]}, "modalities"),
    ({"service_tier": "priority"}, "service_tier"),
    ({"store": True}, "store"),
    ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
]


@pytest.mark.parametrize(("extra", "param"), REFUSED_CHAT)
async def test_chat_field_the_upstream_would_bill_beyond_the_usage_is_refused(
    stack: MultiStack, caller: Caller, extra: dict[str, Any], param: str
) -> None:
    before = len(stack.openai.requests)
    with pytest.raises(openai.BadRequestError) as caught:
        await caller.client().chat.completions.create(
            model="fake/fake-model",
            messages=HI,  # type: ignore[arg-type]
            extra_body=extra,
        )
    error = caught.value.body
    assert isinstance(error, dict) and error["param"] == param
    assert "is not passed through to fake" in error["message"]
    assert len(stack.openai.requests) == before
    await caller.assert_books(calls=1, charged=0)


async def test_chat_fields_the_row_allows_and_sampling_extras_reach_the_upstream(
    stack: MultiStack, caller: Caller
) -> None:
    assert set(OPEN_CHAT) >= {"web_search_options", "store", "service_tier"}
    extra = {"web_search_options": {}, "store": True, "service_tier": "priority"}
    await caller.client().chat.completions.create(
        model="fake-open/chat-open",
        messages=HI,  # type: ignore[arg-type]
        extra_body={**extra, "top_k": 20, "repetition_penalty": 1.1},
    )
    sent = stack.openai.requests[-1].json
    assert {k: sent[k] for k in extra} == extra
    assert (sent["top_k"], sent["repetition_penalty"]) == (20, 1.1)
    await caller.client().chat.completions.create(
        model="fake/fake-model",
        messages=HI,  # type: ignore[arg-type]
        extra_body={"top_k": 20, "service_tier": "auto", "store": False},
    )
    assert stack.openai.requests[-1].json["top_k"] == 20
