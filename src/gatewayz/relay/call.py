"""One admitted call as the relay runs it: its exchange, the routes it may take, what it holds
and where it stands, from its admission to its settlement."""

import time
from dataclasses import dataclass, field

from gatewayz.accounts.auth import Principal
from gatewayz.limits.limiter import Admission
from gatewayz.providers.catalog import Route
from gatewayz.relay.exchange import Exchange, StreamCodec

CLIENT_CLOSED = 499
"""The status a call whose client left is logged with."""


@dataclass(slots=True)
class Call:
    """One call between its admission (see relay.admission) and its settlement (see
    relay.settlement); its request id is its plan's (`exchange.plan.request_id`)."""

    principal: Principal
    exchange: Exchange
    routes: list[Route]
    reserved_units: int
    admission: Admission | None
    key_held_units: int = 0
    route: Route | None = None
    codec: StreamCodec | None = None  # of a stream the client left while it was opened
    started: float = field(default_factory=time.perf_counter)
    first_byte: float | None = None
    upstream_seconds: float = 0.0
