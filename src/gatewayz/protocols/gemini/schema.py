"""A JSON schema as a Gemini Schema (an OpenAPI 3.0 subset), its local $refs inlined.

Inlining is bounded: a recursive `$ref`, a schema nested more than MAX_SCHEMA_DEPTH deep, or
copies of definitions beyond MAX_INLINED_NODES nodes (MAX_INLINED_CHARACTERS characters of
copied values) in one request is refused with a 400 naming where, so that a small schema
whose references fan out costs no more work than what may be sent.
"""

from typing import Any

import orjson

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.checks import Json, obj

MAX_SCHEMA_DEPTH = 64
MAX_INLINED_NODES = 10_000
MAX_INLINED_CHARACTERS = 1_000_000

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
_VALUES_COPIED = _SCHEMA_COPIED | {"enum", "const"}
# Gemini has no exclusive bounds: an integer's is the next one in, a number's kept inclusive.
_EXCLUSIVE = {"exclusiveMinimum": ("minimum", 1), "exclusiveMaximum": ("maximum", -1)}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class SchemaBudget:
    """What inlining `$ref`s may still add to one request's schemas: nodes, and characters
    of copied keyword values. Without `$ref`s a schema's translation is never larger than
    the schema; with them the copies are counted, so the work stays linear in what is sent."""

    def __init__(
        self, nodes: int = MAX_INLINED_NODES, characters: int = MAX_INLINED_CHARACTERS
    ) -> None:
        self.nodes = nodes
        self.characters = characters
        self._sizes: dict[int, int] = {}

    def spend(self, node: Json, path: str) -> None:
        """Count one node copied from a definition, or refuse the request (400)."""
        self.nodes -= 1
        for key in _VALUES_COPIED.intersection(node):
            self.characters -= self._size(node[key])
        properties = node.get("properties")
        if isinstance(properties, dict):
            self.characters -= sum(len(name) for name in properties)
        if self.nodes < 0 or self.characters < 0:
            raise InvalidRequest(
                f"'{path}': with its $refs inlined, this request's schemas grow past "
                f"{MAX_INLINED_NODES:,} copied nodes or {MAX_INLINED_CHARACTERS:,} copied "
                "characters, more than can be sent to Gemini models; simplify the schema.",
                param=path,
            )

    def _size(self, value: Any) -> int:
        """The JSON size of a keyword value, measured once however often it is copied."""
        size = self._sizes.get(id(value))
        if size is None:
            size = self._sizes[id(value)] = len(orjson.dumps(value))
        return size


def root_schema(schema: Any, path: str, budget: SchemaBudget | None = None) -> Json:
    """A Gemini Schema for a JSON schema, its local $refs inlined within `budget`."""
    node = obj(schema, path)
    defs = node.get("$defs") or node.get("definitions") or {}
    expansion = _Expansion(obj(defs, f"{path}.$defs"), budget or SchemaBudget())
    return expansion.schema(node, path, ())


class _Expansion:
    """One schema's translation: its definitions, and the request's budget for copies."""

    def __init__(self, defs: Json, budget: SchemaBudget) -> None:
        self.defs = defs
        self.budget = budget

    def schema(self, node: Any, path: str, refs: tuple[str, ...], depth: int = 0) -> Json:
        """One schema node: keywords Gemini knows kept, harmless ones dropped, others
        refused. `refs` are the definitions being inlined around it, outermost first."""
        node = obj(node, path)
        if depth > MAX_SCHEMA_DEPTH:
            raise InvalidRequest(
                f"'{path}' is nested more than {MAX_SCHEMA_DEPTH} schemas deep, more than can "
                "be sent to Gemini models.",
                param=path,
            )
        if refs:
            self.budget.spend(node, path)
        if "$ref" in node:
            return self._inline(node, path, refs, depth)
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
                out[key] = {
                    name: self.schema(sub, f"{where}.{name}", refs, depth + 1)
                    for name, sub in obj(value, where).items()
                }
            elif key == "items":
                out[key] = self.schema(value, where, refs, depth + 1)
            elif key == "anyOf":
                for merged_key, merged in self._any_of(value, where, refs, depth).items():
                    out.setdefault(merged_key, merged)
            elif key in _SCHEMA_COPIED:
                out[key] = value
            elif key in _EXCLUSIVE and _is_number(value):
                bound, step = _EXCLUSIVE[key]
                out.setdefault(bound, value + step if node.get("type") == "integer" else value)
            else:
                raise InvalidRequest(
                    f"The JSON schema keyword '{key}' is not supported by Gemini models.",
                    param=where,
                )
        if node.get("format") in _FORMATS.get(out.get("type", ""), ()):
            out["format"] = node["format"]
        return out

    def _inline(self, node: Json, path: str, refs: tuple[str, ...], depth: int) -> Json:
        """The definition a `$ref` names, with the node's other keywords on top."""
        ref = node["$ref"]
        where = f"{path}.$ref"
        name = (
            ref.removeprefix("#/$defs/").removeprefix("#/definitions/")
            if isinstance(ref, str)
            else ref
        )
        if name == ref or not isinstance(self.defs.get(name), dict):
            raise InvalidRequest(
                f"'{where}' must name one of the schema's own definitions ('#/$defs/<name>') "
                "to be sent to Gemini models.",
                param=where,
            )
        if name in refs:
            chain = " -> ".join((*refs[refs.index(name) :], name))
            raise InvalidRequest(
                f"'{where}' makes the schema recursive ({chain}): recursive schemas cannot be "
                "sent to Gemini models.",
                param=where,
            )
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        return self.schema({**self.defs[name], **siblings}, path, (*refs, name), depth)

    def _any_of(self, value: Any, path: str, refs: tuple[str, ...], depth: int) -> Json:
        """anyOf with its {"type": "null"} branch turned into nullable, a lone branch
        inlined."""
        if not isinstance(value, list) or not value:
            raise InvalidRequest("'anyOf' must be a non-empty array.", param=path)
        branches = [
            self.schema(branch, f"{path}.{i}", refs, depth + 1)
            for i, branch in enumerate(value)
            if branch != {"type": "null"}
        ]
        out: Json = branches[0] if len(branches) == 1 else {"anyOf": branches}
        if len(branches) < len(value):
            out["nullable"] = True
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
