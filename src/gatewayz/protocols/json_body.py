"""Decoding a client's JSON request body, with errors that say what is wrong."""

from typing import Any

import orjson

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.field_sizes import check_field_sizes

# Deeper nesting than any real request (a tool's JSON schema included) has.
MAX_DEPTH = 128

# The most output tokens a call may ask for (no model today writes more than a few hundred
# thousand), and the most answers (`n`) OpenAI accepts for one chat completion.
MAX_OUTPUT_TOKENS = 10_000_000
MAX_CHOICES = 128


def decode_object(raw: bytes, *, needs_model: bool = True) -> dict[str, Any]:
    """The body as a JSON object with a non-empty string `model` (unless the model is named
    elsewhere, as in Gemini's path), nested at most `MAX_DEPTH` levels deep, its identifiers
    and metadata within their bounds (see field_sizes)."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH and _deeper_than(body, MAX_DEPTH):
        raise InvalidRequest(f"The request body is nested more than {MAX_DEPTH} levels deep.")
    model = body.get("model")
    if needs_model and (not isinstance(model, str) or not model):
        raise InvalidRequest("'model' is required and must be a non-empty string.", param="model")
    check_field_sizes(body)
    return body


def _deeper_than(value: dict[str, Any], limit: int) -> bool:
    """Whether objects and arrays nest more than `limit` levels deep in `value`."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        for child in item.values() if type(item) is dict else item:
            if type(child) is dict or type(child) is list:
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def bounded_int(body: dict[str, Any], field: str, high: int, *, required: bool = False) -> None:
    """Check that `field` is an integer from 1 to `high` (or absent, unless required)."""
    value = body.get(field)
    if value is None and not required:
        return
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= high:
        raise InvalidRequest(f"'{field}' must be an integer from 1 to {high}.", param=field)
