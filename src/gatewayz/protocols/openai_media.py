"""OpenAI embeddings and image generation requests: checks and usage."""

from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.json_body import decode_object
from gatewayz.protocols.usage import Usage

MAX_IMAGES = 10


def parse_embeddings_request(raw: bytes) -> dict[str, Any]:
    """An embeddings request: `input` is a string, strings, or token arrays, never empty."""
    body = decode_object(raw)
    value = body.get("input")
    valid = (
        (isinstance(value, str) and value != "")
        or (isinstance(value, list) and value and all(isinstance(v, str) and v for v in value))
        or (isinstance(value, list) and value and all(isinstance(v, int) for v in value))
        or (
            isinstance(value, list)
            and value
            and all(isinstance(v, list) and v and all(isinstance(t, int) for t in v) for v in value)
        )
    )
    if not valid:
        raise InvalidRequest(
            "'input' must be a non-empty string, array of strings, or array of token arrays.",
            param="input",
        )
    return body


def embeddings_usage(data: dict[str, Any]) -> Usage | None:
    usage = data.get("usage")
    if not isinstance(usage, dict) or not isinstance(usage.get("prompt_tokens"), int):
        return None
    return Usage(usage["prompt_tokens"], 0)


def parse_image_request(raw: bytes) -> dict[str, Any]:
    """An image generation request: a prompt, and at most ten images."""
    body = decode_object(raw)
    if not isinstance(body.get("prompt"), str) or not body["prompt"].strip():
        raise InvalidRequest("'prompt' is required and must be a non-empty string.", param="prompt")
    n = body.get("n", 1)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_IMAGES:
        raise InvalidRequest(f"'n' must be an integer from 1 to {MAX_IMAGES}.", param="n")
    if body.get("stream"):
        raise InvalidRequest("Streaming image generation is not supported.", param="stream")
    return body


def images_requested(body: dict[str, Any]) -> int:
    return int(body.get("n", 1))
