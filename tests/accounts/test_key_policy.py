"""Key restrictions: how they are parsed when set and matched on each request."""

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from gatewayz.accounts.auth import current_principal
from gatewayz.accounts.key_checks import violation
from gatewayz.accounts.key_policy import (
    KeyPolicy,
    parse_networks,
    parse_referrers,
    parse_scopes,
    scope_of,
)
from gatewayz.app import create_app
from gatewayz.settings import Settings

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def policy(**columns: object) -> KeyPolicy:
    """A policy as the authenticator builds it from a stored row."""
    row: dict[str, object] = {
        "environment": "live",
        "scopes": None,
        "expires_at": None,
        "ip_allowlist": None,
        "referrers": None,
        "spend_limit_units": None,
    }
    for name, value in columns.items():
        row[name] = orjson.dumps(value).decode() if isinstance(value, list) else value
    return KeyPolicy.from_row(**row)  # type: ignore[arg-type]


def refused(
    key: KeyPolicy,
    path: str = "/v1/chat/completions",
    address: str | None = "10.1.2.3",
    origin: str | None = None,
) -> str | None:
    found = violation(key, path, address, origin, NOW)
    return None if found is None else found.message


def test_networks_accept_addresses_and_ranges_of_both_families_and_normalise_them() -> None:
    assert parse_networks(
        ["10.1.2.3", "10.0.0.0/8", "192.168.1.7/24", " ::1 ", "2001:DB8::/32"]
    ) == [
        "10.1.2.3",
        "10.0.0.0/8",
        "192.168.1.0/24",
        "::1",
        "2001:db8::/32",
    ]


@pytest.mark.parametrize(
    "entry", ["10.1.2.300", "10.0.0.0/33", "2001:db8::/129", "example.com", ""]
)
def test_a_bad_network_is_named(entry: str) -> None:
    with pytest.raises(ValueError, match="is not an IP address or CIDR range") as error:
        parse_networks(["10.0.0.1", entry])
    assert repr(entry) in str(error.value)


def test_ip_allowlist_matches_cidr_ranges_and_ipv6_and_mapped_ipv4() -> None:
    key = policy(ip_allowlist=["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"])
    assert refused(key, address="10.200.3.4") is None
    assert refused(key, address="192.0.2.7") is None
    assert refused(key, address="2001:db8:0:1::5") is None
    assert refused(key, address="::ffff:10.9.9.9") is None
    assert refused(key, address="192.0.2.8") == (
        "This API key is not allowed from address 192.0.2.8 (ip_allowlist)"
    )
    assert refused(key, address="2001:db9::1") is not None
    assert refused(key, address=None) == (
        "This API key is not allowed from address unknown (ip_allowlist)"
    )


def test_an_ipv4_mapped_entry_matches_its_ipv4_clients_in_either_form() -> None:
    entries = parse_networks(["::ffff:192.0.2.7", "::ffff:10.0.0.0/104"])
    assert entries == ["192.0.2.7", "10.0.0.0/8"]
    key = policy(ip_allowlist=entries)
    assert refused(key, address="192.0.2.7") is None
    assert refused(key, address="::ffff:10.1.2.3") is None
    assert refused(key, address="192.0.2.8") is not None


def test_referrer_patterns_are_domains_or_subdomain_wildcards() -> None:
    assert parse_referrers(["Example.com", "*.example.com", "localhost"]) == [
        "example.com",
        "*.example.com",
        "localhost",
    ]
    for bad in ["https://example.com", "exa mple.com", "*example.com", "a.*.com", "-a.com"]:
        with pytest.raises(ValueError, match="is not a domain name"):
            parse_referrers([bad])


def test_referrer_check_uses_the_host_of_origin_or_referer() -> None:
    key = policy(referrers=["example.com", "*.app.example.org"])
    assert refused(key, origin="https://example.com") is None
    assert refused(key, origin="https://EXAMPLE.com:8443/page?x=1") is None
    assert refused(key, origin="https://a.b.app.example.org/") is None
    assert refused(key, origin="https://app.example.org/") is not None, "apex needs its own entry"
    assert refused(key, origin="https://www.example.com/") == (
        "Referrer www.example.com is not allowed for this API key (referrers)"
    )
    assert refused(key, origin="https://evilexample.com/") is not None
    assert "no Referer or Origin header" in (refused(key, origin=None) or "")


def test_scopes_map_paths_and_refuse_the_others() -> None:
    assert parse_scopes(["chat", "embeddings", "chat"]) == ["chat", "embeddings"]
    with pytest.raises(ValueError, match="unknown scope 'chats'"):
        parse_scopes(["chats"])
    assert scope_of("/v1/chat/completions") == "chat"
    assert scope_of("/chat/completions") == "chat"
    assert scope_of("/v1/completions") == "chat", "text completions are chat calls"
    assert scope_of("/completions") == "chat"
    assert scope_of("/v1/messages") == "messages"
    assert scope_of("/user/api-keys/3/rotate") == "keys"
    assert scope_of("/user/balance") == "account"
    assert scope_of("/admin/users") == "admin"
    assert scope_of("/api/monitoring/health") == "admin"
    assert scope_of("/somewhere/else") is None

    key = policy(scopes=["chat", "account"])
    assert refused(key, path="/v1/chat/completions") is None
    assert refused(key, path="/user/balance") is None
    assert refused(key, path="/v1/messages") == (
        "This API key is not granted scope 'messages' (scopes)"
    )
    assert (
        refused(key, path="/user/api-keys") == "This API key is not granted scope 'keys' (scopes)"
    )
    assert refused(key, path="/somewhere/else") == (
        "This API key's scopes do not cover /somewhere/else (scopes)"
    )


def test_no_scopes_means_every_api() -> None:
    assert refused(policy(scopes=None), path="/admin/users") is None


def test_expiry_is_exact_and_rotated_keys_say_so() -> None:
    key = policy(expires_at=(NOW + timedelta(seconds=1)).replace(tzinfo=None))  # as SQLite
    assert refused(key) is None
    assert violation(key, "/v1/models", None, None, NOW + timedelta(seconds=1)) is not None
    expired = policy(expires_at=NOW - timedelta(hours=1))
    assert refused(expired) == "This API key expired at 2025-12-31T23:00:00Z (expires_at)"
    rotated = KeyPolicy.from_row("live", None, NOW, None, None, None, replaced_by=7)
    assert refused(rotated) == (
        "This API key was rotated; it expired at 2026-01-01T00:00:00Z (expires_at)"
    )


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/v1/chat/completions", True),
        ("POST", "/v1/messages", True),
        ("POST", "/v1/embeddings", True),
        ("DELETE", "/v1/chat/sessions/3", True),
        ("GET", "/user/api-keys", True),
        ("GET", "/user/balance", True),
        ("POST", "/user/api-keys", False),
        ("DELETE", "/user/api-keys/7", False),
        ("POST", "/user/api-keys/7/rotate", False),
        ("PATCH", "/user/api-keys/7", False),
        ("PUT", "/user/provider-keys/openai", False),
        ("POST", "/admin/users", False),
    ],
)
def test_a_rotated_out_key_may_make_calls_and_read_but_change_nothing(
    method: str, path: str, allowed: bool
) -> None:
    in_grace = replace(policy(expires_at=NOW + timedelta(hours=1)), rotated=True)
    found = violation(in_grace, path, None, None, NOW, method)
    assert (found is None) is allowed
    assert found is None or found.restriction == "rotated"


def test_an_unrestricted_key_is_never_checked() -> None:
    assert not policy().restricted
    assert not policy(spend_limit_units=5).restricted, "spending limits are checked by billing"
    assert policy(ip_allowlist=["::1"]).restricted


def _routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # a router included in the app
            yield from _routes(route.original_router.routes)


def _needs_key(dependant: Dependant) -> bool:
    return any(
        dep.call is current_principal or hasattr(dep.call, "permission") or _needs_key(dep)
        for dep in dependant.dependencies
    )


def test_every_endpoint_that_takes_a_key_belongs_to_a_scope() -> None:
    """Otherwise a key with scopes could never call it."""
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:", secret="s", environ={}))
    keyed = [route.path for route in _routes(app.routes) if _needs_key(route.dependant)]
    assert "/user/api-keys/{key_id}/rotate" in keyed and "/admin/users" in keyed
    assert [path for path in keyed if scope_of(path) is None] == []
