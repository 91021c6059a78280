"""The field policy of a Responses request passed through to a native upstream: every field
of OpenAI's CreateResponse is billed, allowed by the provider row, or refused naming it."""

import functools
from typing import Any

import pytest
import yaml

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.fields import Dropped
from gatewayz.protocols.responses import common, passthrough
from gatewayz.protocols.responses.passthrough import native_request
from tests.openai_spec import SPEC_PATH

NONE: frozenset[str] = frozenset()
FUNCTION = {"type": "function", "name": "f", "parameters": {"type": "object"}}


@functools.cache
def schemas() -> dict[str, Any]:
    with SPEC_PATH.open(encoding="utf-8") as spec_file:
        spec = yaml.load(spec_file, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    found: dict[str, Any] = spec["components"]["schemas"]
    return found


def properties(name: str) -> set[str]:
    """Every property of a spec schema, through its allOf and $refs."""
    schema = schemas()[name]
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", ()):
        if "$ref" in part:
            names |= properties(part["$ref"].rsplit("/", 1)[-1])
        names |= set(part.get("properties", {}))
    return names


def refused(body: dict[str, Any], allowed: frozenset[str] = NONE) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        native_request({"model": "gpt-x", "input": "hi", **body}, "up", "oai", allowed)
    return caught.value


def sent(body: dict[str, Any], allowed: frozenset[str] = NONE) -> dict[str, Any]:
    return native_request({"model": "gpt-x", "input": "hi", **body}, "up", "oai", allowed)


def test_every_create_response_field_is_billed_or_refused_unless_allowed() -> None:
    fields = properties("CreateResponse")
    assert {"model", "input", "background", "store", "tools"} <= fields
    classified = passthrough._BILLED | set(passthrough._UNLESS_ALLOWED)
    assert fields <= classified, f"unclassified: {sorted(fields - classified)}"
    assert set(passthrough._UNLESS_ALLOWED).isdisjoint(passthrough._BILLED)


def test_include_values_and_tool_types_are_the_specs() -> None:
    assert set(schemas()["IncludeEnum"]["enum"]) == common.INCLUDE
    types: set[str] = set()
    for ref in schemas()["Tool"]["oneOf"]:
        types |= set(schemas()[ref["$ref"].rsplit("/", 1)[-1]]["properties"]["type"]["enum"])
    assert types >= common.CLIENT_TOOLS
    hosted = types - common.CLIENT_TOOLS - {"shell"}
    assert {"web_search", "file_search", "code_interpreter", "mcp", "image_generation"} <= hosted
    for kind in sorted(hosted):
        assert refused({"tools": [{"type": kind}]}).param == "tools[0].type"


def test_the_body_keeps_every_field_and_takes_the_providers_model_id() -> None:
    body = {
        "model": "oai/gpt-x",
        "input": [{"role": "user", "content": "hi"}],
        "instructions": "Be brief.",
        "max_output_tokens": 10,
        "store": False,
        "metadata": {"a": "b"},
        "service_tier": None,
        "previous_response_id": None,  # null: the same as leaving it out
    }
    assert native_request(body, "gpt-x", "oai", NONE) == {**body, "model": "gpt-x"}


def test_responses_are_not_stored_upstream_unless_the_row_allows_it() -> None:
    assert sent({})["store"] is False
    assert sent({"store": None})["store"] is False
    assert "store" not in sent({}, frozenset({"store"}))
    assert sent({"store": True}, frozenset({"store"}))["store"] is True
    assert refused({"store": True}).param == "store"


def test_background_is_refused() -> None:
    """A row cannot allow it (see tests/providers/test_spec.py): it could never be billed."""
    error = refused({"background": True}, frozenset({"store", "tools.web_search"}))
    assert error.param == "background"
    assert "oai" in error.message
    assert sent({"background": False})["background"] is False


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("previous_response_id", "resp_1"),
        ("conversation", {"id": "conv_1"}),
        ("prompt", {"id": "pmpt_1"}),
        ("context_management", [{"type": "compaction"}]),
        ("moderation", {"model": "omni-moderation-latest"}),
        ("service_tier", "priority"),
        ("service_tier", "scale"),
        ("x_vendor_extension", 1),
    ],
)
def test_a_refused_field_passes_once_the_row_names_it(field: str, value: Any) -> None:
    assert refused({field: value}).param == field
    assert sent({field: value}, frozenset({field}))[field] == value


def test_hosted_tools_pass_by_type_or_by_family() -> None:
    dated = {"tools": [{"type": "web_search_preview_2025_03_11"}]}
    assert refused(dated).param == "tools[0].type"
    assert sent(dated, frozenset({"tools.web_search_preview"}))["tools"] == dated["tools"]
    assert sent(dated, frozenset({"tools.web_search_preview_2025_03_11"}))
    assert refused(dated, frozenset({"tools.web_search"})).param == "tools[0].type"


def test_client_tools_pass_and_namespaces_are_checked_inside() -> None:
    tools = [
        FUNCTION,
        {"type": "custom", "name": "c"},
        {"type": "local_shell"},
        {"type": "apply_patch"},
        {"type": "shell"},
        {"type": "shell", "environment": {"type": "local"}},
        {"type": "namespace", "name": "n", "description": "d", "tools": [FUNCTION]},
    ]
    assert sent({"tools": tools})["tools"] == tools
    hosted_shell = {"type": "shell", "environment": {"type": "container_auto"}}
    assert refused({"tools": [hosted_shell]}).param == "tools[0].type"
    inner = {"type": "namespace", "name": "n", "description": "d", "tools": [{"type": "mcp"}]}
    assert refused({"tools": [inner]}).param == "tools[0].tools[0].type"
    assert refused({"tools": [{"name": "untyped"}]}).param == "tools[0].type"


@pytest.mark.parametrize(
    ("choice", "param"),
    [
        ({"type": "file_search"}, "tool_choice.type"),
        ({"type": "mcp", "server_label": "x"}, "tool_choice.type"),
        ({"type": "allowed_tools", "mode": "auto", "tools": [{"type": "mcp"}]}, None),
    ],
)
def test_a_forced_hosted_tool_is_refused(choice: dict[str, Any], param: str | None) -> None:
    error = refused({"tools": [FUNCTION], "tool_choice": choice})
    assert error.param == (param or "tool_choice.tools[0].type")


def test_forcing_a_tool_of_the_request_passes() -> None:
    for choice in ("auto", "required", {"type": "function", "name": "f"}):
        assert sent({"tools": [FUNCTION], "tool_choice": choice})["tool_choice"] == choice
    shell = [{"type": "shell", "environment": {"type": "local"}}]
    assert sent({"tools": shell, "tool_choice": {"type": "shell"}})


def test_include_values_are_known_or_allowed() -> None:
    known = ["reasoning.encrypted_content", "message.output_text.logprobs"]
    assert sent({"include": known})["include"] == known
    assert refused({"include": [*known, "future.value"]}).param == "include[2]"
    assert sent({"include": ["future.value"]}, frozenset({"include.future.value"}))


@pytest.mark.parametrize(
    ("item", "param", "allowance"),
    [
        ({"type": "item_reference", "id": "msg_1"}, "input[0]", "input.item_reference"),
        ({"id": "msg_1"}, "input[0]", "input.item_reference"),
        (
            {"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]},
            "input[0].content[0].file_id",
            "input.file_id",
        ),
        (
            {
                "type": "function_call_output",
                "call_id": "c",
                "output": [{"type": "input_file", "file_id": "file-1"}],
            },
            "input[0].output[0].file_id",
            "input.file_id",
        ),
    ],
)
def test_what_the_upstream_stores_is_not_referred_to(
    item: dict[str, Any], param: str, allowance: str
) -> None:
    assert refused({"input": [item]}).param == param
    assert sent({"input": [item]}, frozenset({allowance}))["input"] == [item]


def test_inline_files_and_images_pass() -> None:
    parts = [
        {"type": "input_text", "text": "read this"},
        {"type": "input_file", "file_data": "data:application/pdf;base64,AAAA"},
        {"type": "input_image", "image_url": "https://example.com/cat.png"},
    ]
    body = {"input": [{"role": "user", "content": parts}]}
    assert sent(body)["input"] == body["input"]


def test_a_hosted_tool_the_row_does_not_allow_is_dropped_and_named() -> None:
    """Codex sends a web_search tool every turn: left out (named), the rest passed through."""
    dropped = Dropped("oai")
    tools = [FUNCTION, {"type": "web_search", "external_web_access": False}, FUNCTION]
    body = {"model": "gpt-x", "input": "hi", "tools": tools, "tool_choice": "auto"}
    out = native_request(body, "up", "oai", NONE, dropped)
    assert out == {**body, "model": "up", "tools": [FUNCTION, FUNCTION], "store": False}
    assert dropped.paths == ["tools.1"]
    allowed = frozenset({"tools.web_search"})
    assert native_request(body, "up", "oai", allowed, Dropped("oai"))["tools"] == tools


@pytest.mark.parametrize(
    "choice",
    [
        {"type": "web_search"},
        {"type": "allowed_tools", "mode": "required", "tools": [{"type": "web_search"}]},
    ],
)
def test_a_hosted_tool_the_request_forces_is_still_refused(choice: dict[str, Any]) -> None:
    dropped = Dropped("oai")
    body = {
        "model": "gpt-x",
        "input": "hi",
        "tools": [{"type": "web_search"}],
        "tool_choice": choice,
    }
    with pytest.raises(InvalidRequest) as caught:
        native_request(body, "up", "oai", NONE, dropped)
    assert caught.value.param in ("tools[0].type", "tool_choice.tools[0].type")


def test_a_strict_row_refuses_the_hosted_tool_instead() -> None:
    body = {"model": "gpt-x", "input": "hi", "tools": [{"type": "web_search"}]}
    with pytest.raises(InvalidRequest) as caught:
        native_request(body, "up", "oai", NONE, Dropped("oai", strict=True))
    assert caught.value.param == "tools.0"
