"""API key format and hashing: keys are shown once and stored only as a keyed hash."""

import hashlib
import hmac
import secrets

KEY_PREFIX = "gw_live_"


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(server_secret: bytes, key: str) -> str:
    """HMAC-SHA256 of the key with the server secret, hex."""
    return hmac.new(server_secret, key.encode(), hashlib.sha256).hexdigest()


def display_prefix(key: str) -> str:
    """The part of a key that may be shown again to recognise it."""
    return key[: len(KEY_PREFIX) + 4]
