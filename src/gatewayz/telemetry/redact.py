"""Masks anything that looks like a secret (API keys, bearer tokens) in text bound for logs,
errors and traces.

Keys are recognised by their vendor prefix, which is kept so that a reader still sees the
kind: Gatewayz (`gw_live_`, `gw_test_`), OpenAI, Anthropic and OpenRouter (`sk-`), Stripe
(`sk_live_`, `sk_test_`, `rk_live_`, `rk_test_`, `whsec_`), Google (`AIza`), Groq (`gsk_`),
xAI (`xai-`) and Hugging Face (`hf_`), and any value after `Bearer`: `redact_keys` masks
these (error messages and spans, which are prose). `redact`, for logs, also masks any value
after `Basic` or after a name holding key, authorization, password, secret or token
(`x-api-key: ...`, `"api_key": "..."`, `('x-api-key', '...')`, `token=...`).
"""

import re
from typing import Any

MASK = "***"

# Every match contains one of these, in any case: text without any is returned without
# running the regex. In ASCII text a substring test of each is several times faster than one
# case-insensitive regex; beyond ASCII, the regex's own case rules apply (under them the
# Turkish dotted and dotless I match `i`, which lowering the text does not give).
_TRIGGER_RE = re.compile(
    r"gw_|sk-|[sr]k_|whsec_|AIza|gsk_|xai-|hf_|bearer|basic|key|authorization|password"
    r"|secret|token",
    re.IGNORECASE,
)
_TRIGGERS = (
    "gw_",
    "sk-",
    "sk_",
    "rk_",
    "whsec_",
    "aiza",
    "gsk_",
    "xai-",
    "hf_",
    "bearer",
    "basic",
    "key",
    "authorization",
    "password",
    "secret",
    "token",
)
_PREFIXES = (
    r"\bgw_(?:live|test)_|\bsk-|\b[sr]k_(?:live|test)_|\bwhsec_|\b(?-i:AIza)|\bgsk_|\bxai-"
    r"|\bhf_"
)
_NAME = r"(?:key|authorization|password|secret|token)"
_NAMED = rf"{_NAME}(?:[\"']?\s*[:=]|[\"']\s*,)\s*(?:b?[\"'])?"
_SCHEME = r"\b(?:Bearer|Basic)\s+"
_SECRETS = re.compile(
    rf"(?P<keep>{_PREFIXES}|{_NAMED}(?:{_SCHEME})?|{_SCHEME})[\w.~+/=-]{{4,}}", re.IGNORECASE
)
_KEYS = re.compile(rf"(?P<keep>{_PREFIXES}|\bBearer\s+)[\w.~+/=-]{{4,}}", re.IGNORECASE)
_REPLACEMENT = r"\g<keep>" + MASK


def might_hold_secret(text: str) -> bool:
    """False when `text` surely holds nothing `redact` would mask (a quick test)."""
    if not text.isascii():
        return _TRIGGER_RE.search(text) is not None
    lowered = text.lower()
    return any(trigger in lowered for trigger in _TRIGGERS)


def redact(text: str) -> str:
    """`text` with every key-like value replaced by its kind and `***`."""
    return _SECRETS.sub(_REPLACEMENT, text) if might_hold_secret(text) else text


def redact_keys(text: str) -> str:
    """`text` with every value shaped like a key (see the module) replaced by its kind and
    `***`; words that merely follow a name such as "key:" are left alone."""
    return _KEYS.sub(_REPLACEMENT, text) if might_hold_secret(text) else text


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
