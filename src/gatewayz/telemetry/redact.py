"""Masks anything that looks like a secret (API keys, bearer tokens) in text bound for logs."""

import re
from typing import Any

MASK = "***"

# Words every match contains: text without any of them is returned without running the regex.
_TRIGGERS = (
    "gw_live_",
    "sk-",
    "bearer",
    "basic",
    "key",
    "authorization",
    "password",
    "secret",
    "token",
)
_NAMED = r"(?:key|authorization|password|secret|token)[\"']?\s*[:=]\s*[\"']?"
_SCHEME = r"\b(?:Bearer|Basic)\s+"
_SECRETS = re.compile(
    rf"(?P<keep>gw_live_|\bsk-|{_NAMED}(?:{_SCHEME})?|{_SCHEME})[\w.~+/=-]{{4,}}", re.IGNORECASE
)
_REPLACEMENT = r"\g<keep>" + MASK


def might_hold_secret(text: str) -> bool:
    """False when `text` surely holds nothing `redact` would mask (a quick test)."""
    lowered = text.lower()
    return any(trigger in lowered for trigger in _TRIGGERS)


def redact(text: str) -> str:
    """`text` with every key-like value replaced by its kind and `***`."""
    return _SECRETS.sub(_REPLACEMENT, text) if might_hold_secret(text) else text


def redact_all(value: Any) -> Any:
    """`value` with `redact` applied to every string in it, through dicts, lists and tuples;
    numbers and None as they are, any other object as its redacted `str`."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_all(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_all(item) for item in value)
    if value is None or isinstance(value, int | float):
        return value
    return redact(str(value))
