"""What the native passthroughs share: how a refusal reads, and tool type families.

A request passed through to an upstream of its own format reaches it under the operator's
key, so every field in it is one the gateway understands and bills, one the provider row
allows (`passthrough_fields`), or refused with a 400 naming it.
"""

import re

from gatewayz.errors import InvalidRequest

_DATED = re.compile(r"_(?:\d{8}|\d{4}_\d{2}_\d{2})$")


def refuse(path: str, provider: str, why: str) -> InvalidRequest:
    """The 400 for a field that may not be passed through to `provider`."""
    return InvalidRequest(f"'{path}' is not passed through to {provider}: {why}.", param=path)


def family(kind: str) -> str:
    """A tool type without its version date: web_search_20250305 -> web_search."""
    return _DATED.sub("", kind)


def tool_allowed(kind: str, allowed: frozenset[str]) -> bool:
    """Whether the provider row allows tools of this type (by exact type or by family)."""
    return f"tools.{kind}" in allowed or f"tools.{family(kind)}" in allowed
