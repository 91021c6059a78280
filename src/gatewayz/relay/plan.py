"""The call plan: what the relay needs of one client call, read once from the client's body by
the front end of its API, so that the relay never reads a client body itself."""

from dataclasses import dataclass
from typing import Any

from gatewayz.billing.worst_case import Demand
from gatewayz.providers.spec import ModelType
from gatewayz.routing.options import RoutingOptions, parse_options


@dataclass(frozen=True, slots=True)
class CallPlan:
    """One client call as the relay plans it.

    `api` names the client API it came in by, `options` its model and routing options,
    `demand` what the credit hold and the token rate limits count of it (its body's size, the
    output limit the client asked for, its answers, media parts and tools), `request_id` the id
    of the request that made it (what its settlement and request log row are keyed by), `kind`
    the type of model that serves it.
    """

    api: str
    options: RoutingOptions
    demand: Demand
    request_id: str
    stream: bool = False
    kind: ModelType = "chat"

    @property
    def model(self) -> str:
        """The model the client asked for (the first of its routing options)."""
        return self.options.models[0]

    @property
    def body_size(self) -> int:
        """The size of the request body in bytes."""
        return self.demand.input_bytes


def call_plan(
    api: str,
    routing: dict[str, Any],
    demand: Demand,
    request_id: str,
    stream: bool = False,
    kind: ModelType = "chat",
) -> CallPlan:
    """The plan of the call of request `request_id` whose `routing` holds its model and any
    routing options (see routing.options); 400 for malformed options."""
    return CallPlan(api, parse_options(routing), demand, request_id, stream, kind)
