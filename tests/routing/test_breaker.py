from gatewayz.routing.breaker import CircuitBreaker, CircuitState


def test_opens_after_threshold_failures_in_a_row() -> None:
    breaker = CircuitBreaker(threshold=3, cooldown=10)
    for _ in range(2):
        breaker.record_failure(now=0)
    assert breaker.allows(now=0)
    breaker.record_failure(now=0)
    assert breaker.state is CircuitState.OPEN
    assert not breaker.allows(now=5)


def test_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(threshold=2, cooldown=10)
    breaker.record_failure(now=0)
    breaker.record_success()
    breaker.record_failure(now=0)
    assert breaker.state is CircuitState.CLOSED


def test_half_open_lets_exactly_one_probe_through_then_closes_on_success() -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=10)
    breaker.record_failure(now=0)
    assert breaker.current_state(now=10) is CircuitState.HALF_OPEN
    assert breaker.allows(now=10)
    assert not breaker.allows(now=10.1)
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED
    assert breaker.allows(now=10.2)


def test_failed_probe_opens_again_for_a_full_cooldown() -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=10)
    breaker.record_failure(now=0)
    assert breaker.allows(now=10)
    breaker.record_failure(now=10)
    assert breaker.state is CircuitState.OPEN
    assert not breaker.allows(now=19)
    assert breaker.allows(now=20)
