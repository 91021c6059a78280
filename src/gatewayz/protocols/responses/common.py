"""Checks shared by the Responses request translation: fields a chat model cannot take."""

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.checks import Json, string


def only(body: Json, allowed: frozenset[str], where: str) -> None:
    """Refuse every field of `body` outside allowed that is set."""
    for key, value in body.items():
        if key not in allowed and value is not None:
            raise InvalidRequest(
                f"'{where}.{key}' cannot be sent to a chat completions model.",
                param=f"{where}.{key}",
            )


def string_field(body: Json, key: str, where: str) -> str:
    """body[key], which must be a string."""
    return string(body.get(key), f"{where}.{key}")
