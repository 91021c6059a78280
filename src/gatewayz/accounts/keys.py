"""API key format and hashing: keys are shown once and stored only as a keyed hash."""

import hashlib
import hmac
import secrets
from typing import Literal

Environment = Literal["live", "test"]
PREFIXES: dict[str, str] = {"live": "gw_live_", "test": "gw_test_"}
KEY_PREFIX = PREFIXES["live"]
_SHOWN = 4  # characters after the prefix that stay visible


def generate_key(environment: Environment = "live") -> str:
    """A new key: `gw_live_` or `gw_test_`, then 43 random URL-safe characters."""
    return PREFIXES[environment] + secrets.token_urlsafe(32)


def hash_key(server_secret: bytes, key: str) -> str:
    """HMAC-SHA256 of the key with the server secret, hex."""
    return hmac.new(server_secret, key.encode(), hashlib.sha256).hexdigest()


def display_prefix(key: str) -> str:
    """The part of a key that may be shown again to recognise it."""
    return key[: len(KEY_PREFIX) + _SHOWN]


def loggable_prefix(presented: str) -> str | None:
    """The display prefix of a presented key that is long enough for the prefix to reveal only
    a small part of it; None for anything shorter (it might be a secret of another kind)."""
    if presented.startswith(tuple(PREFIXES.values())) and len(presented) >= 32:
        return display_prefix(presented)
    return None
