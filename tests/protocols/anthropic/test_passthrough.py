"""The field policy of a Messages request passed through to an Anthropic upstream: every body
field of the official SDK's MessageCreateParams (beta included) is billed, allowed by the
provider row, or refused naming it."""

import typing
from typing import Any

import pytest
from anthropic.types import message_create_params
from anthropic.types.beta import message_create_params as beta_params

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.anthropic import passthrough
from gatewayz.protocols.anthropic.passthrough import native_request
from gatewayz.protocols.anthropic.signature import Reasoning, sign
from gatewayz.protocols.fields import Dropped

NONE: frozenset[str] = frozenset()
HI = [{"role": "user", "content": "hi"}]
TOOL = {"name": "f", "input_schema": {"type": "object"}}
HEADERS = {"user_profile_id", "workspace_id", "betas"}  # the SDK sends these as headers


def refused(body: dict[str, Any], allowed: frozenset[str] = NONE) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        native_request(
            {"model": "c", "max_tokens": 5, "messages": HI, **body}, "up", "ant", allowed
        )
    return caught.value


def sent(body: dict[str, Any], allowed: frozenset[str] = NONE) -> dict[str, Any]:
    return native_request(
        {"model": "c", "max_tokens": 5, "messages": HI, **body}, "up", "ant", allowed
    )


@pytest.mark.parametrize(
    "params", [message_create_params.MessageCreateParamsBase, beta_params.MessageCreateParamsBase]
)
def test_every_sdk_body_field_is_billed_or_refused_unless_allowed(params: type) -> None:
    fields = set(typing.get_type_hints(params)) - HEADERS
    assert {"model", "messages", "max_tokens", "tools", "container"} <= fields
    classified = passthrough._BILLED | set(passthrough._UNLESS_ALLOWED)
    assert fields <= classified | {"stream"}, f"unclassified: {sorted(fields - classified)}"


def test_the_body_is_kept_with_the_providers_model_id() -> None:
    body = {
        "model": "claude/c",
        "max_tokens": 5,
        "messages": HI,
        "system": [{"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "service_tier": "standard_only",
        "container": None,  # null: the same as leaving it out
    }
    assert native_request(body, "c", "ant", NONE) == {**body, "model": "c"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mcp_servers", [{"type": "url", "url": "https://x", "name": "x"}]),
        ("container", {"id": "container_1"}),
        ("inference_geo", "us"),
        ("fallbacks", ["claude-x"]),
        ("compaction", {}),
        ("diagnostics", {"previous_message_id": "msg_1"}),
        ("billing_policy", {"type": "billing_policy", "bill_to": "user_profile"}),
        ("thread", {"type": "continue", "previous_message_id": "msg_1"}),
        ("service_tier", "priority"),
        ("speed", "fast"),
        ("x_vendor_extension", 1),
    ],
)
def test_a_refused_field_passes_once_the_row_names_it(field: str, value: Any) -> None:
    error = refused({field: value})
    assert error.param == field
    assert f"'{field}'" in error.message and "ant" in error.message
    assert sent({field: value}, frozenset({field}))[field] == value


@pytest.mark.parametrize(
    "kind",
    [
        "web_search_20250305",
        "web_search_20260318",
        "web_fetch_20250910",
        "code_execution_20250825",
        "tool_search_tool_regex_20251119",
        "tool_search_tool_bm25",
        "mcp_toolset",
        "advisor_20260301",
        "browser_toolset_20260801",
        "computer_toolset_20260801",
    ],
)
def test_server_tools_are_refused_unless_allowed_by_type_or_family(kind: str) -> None:
    tools = [TOOL, {"type": kind, "name": "x"}]
    assert refused({"tools": tools}).param == "tools.1.type"
    assert sent({"tools": tools}, frozenset({f"tools.{passthrough.family(kind)}"}))
    assert sent({"tools": tools}, frozenset({f"tools.{kind}"}))


def test_client_tools_pass() -> None:
    tools = [
        TOOL,
        {**TOOL, "type": "custom"},
        {"type": "bash_20250124", "name": "bash"},
        {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
        {"type": "computer_20250124", "name": "computer", "display_width_px": 1024},
        {"type": "memory_20250818", "name": "memory"},
    ]
    assert sent({"tools": tools})["tools"] == tools


def test_context_edits_that_only_drop_content_pass() -> None:
    edits = [{"type": "clear_tool_uses_20250919"}, {"type": "clear_thinking_20251015"}]
    assert sent({"context_management": {"edits": edits}})
    compact = {"edits": [*edits, {"type": "compact_20260112"}]}
    assert refused({"context_management": compact}).param == "context_management.edits.2.type"
    assert sent({"context_management": compact}, frozenset({"context_management.compact"}))
    assert sent({"context_management": compact}, frozenset({"context_management"}))


@pytest.mark.parametrize(
    ("block", "param"),
    [
        ({"type": "document", "source": {"type": "file", "file_id": "f"}}, "0.source"),
        ({"type": "image", "source": {"type": "file", "file_id": "f"}}, "0.source"),
        ({"type": "container_upload", "file_id": "f"}, "0.type"),
        (
            {
                "type": "tool_result",
                "tool_use_id": "t",
                "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}],
            },
            "0.content.0.source",
        ),
    ],
)
def test_files_stored_upstream_are_refused_unless_allowed(
    block: dict[str, Any], param: str
) -> None:
    messages = [{"role": "user", "content": [block, {"type": "text", "text": "hi"}]}]
    assert refused({"messages": messages}).param == f"messages.0.content.{param}"
    assert sent({"messages": messages}, frozenset({"messages.file_id"}))["messages"] == messages


def test_inline_and_url_sources_pass() -> None:
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}},
        {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}},
        {"type": "text", "text": "hi"},
    ]
    messages = [{"role": "user", "content": content}]
    assert sent({"messages": messages})["messages"] == messages


def test_thinking_the_gateway_signed_is_left_out() -> None:
    own = {"type": "thinking", "thinking": "", "signature": sign(Reasoning("ds", "reasoning", "x"))}
    anthropic = {"type": "thinking", "thinking": "hm", "signature": "EqQB"}
    text = {"type": "text", "text": "ok"}
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [own, text]},
        {"role": "user", "content": "more"},
        {"role": "assistant", "content": [own]},
        {"role": "user", "content": "and"},
        {"role": "assistant", "content": [anthropic, text]},
        {"role": "user", "content": "end"},
    ]
    body = {"model": "c", "max_tokens": 5, "messages": messages}
    dropped = Dropped()
    kept = passthrough.without_gateway_thinking(body, dropped)["messages"]
    assert kept == [
        messages[0],
        {"role": "assistant", "content": [text]},
        *messages[2:3],
        *messages[4:],
    ]
    assert dropped.paths == ["messages.*.content.*.thinking"]
    untouched = Dropped()
    plain = {**body, "messages": messages[4:]}
    assert passthrough.without_gateway_thinking(plain, untouched) is plain
    assert untouched.paths == []
