"""A Gemini Schema (OpenAPI 3.0 subset, upper-case types) as a JSON schema, for upstreams
that take JSON schemas (OpenAI `parameters` and `response_format`, Anthropic `input_schema`).

`nullable: true` becomes a `"null"` member of `type`; `propertyOrdering` and `example`
(annotations JSON schemas lack) are left out; every other keyword keeps its meaning. Keywords
come in either spelling Google's API reads (`anyOf` or `any_of`, as the Python SDK sends a
pydantic model's schema).
"""

from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.checks import Json

_TYPES = frozenset({"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"})
_COPIED = frozenset(
    {
        "format", "title", "description", "enum", "required", "default", "pattern",
        "minimum", "maximum", "minItems", "maxItems", "minLength", "maxLength",
        "minProperties", "maxProperties",
    }
)  # fmt: skip
_ANNOTATIONS = frozenset({"propertyOrdering", "example"})


def json_schema(schema: Any, path: str) -> Json:
    """The JSON schema for a Gemini Schema at `path` (refused with a 400 naming where)."""
    if not isinstance(schema, dict):
        raise InvalidRequest(f"'{path}' must be a schema object.", param=path)
    out: Json = {}
    schema = {_camel(key): value for key, value in schema.items()}
    for key, value in schema.items():
        where = f"{path}.{key}"
        if key == "type":
            out["type"] = _type(value, where)
        elif key == "properties":
            if not isinstance(value, dict):
                raise InvalidRequest(f"'{where}' must be an object.", param=where)
            out[key] = {name: json_schema(sub, f"{where}.{name}") for name, sub in value.items()}
        elif key == "items":
            out[key] = json_schema(value, where)
        elif key == "anyOf":
            if not isinstance(value, list):
                raise InvalidRequest(f"'{where}' must be an array.", param=where)
            out[key] = [json_schema(sub, f"{where}.{i}") for i, sub in enumerate(value)]
        elif key in _COPIED:
            out[key] = value
        elif key not in _ANNOTATIONS and key != "nullable":
            raise InvalidRequest(f"'{where}' is not a keyword of Gemini schemas.", param=where)
    if schema.get("nullable") is True:
        if "type" in out:
            out["type"] = [out["type"], "null"]
        elif "anyOf" in out:
            out["anyOf"].append({"type": "null"})
        if isinstance(out.get("enum"), list):
            out["enum"] = [*out["enum"], None]
    return out


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _type(value: Any, path: str) -> str:
    name = value.upper() if isinstance(value, str) else value
    if name not in _TYPES:
        raise InvalidRequest(f"'{path}' must be one of {', '.join(sorted(_TYPES))}.", param=path)
    return str(name).lower()
