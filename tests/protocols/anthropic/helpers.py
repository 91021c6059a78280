"""What the Anthropic translation tests share: wire text readers, SDK clients, strategies."""

import json
from typing import Any

import pytest
from hypothesis import strategies as st

from gatewayz.errors import InvalidRequest

Json = dict[str, Any]
Event = tuple[str, Json]

TEXT = st.text(min_size=1, max_size=12)
NAME = st.from_regex(r"[a-z][a-z_]{0,9}", fullmatch=True)
ARGS = st.dictionaries(NAME, st.one_of(st.integers(), TEXT, st.booleans()), max_size=3)


def sse_events(text: str) -> list[Event]:
    """(event, data) pairs of an Anthropic SSE stream."""
    frames = [dict(line.split(": ", 1) for line in f.splitlines()) for f in text.split("\n\n")]
    return [(frame["event"], json.loads(frame["data"])) for frame in frames if frame]


def sse_data(text: str) -> list[Json]:
    """The JSON `data:` payloads of an OpenAI SSE stream."""
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]


def refused(call: Any, *args: Any) -> str | None:
    """The `param` of the InvalidRequest that `call(*args)` raises."""
    with pytest.raises(InvalidRequest) as caught:
        call(*args)
    return caught.value.param


def validate_message(message: Json) -> None:
    anthropic = pytest.importorskip("anthropic")
    anthropic.types.Message.model_validate(message)


def mock_client(client_class: Any, body: bytes) -> Any:
    """An official SDK client whose every request is answered with the SSE `body`."""
    httpx2 = pytest.importorskip("httpx2")  # the HTTP library of openai 3.x and anthropic 2.x

    def reply(request: Any) -> Any:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    http = httpx2.Client(transport=httpx2.MockTransport(reply))
    return client_class(api_key="test", base_url="http://upstream.test", http_client=http)


def content_blocks(content: Any) -> list[Json]:
    """Anthropic message content as a list of blocks."""
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def texts_in(content: Any) -> list[str]:
    """The texts of message content: a string, or the text blocks or parts of a list."""
    if isinstance(content, str):
        return [content]
    return [part["text"] for part in content or [] if part.get("type") == "text"]
