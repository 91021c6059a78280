"""Stream codecs shared by the client APIs that are not OpenAI chat: event framing, and
passthrough of a provider's native events."""

from collections.abc import Callable
from typing import Any

import orjson

from gatewayz.protocols.openai_chat import UpstreamStreamError
from gatewayz.protocols.usage import Usage
from gatewayz.providers.sse import Event


def sse(name: str, data: Any) -> bytes:
    """One named server-sent event."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class PassthroughCodec:
    """Forwards a provider's native events unchanged, reading usage and text on the way.

    `inspect(name, data)` returns (usage or None, characters of text) for one event and
    raises UpstreamStreamError for an error event.
    """

    def __init__(
        self,
        inspect: Callable[[str, dict[str, Any]], tuple[Usage | None, int]],
        error_event: Callable[[str], bytes],
    ) -> None:
        self._inspect = inspect
        self._error_event = error_event
        self.usage: Usage | None = None
        self.text_chars = 0

    def convert(self, event: Event) -> list[bytes]:
        name, data = event
        parsed = orjson.loads(data)
        if not isinstance(parsed, dict):
            raise ValueError("event data is not a JSON object")
        usage, chars = self._inspect(name or str(parsed.get("type") or ""), parsed)
        if usage is not None:
            self.usage = usage
        self.text_chars += chars
        prefix = b"event: " + name.encode() + b"\n" if name else b""
        return [prefix + b"data: " + data + b"\n\n"]

    def close(self) -> list[bytes]:
        return []

    def error(self, error: Any) -> bytes:
        return self._error_event(error.message)


def chat_chunk(data: bytes) -> dict[str, Any]:
    """An OpenAI chat chunk from the relay's upstream, or UpstreamStreamError/ValueError."""
    chunk = orjson.loads(data)
    if not isinstance(chunk, dict):
        raise ValueError("stream chunk is not a JSON object")
    if "error" in chunk:
        error = chunk["error"]
        message = error.get("message") if isinstance(error, dict) else None
        raise UpstreamStreamError(str(message or error))
    return chunk


def chunk_text_chars(chunk: dict[str, Any]) -> int:
    text = 0
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if isinstance(delta, dict) and isinstance(delta.get("content"), str):
            text += len(delta["content"])
    return text
