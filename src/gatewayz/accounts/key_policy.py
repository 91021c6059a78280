"""The restrictions an API key carries: how they are written, stored and matched.

Lists are stored as JSON text. Everything a request is checked against is parsed once, when
the key is looked up (`KeyPolicy.from_row`), so the per-request checks only compare.
"""

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from gatewayz.errors import gemini_method, is_gemini_path

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SCOPES: dict[str, str] = {
    "chat": "OpenAI Chat Completions and text completions: /v1/chat/completions, /v1/completions",
    "sessions": "Chat history: /v1/chat/sessions, and `session_id` on chat completions",
    "messages": "Anthropic Messages: /v1/messages",
    "responses": "OpenAI Responses: /v1/responses",
    "embeddings": "Embeddings: /v1/embeddings",
    "images": "Image generation: /v1/images/...",
    "gemini": "The Gemini API's model calls: /v1beta/models/{model}:generateContent, ...",
    "models": "The model catalog: /v1/models, /v1/providers, /v1/gateways/...",
    "account": "The caller's own account: /user/... (except API keys)",
    "keys": "Managing the user's API keys: /user/api-keys (as powerful as all scopes)",
    "admin": "Administration and monitoring: /admin/..., /api/monitoring/...",
}
# What a key rotated out but in its grace period may still do besides reading: make calls.
CALL_SCOPES = frozenset(
    {"chat", "sessions", "messages", "responses", "embeddings", "images", "gemini"}
)
# Longest prefix first, so /user/api-keys is "keys" before /user/ is "account".
_SCOPE_PREFIXES: tuple[tuple[str, str], ...] = tuple(
    sorted(
        (
            ("/v1/chat/", "chat"),
            ("/v1/chat/sessions", "sessions"),
            ("/chat/", "chat"),
            ("/v1/completions", "chat"),
            ("/completions", "chat"),
            ("/v1/messages", "messages"),
            ("/messages", "messages"),
            ("/v1/responses", "responses"),
            ("/responses", "responses"),
            ("/v1/embeddings", "embeddings"),
            ("/embeddings", "embeddings"),
            ("/v1/images/", "images"),
            ("/images/", "images"),
            ("/v1/models", "models"),
            ("/v1beta/models", "models"),
            ("/models", "models"),
            ("/v1/providers", "models"),
            ("/v1/gateways/", "models"),
            ("/user/api-keys", "keys"),
            ("/user/", "account"),
            ("/admin/", "admin"),
            ("/api/monitoring/", "admin"),
        ),
        key=lambda pair: -len(pair[0]),
    )
)
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    """What one key may do; an empty or None field means no restriction of that kind."""

    environment: str = "live"
    scopes: frozenset[str] | None = None
    expires_at: datetime | None = None
    networks: tuple[Network, ...] = ()
    referrers: tuple[str, ...] = ()
    spend_limit_units: int | None = None
    rotated: bool = False  # a rotated-out key in its grace period: calls and reads only

    @property
    def restricted(self) -> bool:
        """Whether any restriction applies to a request before it reaches billing."""
        return bool(
            self.scopes is not None
            or self.expires_at
            or self.networks
            or self.referrers
            or self.rotated
        )

    @classmethod
    def from_row(
        cls,
        environment: str,
        scopes: str | None,
        expires_at: datetime | None,
        ip_allowlist: str | None,
        referrers: str | None,
        spend_limit_units: int | None,
        replaced_by: int | None = None,
    ) -> "KeyPolicy":
        """The policy from the stored columns (lists are JSON text)."""
        return cls(
            environment=environment,
            scopes=frozenset(orjson.loads(scopes)) if scopes is not None else None,
            expires_at=as_utc(expires_at),
            networks=tuple(
                ipaddress.ip_network(entry, strict=False)
                for entry in (orjson.loads(ip_allowlist) if ip_allowlist else ())
            ),
            referrers=tuple(orjson.loads(referrers)) if referrers else (),
            spend_limit_units=spend_limit_units,
            rotated=replaced_by is not None,
        )


UNRESTRICTED = KeyPolicy()


def as_utc(moment: datetime | None) -> datetime | None:
    """An aware UTC datetime (SQLite returns stored datetimes without their zone)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def scope_of(path: str) -> str | None:
    """The scope a request path belongs to, or None for a path no scope covers."""
    if is_gemini_path(path) and gemini_method(path) is not None:
        return "gemini"  # a model method, also under /v1/models/
    for prefix, scope in _SCOPE_PREFIXES:
        if path.startswith(prefix):
            return scope
    return None


def parse_scopes(names: list[str]) -> list[str]:
    """Known scope names, deduplicated in order; ValueError names an unknown one."""
    for name in names:
        if name not in SCOPES:
            raise ValueError(f"unknown scope {name!r}; known scopes: {', '.join(SCOPES)}")
    return list(dict.fromkeys(names))


def parse_networks(entries: list[str]) -> list[str]:
    """Addresses and CIDR ranges (IPv4 or IPv6), normalised (an IPv4-mapped IPv6 range as the
    IPv4 range, the way clients are matched); ValueError names a bad one."""
    parsed = []
    for entry in entries:
        try:
            network: Network = ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or CIDR range") from None
        mapped = getattr(network.network_address, "ipv4_mapped", None)
        if mapped is not None and network.prefixlen >= 96:
            network = ipaddress.IPv4Network(f"{mapped}/{network.prefixlen - 96}")
        single = network.prefixlen == network.max_prefixlen
        parsed.append(str(network.network_address) if single else network.compressed)
    return list(dict.fromkeys(parsed))


def parse_referrers(patterns: list[str]) -> list[str]:
    """Domains ("example.com") and subdomain wildcards ("*.example.com"), lower-cased;
    ValueError names a bad one."""
    parsed = []
    for pattern in patterns:
        domain = pattern.strip().lower()
        labels = domain.removeprefix("*.").split(".")
        if len(domain) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
            raise ValueError(
                f"{pattern!r} is not a domain name like 'example.com' or '*.example.com'"
            )
        parsed.append(domain)
    return list(dict.fromkeys(parsed))


def address_allowed(networks: tuple[Network, ...], address: str) -> bool:
    """Whether the client address lies in one of the networks (IPv4-mapped IPv6 addresses
    count as their IPv4 address)."""
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(client, ipaddress.IPv6Address) and client.ipv4_mapped is not None:
        client = client.ipv4_mapped
    return any(client in network for network in networks)


def referrer_allowed(patterns: tuple[str, ...], host: str) -> bool:
    """Whether the host is one of the domains, or a subdomain of a "*." pattern's domain."""
    host = host.lower().rstrip(".")
    for pattern in patterns:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]):
                return True
        elif host == pattern:
            return True
    return False
