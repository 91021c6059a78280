"""Bounds on the request fields the gateway stores, labels or loops over, checked for every
client API before anything else reads them; a field over its bound is a 400 naming it.

The bounds are OpenAI's own where it publishes them (metadata), and far above any real value
elsewhere: the longest model id of the bundled catalog has 59 characters with its provider.
"""

from typing import Any

from gatewayz.protocols.checks import refuse

MAX_ID_CHARS = 256
MAX_FALLBACK_MODELS = 32
MAX_METADATA_KEYS = 16
MAX_METADATA_KEY_CHARS = 64
MAX_METADATA_VALUE_CHARS = 512
# Strings the gateway stores (the request log's model), labels or forwards as identifiers.
_IDENTIFIERS = ("model", "user", "safety_identifier", "prompt_cache_key")


def check_field_sizes(body: dict[str, Any]) -> None:
    """Refuse a request whose identifiers, fallback models or metadata are oversized."""
    for field in _IDENTIFIERS:
        _bounded(body.get(field), field, MAX_ID_CHARS)
    models = body.get("models")
    if isinstance(models, list):
        if len(models) > MAX_FALLBACK_MODELS:
            raise refuse("models", f"must list at most {MAX_FALLBACK_MODELS} models.")
        for i, model in enumerate(models):
            _bounded(model, f"models.{i}", MAX_ID_CHARS)
    metadata = body.get("metadata")
    if isinstance(metadata, dict):
        _check_metadata(metadata)


def _check_metadata(metadata: dict[str, Any]) -> None:
    if len(metadata) > MAX_METADATA_KEYS:
        raise refuse("metadata", f"must have at most {MAX_METADATA_KEYS} keys.")
    for key, value in metadata.items():
        if len(key) > MAX_METADATA_KEY_CHARS:
            raise refuse("metadata", f"keys must have at most {MAX_METADATA_KEY_CHARS} characters.")
        _bounded(value, f"metadata.{key}", MAX_METADATA_VALUE_CHARS)


def _bounded(value: Any, path: str, limit: int) -> None:
    if isinstance(value, str) and len(value) > limit:
        raise refuse(path, f"must have at most {limit} characters (it has {len(value)}).")
