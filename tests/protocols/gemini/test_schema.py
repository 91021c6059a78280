"""JSON schemas (tool parameters, response formats) as Gemini Schemas."""

from typing import Any

import pytest

from gatewayz.protocols.gemini import chat_to_gemini_request
from gatewayz.protocols.gemini.schema import MAX_INLINED_NODES, MAX_SCHEMA_DEPTH
from tests.protocols.gemini.helpers import chat_request, refused


def test_response_format_json_object_and_json_schema() -> None:
    plain = chat_to_gemini_request(chat_request(response_format={"type": "json_object"}))
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "when": {"type": "string", "format": "date-time"},
        },
        "required": ["city"],
        "additionalProperties": False,
    }
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "x", "strict": True, "schema": schema},
    }
    typed = chat_to_gemini_request(chat_request(response_format=response_format))

    assert plain["generationConfig"] == {"responseMimeType": "application/json"}
    assert typed["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseSchema": {
            "type": "OBJECT",
            "properties": {
                "city": {"type": "STRING"},
                "when": {"type": "STRING", "format": "date-time"},
            },
            "required": ["city"],
        },
    }


def test_pydantic_style_schema_refs_and_optionals_are_inlined() -> None:
    parameters = {
        "$defs": {
            "Unit": {"type": "string", "enum": ["C", "F"], "title": "Unit"},
        },
        "type": "object",
        "properties": {
            "unit": {"$ref": "#/$defs/Unit", "description": "Temperature unit"},
            "days": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
            "uri": {"type": "string", "format": "uri"},
        },
    }
    tools = [{"type": "function", "function": {"name": "forecast", "parameters": parameters}}]

    out = chat_to_gemini_request(chat_request(tools=tools))
    declaration = out["tools"][0]["functionDeclarations"][0]

    assert declaration["parameters"] == {
        "type": "OBJECT",
        "properties": {
            "unit": {
                "type": "STRING",
                "enum": ["C", "F"],
                "title": "Unit",
                "description": "Temperature unit",
            },
            "days": {"type": "INTEGER", "nullable": True, "default": None},
            "uri": {"type": "STRING"},
        },
    }


@pytest.mark.parametrize(
    ("parameters", "param"),
    [
        (
            {"type": "object", "properties": {"a": {"oneOf": [{"type": "string"}]}}},
            "properties.a.oneOf",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "integer", "enum": [1, 2]}}},
            "properties.a.enum",
        ),
        (
            {
                "type": "object",
                "properties": {"a": {"$ref": "#/$defs/Node"}},
                "$defs": {
                    "Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}
                },
            },
            "properties.a.properties.next.$ref",
        ),
        ({"type": ["string", "integer"]}, "type"),
    ],
)
def test_schemas_gemini_cannot_express_are_refused(parameters: dict[str, Any], param: str) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": parameters}}]

    assert refused(chat_request(tools=tools)).param == f"tools.0.function.parameters.{param}"


def fan_out(depth: int, leaf: dict[str, Any] | None = None) -> dict[str, Any]:
    """A chain of definitions each referring to the next twice: 2**depth leaves inlined."""
    defs: dict[str, Any] = {f"d{depth}": leaf or {"type": "string"}}
    for i in range(depth):
        ref = {"$ref": f"#/$defs/d{i + 1}"}
        defs[f"d{i}"] = {"type": "object", "properties": {"a": ref, "b": ref}}
    return {"$defs": defs, "$ref": "#/$defs/d0"}


def tools(*schemas: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"type": "function", "function": {"name": f"f{i}", "parameters": schema}}
        for i, schema in enumerate(schemas)
    ]


def test_refs_fanning_out_are_refused_once_the_copies_pass_the_bound() -> None:
    error = refused(chat_request(tools=tools(fan_out(40))))  # 2**40 nodes, were it inlined

    assert error.param is not None
    assert error.param.startswith("tools.0.function.parameters")
    assert f"{MAX_INLINED_NODES:,}" in error.message


def test_the_bound_holds_for_the_whole_request_not_each_schema() -> None:
    small = fan_out(8)  # about 500 copied nodes
    assert chat_to_gemini_request(chat_request(tools=tools(small)))
    many = [small] * (MAX_INLINED_NODES // 256)

    assert refused(chat_request(tools=tools(*many))).param.startswith("tools.")


def test_copied_values_count_too() -> None:
    leaf = {"type": "string", "description": "x" * 100_000}
    assert refused(chat_request(tools=tools(fan_out(5, leaf)))).param.startswith("tools.0")
    assert chat_to_gemini_request(chat_request(tools=tools(fan_out(3, leaf))))


def test_schemas_nested_too_deep_are_refused() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(MAX_SCHEMA_DEPTH + 1):
        schema = {"type": "array", "items": schema}

    error = refused(chat_request(tools=tools(schema)))

    assert error.param == "tools.0.function.parameters" + ".items" * (MAX_SCHEMA_DEPTH + 1)


def test_a_large_schema_without_refs_is_not_bounded() -> None:
    properties = {f"p{i}": {"type": "string"} for i in range(2 * MAX_INLINED_NODES)}
    schema = {"type": "object", "properties": properties}

    out = chat_to_gemini_request(chat_request(tools=tools(schema)))

    assert len(out["tools"][0]["functionDeclarations"][0]["parameters"]["properties"]) == len(
        properties
    )


def test_a_recursive_ref_names_the_cycle() -> None:
    parameters = {
        "$defs": {
            "A": {"type": "object", "properties": {"b": {"$ref": "#/$defs/B"}}},
            "B": {"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}},
        },
        "$ref": "#/$defs/A",
    }

    error = refused(chat_request(tools=tools(parameters)))

    assert error.param == "tools.0.function.parameters.properties.b.properties.a.$ref"
    assert "A -> B -> A" in error.message


@pytest.mark.parametrize("ref", ["#/$defs/Missing", "https://example.com/s.json", 3])
def test_a_ref_to_no_local_definition_is_refused(ref: Any) -> None:
    parameters = {"type": "object", "properties": {"x": {"$ref": ref}}, "$defs": {"A": {}}}

    assert refused(chat_request(tools=tools(parameters))).param == (
        "tools.0.function.parameters.properties.x.$ref"
    )


def test_exclusive_bounds_become_inclusive_ones() -> None:
    # Claude Code's Read tool: {"limit": {"type": "integer", "exclusiveMinimum": 0}}
    parameters = {
        "type": "object",
        "properties": {
            "limit": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10},
            "ratio": {"type": "number", "exclusiveMinimum": 0.5},
            "kept": {"type": "integer", "minimum": 3, "exclusiveMinimum": 0},
        },
    }
    request = chat_to_gemini_request(chat_request(tools=tools(parameters)))
    properties = request["tools"][0]["functionDeclarations"][0]["parameters"]["properties"]
    assert properties["limit"] == {"type": "INTEGER", "minimum": 1, "maximum": 9}
    assert properties["ratio"] == {"type": "NUMBER", "minimum": 0.5}
    assert properties["kept"] == {"type": "INTEGER", "minimum": 3}
