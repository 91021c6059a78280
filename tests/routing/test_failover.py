from collections.abc import Callable

import pytest

from gatewayz.errors import UpstreamError
from gatewayz.providers.catalog import Route
from gatewayz.routing.failover import Failover, retry_after_seconds
from gatewayz.routing.health import HealthBoard
from gatewayz.routing.settings import RoutingSettings
from tests.routing.helpers import catalog, provider, route

CATALOG = catalog(provider("a", ("m", "1", "1")), provider("b", ("m", "1", "1")))
A, B = route(CATALOG, "a/m"), route(CATALOG, "b/m")


class Script:
    """An attempt function that fails or succeeds per provider as scripted."""

    def __init__(self, **outcomes: list[object]) -> None:
        self.outcomes = outcomes
        self.calls: list[str] = []

    async def __call__(self, target: Route) -> str:
        self.calls.append(target.provider.name)
        outcome = self.outcomes[target.provider.name].pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return str(outcome)


def failover(board: HealthBoard | None = None, **settings: object) -> tuple[Failover, list[float]]:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    values = {"backoff_base_seconds": 0.2, **settings}
    return Failover(
        board or HealthBoard(5, 30), RoutingSettings(**values), sleep=sleep, jitter=lambda: 1.0
    ), sleeps


def down(provider: str, status: int = 503, **headers: str) -> UpstreamError:
    return UpstreamError(provider, "down", status=status, headers=headers)


async def test_fails_over_to_the_next_provider_without_waiting() -> None:
    run, sleeps = failover()
    script = Script(a=[down("a")], b=["ok"])
    served = await run.run([A, B], script)
    assert (served.value, served.route.provider.name, served.attempts) == ("ok", "b", 2)
    assert sleeps == []


async def test_request_errors_are_not_retried() -> None:
    run, _ = failover()
    script = Script(a=[down("a", status=400)], b=["ok"])
    with pytest.raises(UpstreamError) as caught:
        await run.run([A, B], script)
    assert caught.value.status == 400
    assert script.calls == ["a"]


async def test_retries_the_same_route_with_exponential_backoff() -> None:
    run, sleeps = failover(max_attempts=3)
    script = Script(a=[down("a"), down("a"), "ok"])
    served = await run.run([A], script)
    assert served.attempts == 3
    assert sleeps == [pytest.approx(0.2), pytest.approx(0.4)]


async def test_retry_after_is_honoured_and_too_long_ones_are_not_waited_for() -> None:
    run, sleeps = failover(max_attempts=2)
    served = await run.run([A], Script(a=[down("a", 429, **{"Retry-After": "2"}), "ok"]))
    assert served.attempts == 2 and sleeps == [pytest.approx(2, abs=0.05)]
    run, sleeps = failover(max_attempts=2, max_retry_after_seconds=5)
    with pytest.raises(UpstreamError) as caught:
        await run.run([A], Script(a=[down("a", 429, **{"Retry-After": "60"}), "ok"]))
    assert caught.value.status == 429 and sleeps == []


async def test_attempts_are_bounded_by_count_and_the_last_error_is_raised() -> None:
    run, _ = failover(max_attempts=2)
    with pytest.raises(UpstreamError) as caught:
        await run.run([A, B], Script(a=[down("a")], b=[down("b", 502)]))
    assert caught.value.provider == "b"
    assert caught.value.headers["x-gatewayz-attempts"] == "2"


async def test_open_circuits_are_skipped_and_all_open_is_503() -> None:
    board = HealthBoard(threshold=1, cooldown=60)
    board.record("a", "m", False, 0.1, "boom")
    run, _ = failover(board)
    script = Script(b=["ok"])
    assert (await run.run([A, B], script)).route.provider.name == "b"
    assert script.calls == ["b"]
    board.record("b", "m", False, 0.1, "boom")
    with pytest.raises(UpstreamError) as caught:
        await run.run([A, B], Script())
    assert caught.value.status == 503 and caught.value.code == "no_healthy_provider"


async def test_health_records_failures_and_successes() -> None:
    board = HealthBoard(threshold=5, cooldown=60)
    run, _ = failover(board)
    await run.run([A, B], Script(a=[down("a")], b=["ok"]))
    a, b = board.summary("a"), board.summary("b")
    assert a["error_rate"] == 1.0 and a["last_error"] == "a: down"
    assert b["error_rate"] == 0.0 and b["state"] == "healthy"


@pytest.mark.parametrize(
    ("value", "check"),
    [
        ("3", lambda v: v == 3.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", lambda v: v == 0.0),
        ("soon", lambda v: v is None),
    ],
)
def test_retry_after_parsing(value: str, check: Callable[[float | None], bool]) -> None:
    assert check(retry_after_seconds(down("a", 429, **{"Retry-After": value})))
