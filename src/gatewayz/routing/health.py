"""Provider health from live traffic and probes: error rate, latency, last error, circuits."""

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from statistics import quantiles
from typing import Any

from gatewayz.routing.breaker import CircuitBreaker, CircuitState

WINDOW = 200


@dataclass(slots=True)
class _Outcome:
    at: float
    ok: bool
    latency: float


@dataclass(slots=True)
class ProviderHealth:
    """The recent outcomes of one provider's calls and its circuit per model."""

    outcomes: deque[_Outcome] = field(default_factory=lambda: deque(maxlen=WINDOW))
    last_error: str | None = None
    last_error_at: float | None = None
    last_success_at: float | None = None
    circuits: dict[str, CircuitBreaker] = field(default_factory=dict)

    def latency_quantiles(self) -> tuple[float | None, float | None]:
        """p50 and p95 of successful calls' latency, in seconds."""
        values = sorted(o.latency for o in self.outcomes if o.ok)
        if not values:
            return None, None
        if len(values) == 1:
            return values[0], values[0]
        cuts = quantiles(values, n=100, method="inclusive")
        return cuts[49], cuts[94]

    def error_rate(self) -> float | None:
        if not self.outcomes:
            return None
        return sum(1 for o in self.outcomes if not o.ok) / len(self.outcomes)


class HealthBoard:
    """Health of every provider, fed by each attempt; consulted by routing."""

    def __init__(
        self,
        threshold: int,
        cooldown: float,
        on_circuit: Callable[[str, str, str], None] | None = None,
    ) -> None:
        """`on_circuit(provider, model, state)` is told of each change of a circuit's state."""
        self._threshold = threshold
        self._cooldown = cooldown
        self._on_circuit = on_circuit
        self._providers: dict[str, ProviderHealth] = {}

    def provider(self, name: str) -> ProviderHealth:
        health = self._providers.get(name)
        if health is None:
            health = self._providers[name] = ProviderHealth()
        return health

    def circuit(self, provider: str, model: str) -> CircuitBreaker:
        circuits = self.provider(provider).circuits
        breaker = circuits.get(model)
        if breaker is None:
            breaker = circuits[model] = CircuitBreaker(self._threshold, self._cooldown)
        return breaker

    def record(
        self, provider: str, model: str | None, ok: bool, latency: float, error: str | None
    ) -> None:
        """One attempt's outcome; `model` None for a provider-wide probe."""
        now = time.monotonic()
        health = self.provider(provider)
        health.outcomes.append(_Outcome(now, ok, latency))
        if ok:
            health.last_success_at = now
        else:
            health.last_error, health.last_error_at = error, now
        for name in [model] if model else list(health.circuits):
            breaker = self.circuit(provider, name)
            before = breaker.state
            if ok:
                breaker.record_success()
            else:
                breaker.record_failure(now)
            if breaker.state is not before and self._on_circuit is not None:
                self._on_circuit(provider, name, breaker.state.value)

    def circuit_states(self) -> Iterator[tuple[str, str, str]]:
        """Every circuit's provider, model and state, as routing would see it now."""
        now = time.monotonic()
        for provider, health in self._providers.items():
            for model, breaker in health.circuits.items():
                yield provider, model, breaker.current_state(now).value

    def median_latency(self, provider: str) -> float | None:
        return self.provider(provider).latency_quantiles()[0]

    def summary(self, provider: str) -> dict[str, Any]:
        """The provider's health as the monitoring endpoints show it."""
        health = self.provider(provider)
        now = time.monotonic()
        p50, p95 = health.latency_quantiles()
        circuits = {model: b.current_state(now).value for model, b in health.circuits.items()}
        error_rate = health.error_rate()
        if not health.outcomes:
            state = "unknown"
        elif circuits and all(s == CircuitState.OPEN for s in circuits.values()):
            state = "down"
        elif any(s != CircuitState.CLOSED for s in circuits.values()) or (error_rate or 0) > 0.2:
            state = "degraded"
        else:
            state = "healthy"
        return {
            "provider": provider,
            "state": state,
            "requests": len(health.outcomes),
            "error_rate": None if error_rate is None else round(error_rate, 4),
            "latency_ms": {
                "p50": None if p50 is None else round(p50 * 1000, 1),
                "p95": None if p95 is None else round(p95 * 1000, 1),
            },
            "last_error": health.last_error,
            "last_error_at": _wall_clock(health.last_error_at, now),
            "last_success_at": _wall_clock(health.last_success_at, now),
            "circuits": circuits,
        }


def _wall_clock(monotonic: float | None, now: float) -> str | None:
    """An ISO time for a monotonic reading taken `now - monotonic` seconds ago."""
    if monotonic is None:
        return None
    return datetime.fromtimestamp(time.time() - (now - monotonic), UTC).isoformat(
        timespec="seconds"
    )
