"""What a restricted key may do to keys: only give (or keep) restrictions at least as strict
as its own, so a key that leaks with an expiry, an address list, a spending limit, ... cannot
be turned into one without them."""

import ipaddress
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import orjson

from gatewayz.accounts.key_store import KeyRecord


@dataclass(frozen=True, slots=True)
class Bounds:
    """The restrictions of a key (an empty or None field means none of that kind)."""

    scopes: frozenset[str] | None = None
    expires_at: datetime | None = None
    ip_allowlist: tuple[str, ...] = ()
    referrers: tuple[str, ...] = ()
    spend_limit_units: int | None = None
    rate_limits: dict[str, int | None] = field(default_factory=dict)

    @classmethod
    def of(cls, record: KeyRecord) -> "Bounds":
        return cls(
            scopes=None if record.scopes is None else frozenset(record.scopes),
            expires_at=record.expires_at,
            ip_allowlist=tuple(record.ip_allowlist or ()),
            referrers=tuple(record.referrers or ()),
            spend_limit_units=record.spend_limit_units,
            rate_limits=record.rate_limits.model_dump() if record.rate_limits else {},
        )

    def changed(self, columns: dict[str, Any], limits: dict[str, int | None] | None) -> "Bounds":
        """These bounds with the stored column values in `columns` (lists as JSON text) and
        the rate limit changes in `limits`."""
        out = self
        for name in ("ip_allowlist", "referrers"):
            if name in columns:
                out = replace(out, **{name: tuple(_listed(columns[name]) or ())})
        if "scopes" in columns:
            scopes = _listed(columns["scopes"])
            out = replace(out, scopes=None if scopes is None else frozenset(scopes))
        for name in ("expires_at", "spend_limit_units"):
            if name in columns:
                out = replace(out, **{name: columns[name]})
        if limits:
            out = replace(out, rate_limits={**self.rate_limits, **limits})
        return out


def loosened(holder: Bounds, wanted: Bounds) -> str | None:
    """The first restriction `wanted` is looser on than `holder`, or None."""
    if holder.scopes is not None and (wanted.scopes is None or wanted.scopes - holder.scopes):
        return "scopes"
    if holder.expires_at is not None and (
        wanted.expires_at is None or wanted.expires_at > holder.expires_at
    ):
        return "expires_at"
    if holder.ip_allowlist and not _within_networks(holder.ip_allowlist, wanted.ip_allowlist):
        return "ip_allowlist"
    if holder.referrers and not _within_referrers(holder.referrers, wanted.referrers):
        return "referrers"
    if holder.spend_limit_units is not None and (
        wanted.spend_limit_units is None or wanted.spend_limit_units > holder.spend_limit_units
    ):
        return "spend_limit"
    for name, most in holder.rate_limits.items():
        given = wanted.rate_limits.get(name)
        if most is not None and (given is None or given > most):
            return "rate_limits"
    return None


def _listed(text: str | None) -> list[str] | None:
    return None if text is None else list(orjson.loads(text))


def _within_networks(held: tuple[str, ...], wanted: tuple[str, ...]) -> bool:
    """Whether `wanted` is non-empty and each of its ranges lies inside one of `held`."""
    networks = [ipaddress.ip_network(entry) for entry in held]
    return bool(wanted) and all(
        any(inner.version == outer.version and inner.subnet_of(outer) for outer in networks)
        for inner in (ipaddress.ip_network(entry) for entry in wanted)
    )


def _within_referrers(held: tuple[str, ...], wanted: tuple[str, ...]) -> bool:
    """Whether `wanted` is non-empty and each of its domains is one of `held` or under one of
    its "*." patterns."""
    return bool(wanted) and all(
        any(one == pattern or (one.startswith("*.") and pattern.endswith(one[1:])) for one in held)
        for pattern in wanted
    )
