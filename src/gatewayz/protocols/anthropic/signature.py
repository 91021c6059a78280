"""The signature of a thinking block the gateway made from another format's reasoning.

An Anthropic client gets the reasoning of an OpenAI-compatible upstream (`reasoning_content`
or `reasoning`, and Gemini's thoughts, which reach the gateway the same way) as `thinking`
blocks. Clients such as Claude Code send those blocks back, with their `signature`, in later
turns. Anthropic signs its own blocks; the gateway's signature instead carries what is needed
to send the reasoning back where it came from: the provider, the field it used and the text
(also when the client asked for the text to be omitted, `thinking.display: "omitted"`), as
`gatewayz.1.` and base64url JSON. It is not a secret and proves nothing: a client that forges
one only adds text of its own to its request, billed as input like any other.

Sent back, such a block becomes that field of the assistant message for the same provider
(DeepSeek, for one, refuses a tool-call turn without its reasoning), and is dropped (named)
for any other upstream; an Anthropic upstream would refuse its signature.
"""

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson

PREFIX = "gatewayz.1."


@dataclass(frozen=True, slots=True)
class Reasoning:
    """Reasoning an upstream sent: which provider, in which chat field, and its text."""

    provider: str
    field: str
    text: str


def sign(reasoning: Reasoning) -> str:
    """The signature of a thinking block holding `reasoning`."""
    payload = {"p": reasoning.provider, "f": reasoning.field, "t": reasoning.text}
    return PREFIX + base64.urlsafe_b64encode(orjson.dumps(payload)).decode()


def is_gateway_signature(signature: Any) -> bool:
    """Whether a thinking block's signature is one the gateway made."""
    return isinstance(signature, str) and signature.startswith(PREFIX)


def read(signature: Any) -> Reasoning | None:
    """The reasoning a gateway signature carries (None: not one, or not readable)."""
    if not is_gateway_signature(signature):
        return None
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(signature.removeprefix(PREFIX)))
    except (binascii.Error, ValueError):  # orjson.JSONDecodeError is a ValueError
        return None
    if not isinstance(payload, dict):
        return None
    provider, field, text = payload.get("p"), payload.get("f"), payload.get("t")
    if not (isinstance(provider, str) and isinstance(field, str) and isinstance(text, str)):
        return None
    if field not in ("reasoning_content", "reasoning"):
        return None
    return Reasoning(provider, field, text)
