"""The field rule for translated requests: what a translation leaves out, and when it may not.

A request translated into another wire format keeps every field of **meaning** (the answer
would be wrong without it: translated, or refused with a 400 naming it). **Hints and
metadata** (they change cost, caching, logging or how hard the model thinks, not what the
client can parse) are mapped to the target's equivalent where one exists, otherwise dropped;
so are **capabilities the upstream lacks** that the request does not force (hosted tools).
Every dropped field is named: in the `x-gatewayz-dropped` response header and the request
log. A provider or model with `strict_fields: true` refuses instead of dropping.
"""

from gatewayz.errors import InvalidRequest

HEADER = "x-gatewayz-dropped"


class Dropped:
    """The fields one translation of a request left out, by path in the client's request
    (e.g. `metadata`, `tools.3`, `thinking.budget_tokens`), in the order they were met."""

    def __init__(self, provider: str = "", strict: bool = False) -> None:
        self.provider = provider
        self.strict = strict
        self.paths: list[str] = []

    def drop(self, path: str, why: str = "the upstream has no equivalent") -> None:
        """Leave `path` out; with strict fields, refuse the request instead (400 naming it)."""
        if self.strict:
            raise InvalidRequest(
                f"'{path}' cannot be sent to {self.provider or 'this provider'}: {why} "
                "(the provider or model sets strict_fields).",
                param=path,
            )
        if path not in self.paths:
            self.paths.append(path)

    def header(self) -> str | None:
        """The `x-gatewayz-dropped` value (None when nothing was dropped)."""
        return ", ".join(self.paths) if self.paths else None
