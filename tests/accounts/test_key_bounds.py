"""Which key a restricted key may give: the restrictions compared one by one."""

from gatewayz.accounts.key_bounds import Bounds, loosened


def test_referrers_and_addresses_must_stay_within_the_holders() -> None:
    held = Bounds(referrers=("*.example.com", "example.org"), ip_allowlist=("10.0.0.0/8",))
    inside = Bounds(referrers=("a.example.com", "*.b.example.com"), ip_allowlist=("10.1.0.0/16",))
    assert loosened(held, inside) is None
    for referrers in [(), ("evilexample.com",), ("example.com.evil.org",), ("www.example.org",)]:
        wanted = Bounds(referrers=referrers, ip_allowlist=("10.1.0.0/16",))
        assert loosened(held, wanted) == "referrers", referrers
    for networks in [(), ("0.0.0.0/0",), ("11.0.0.1",), ("::ffff:a00:1",)]:
        wanted = Bounds(referrers=("example.org",), ip_allowlist=networks)
        assert loosened(held, wanted) == "ip_allowlist", networks


def test_an_unrestricted_holder_may_give_anything() -> None:
    assert loosened(Bounds(), Bounds()) is None
    assert loosened(Bounds(scopes=frozenset({"chat"})), Bounds()) == "scopes"
