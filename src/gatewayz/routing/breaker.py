"""Circuit breakers: closed -> open after failures -> half-open probe -> closed."""

import time
from dataclasses import dataclass
from enum import StrEnum


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(slots=True)
class CircuitBreaker:
    """Opens after `threshold` failures in a row; after `cooldown` lets one probe call through.

    The probe's success closes the circuit, its failure opens it for another cooldown.
    """

    threshold: int = 5
    cooldown: float = 30.0
    state: CircuitState = CircuitState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    probe_in_flight: bool = False

    @staticmethod
    def _now() -> float:
        return time.monotonic()

    def allows(self, now: float | None = None) -> bool:
        """Whether a call may go through now (claims the probe slot when half-open)."""
        now = self._now() if now is None else now
        if self.state is CircuitState.OPEN and now - self.opened_at >= self.cooldown:
            self.state = CircuitState.HALF_OPEN
            self.probe_in_flight = False
        if self.state is CircuitState.CLOSED:
            return True
        if self.state is CircuitState.HALF_OPEN and not self.probe_in_flight:
            self.probe_in_flight = True
            return True
        return False

    def current_state(self, now: float | None = None) -> CircuitState:
        """The state as routing would see it now, without claiming a probe."""
        now = self._now() if now is None else now
        if self.state is CircuitState.OPEN and now - self.opened_at >= self.cooldown:
            return CircuitState.HALF_OPEN
        return self.state

    def record_success(self) -> None:
        self.state = CircuitState.CLOSED
        self.failures = 0
        self.probe_in_flight = False

    def record_failure(self, now: float | None = None) -> None:
        now = self._now() if now is None else now
        self.failures += 1
        if self.state is CircuitState.HALF_OPEN or self.failures >= self.threshold:
            self.state = CircuitState.OPEN
            self.opened_at = now
            self.probe_in_flight = False
