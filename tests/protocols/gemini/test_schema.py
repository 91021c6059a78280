"""JSON schemas (tool parameters, response formats) as Gemini Schemas."""

from typing import Any

import pytest

from gatewayz.protocols.gemini import chat_to_gemini_request
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
