"""Checks on the JSON a client sent, refusing a wrong value with the field's path named."""

from typing import Any

from gatewayz.errors import InvalidRequest

Json = dict[str, Any]


def refuse(path: str, why: str) -> InvalidRequest:
    """The error for the field at `path`: `'<path>' <why>`."""
    return InvalidRequest(f"'{path}' {why}", param=path)


def obj(value: Any, path: str) -> Json:
    """`value` when it is a JSON object, else InvalidRequest naming `path`."""
    if not isinstance(value, dict):
        raise refuse(path, "must be an object.")
    return value


def array(value: Any, path: str) -> list[Any]:
    """`value` when it is a JSON array, else InvalidRequest naming `path`."""
    if not isinstance(value, list):
        raise refuse(path, "must be an array.")
    return value


def string(value: Any, path: str) -> str:
    """`value` when it is a string, else InvalidRequest naming `path`."""
    if not isinstance(value, str):
        raise refuse(path, "must be a string.")
    return value
