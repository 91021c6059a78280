"""Tool call ids for Gemini function calls, which carry none.

Ids are made up on the way back, and a tool result finds its function name through the
assistant tool call whose id it quotes. A Gemini 3 function call also carries a
`thoughtSignature` that must be sent back with it (else 400): it rides inside the made-up id
(`call_<hex>__thought__<signature>`), and the first call of a model turn that has none gets
Google's documented placeholder signature.
"""

import secrets

_SIGNATURE_MARK = "__thought__"
PLACEHOLDER_SIGNATURE = "skip_thought_signature_validator"


def new_call_id() -> str:
    """A made-up tool call id."""
    return f"call_{secrets.token_hex(12)}"


def with_signature(call_id: str, signature: str) -> str:
    """`call_id` carrying a function call's thoughtSignature."""
    return call_id + _SIGNATURE_MARK + signature


def signature_of(call_id: str) -> str | None:
    """The thoughtSignature a tool call id carries, None when it carries none."""
    _, mark, signature = call_id.partition(_SIGNATURE_MARK)
    return signature if mark and signature else None
