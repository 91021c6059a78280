"""The signatures of thinking blocks the gateway makes: they carry the reasoning back."""

import base64

import pytest

from gatewayz.protocols.anthropic.signature import Reasoning, is_gateway_signature, read, sign


def test_a_signature_carries_its_reasoning_back() -> None:
    reasoning = Reasoning("deepseek", "reasoning_content", "Première idée… 🤔")
    signature = sign(reasoning)
    assert is_gateway_signature(signature)
    assert read(signature) == reasoning


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "EqQBCkYIBxgCKkDk",  # Anthropic's own
        "gatewayz.1.not base64!",
        "gatewayz.1." + base64.urlsafe_b64encode(b"[1]").decode(),
        "gatewayz.1." + base64.urlsafe_b64encode(b'{"p": "x", "f": "text", "t": "y"}').decode(),
        "gatewayz.1." + base64.urlsafe_b64encode(b'{"p": "x", "f": "reasoning"}').decode(),
    ],
)
def test_anything_else_carries_nothing(signature: object) -> None:
    assert read(signature) is None
