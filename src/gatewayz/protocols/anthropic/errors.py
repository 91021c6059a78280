"""Anthropic error bodies: the error `type` the official SDK expects for each HTTP status."""

from gatewayz.errors import anthropic_error_type
from gatewayz.protocols.checks import Json

__all__ = ["anthropic_error_type", "error_body"]


def error_body(status: int, message: str, request_id: str | None) -> Json:
    """An Anthropic error body: {"type": "error", "error": {type, message}, "request_id"}."""
    error = {"type": anthropic_error_type(status), "message": message}
    return {"type": "error", "error": error, "request_id": request_id}
