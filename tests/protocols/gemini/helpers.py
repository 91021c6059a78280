"""What the Gemini translation tests share: requests, id makers, strategies, a blocked prompt."""

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import strategies as st

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.gemini import chat_to_gemini_request

PLACEHOLDER = "skip_thought_signature_validator"

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True)
TEXTS = st.text(max_size=20)
ARGS = st.dictionaries(NAMES, st.one_of(st.integers(-1000, 1000), TEXTS, st.booleans()), max_size=3)

BLOCKED = {
    "promptFeedback": {
        "blockReason": "SAFETY",
        "safetyRatings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}],
    },
    "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
}


def counting_ids(prefix: str = "call_") -> Callable[[], str]:
    """Deterministic tool call ids: call_0, call_1, ..."""
    counter = itertools.count()
    return lambda: f"{prefix}{next(counter)}"


def chat_request(**fields: Any) -> dict[str, Any]:
    """A one-message chat request to a Gemini model, with `fields` on top."""
    return {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}], **fields}


def refused(body: dict[str, Any]) -> InvalidRequest:
    """The InvalidRequest that translating `body` raises."""
    with pytest.raises(InvalidRequest) as caught:
        chat_to_gemini_request(body)
    return caught.value
