"""A JSON schema as a Gemini Schema (an OpenAPI 3.0 subset), its local $refs inlined."""

from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.checks import Json, obj

_TYPES = {
    name: name.upper() for name in ("string", "number", "integer", "boolean", "array", "object")
}
_FORMATS = {
    "STRING": {"enum", "date-time"},
    "INTEGER": {"int32", "int64"},
    "NUMBER": {"float", "double"},
}
# fmt: off
_SCHEMA_COPIED = frozenset({
    "description", "title", "nullable", "required", "default", "example", "pattern", "minimum",
    "maximum", "minItems", "maxItems", "minLength", "maxLength", "minProperties",
    "maxProperties", "propertyOrdering",
})
# Annotations Gemini's OpenAPI-subset Schema rejects and that do not change the shape.
_SCHEMA_STRIPPED = frozenset(
    {"$schema", "$id", "$comment", "$defs", "definitions", "additionalProperties", "examples"}
)
# fmt: on


def root_schema(schema: Any, path: str) -> Json:
    """A Gemini Schema for a JSON schema, its local $refs inlined."""
    node = obj(schema, path)
    defs = node.get("$defs") or node.get("definitions") or {}
    return _schema(node, path, obj(defs, f"{path}.$defs"), ())


def _schema(node: Any, path: str, defs: Json, seen: tuple[str, ...]) -> Json:
    """One schema node: keywords Gemini knows kept, harmless ones dropped, others refused."""
    node = obj(node, path)
    if "$ref" in node:
        ref = node["$ref"]
        name = ref.rsplit("/", 1)[-1] if isinstance(ref, str) else ""
        if name in seen or not isinstance(defs.get(name), dict):
            raise InvalidRequest(
                "Only non-recursive local $refs ('#/$defs/...') can be sent to Gemini models.",
                param=f"{path}.$ref",
            )
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        return _schema({**defs[name], **siblings}, path, defs, (*seen, name))
    out: Json = {}
    for key, value in node.items():
        where = f"{path}.{key}"
        if key in _SCHEMA_STRIPPED or key == "format":
            continue
        if key == "type":
            out.update(_type(value, where))
        elif key in ("enum", "const"):
            out.update(_enum(value if key == "enum" else [value], where))
        elif key == "properties":
            properties = obj(value, where).items()
            out[key] = {
                name: _schema(sub, f"{where}.{name}", defs, seen) for name, sub in properties
            }
        elif key == "items":
            out[key] = _schema(value, where, defs, seen)
        elif key == "anyOf":
            for merged_key, merged in _any_of(value, where, defs, seen).items():
                out.setdefault(merged_key, merged)
        elif key in _SCHEMA_COPIED:
            out[key] = value
        else:
            raise InvalidRequest(
                f"The JSON schema keyword '{key}' is not supported by Gemini models.", param=where
            )
    if node.get("format") in _FORMATS.get(out.get("type", ""), ()):
        out["format"] = node["format"]
    return out


def _type(value: Any, path: str) -> Json:
    """Gemini's upper-case type; a ["T", "null"] pair becomes T and nullable."""
    names = value if isinstance(value, list) else [value]
    kinds = [name for name in names if name != "null"]
    if len(kinds) != 1 or kinds[0] not in _TYPES:
        raise InvalidRequest(
            "A schema type must be one of string, number, integer, boolean, array, object "
            "(optionally with null) for Gemini models.",
            param=path,
        )
    out: Json = {"type": _TYPES[kinds[0]]}
    if len(kinds) < len(names):
        out["nullable"] = True
    return out


def _enum(values: Any, path: str) -> Json:
    """Gemini enums hold strings; a null member becomes nullable."""
    if not isinstance(values, list):
        raise InvalidRequest("'enum' must be an array.", param=path)
    strings = [value for value in values if value is not None]
    if not all(isinstance(value, str) for value in strings):
        raise InvalidRequest("Gemini models accept only string enum values.", param=path)
    out: Json = {"enum": strings}
    if len(strings) < len(values):
        out["nullable"] = True
    return out


def _any_of(value: Any, path: str, defs: Json, seen: tuple[str, ...]) -> Json:
    """anyOf with its {"type": "null"} branch turned into nullable, a lone branch inlined."""
    if not isinstance(value, list) or not value:
        raise InvalidRequest("'anyOf' must be a non-empty array.", param=path)
    branches = [
        _schema(branch, f"{path}.{i}", defs, seen)
        for i, branch in enumerate(value)
        if branch != {"type": "null"}
    ]
    out: Json = branches[0] if len(branches) == 1 else {"anyOf": branches}
    if len(branches) < len(value):
        out["nullable"] = True
    return out
