"""The restrictions an API key carries, as stored with it and as checked on each request."""

import ipaddress
from dataclasses import dataclass
from datetime import datetime

import orjson

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    """What one key may do; an empty or None field means no restriction of that kind."""

    environment: str = "live"
    scopes: frozenset[str] | None = None
    expires_at: datetime | None = None
    networks: tuple[Network, ...] = ()
    referrers: tuple[str, ...] = ()
    spend_limit_units: int | None = None

    @classmethod
    def from_row(
        cls,
        environment: str,
        scopes: str | None,
        expires_at: datetime | None,
        ip_allowlist: str | None,
        referrers: str | None,
        spend_limit_units: int | None,
    ) -> "KeyPolicy":
        """The policy from the stored columns (lists are JSON text)."""
        return cls(
            environment=environment,
            scopes=frozenset(orjson.loads(scopes)) if scopes is not None else None,
            expires_at=expires_at,
            networks=tuple(
                ipaddress.ip_network(entry, strict=False)
                for entry in (orjson.loads(ip_allowlist) if ip_allowlist else ())
            ),
            referrers=tuple(orjson.loads(referrers)) if referrers else (),
            spend_limit_units=spend_limit_units,
        )


UNRESTRICTED = KeyPolicy()
