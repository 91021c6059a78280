"""What every Anthropic translation shares: field paths, refusals, upstream checks."""

import json
from typing import Any

from gatewayz.protocols.checks import Json, obj, refuse, string
from gatewayz.protocols.fields import Dropped

Event = tuple[str, Json]

_HINTS = {"cache_control": "the target format has no cache breakpoints"}
_ABSENT: tuple[Any, ...] = (None, [], {})


def at(path: str, key: str | int) -> str:
    """The path of `key` inside the field at `path`."""
    return f"{path}.{key}" if path else str(key)


def only(
    body: Json, allowed: frozenset[str], path: str, target: str, dropped: Dropped | None = None
) -> None:
    """Refuse any field outside `allowed` that carries a value, except hints
    (`cache_control`), which are left out (named in `dropped` when given)."""
    for key, value in body.items():
        if key in allowed or value in _ABSENT:
            continue
        if key not in _HINTS:
            raise refuse(at(path, key), f"cannot be expressed in the {target} API.")
        if dropped is not None:
            dropped.drop(at(path, key), _HINTS[key])


def typed(block: Any, path: str) -> tuple[Json, str]:
    """A content block or part and its `type`."""
    block = obj(block, path)
    return block, string(block.get("type"), at(path, "type"))


def text_block(block: Json, path: str, target: str, dropped: Dropped | None = None) -> str:
    """The text of a text block or part that carries nothing else (but hints)."""
    only(block, frozenset({"type", "text"}), path, target, dropped)
    return string(block.get("text"), at(path, "text"))


def upstream(value: Any, what: str) -> Json:
    """`value` when it is a JSON object, else ValueError: the upstream sent malformed data."""
    if not isinstance(value, dict):
        raise ValueError(f"upstream {what} is not a JSON object")
    return value


def tool_input(arguments: Any) -> Json:
    """A tool call's arguments (a JSON string) as the tool_use input object."""
    if arguments in (None, ""):
        return {}
    value = json.loads(arguments) if isinstance(arguments, str) else arguments
    if not isinstance(value, dict):
        raise ValueError("upstream tool call arguments are not a JSON object")
    return value
