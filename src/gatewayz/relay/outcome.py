"""How a call ended, and who hears of it: what follows a call (storing a chat session's turn,
auditing a refusal) subscribes to its outcome instead of happening inside the pipeline."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gatewayz.accounts.auth import Principal
from gatewayz.protocols.usage import Usage
from gatewayz.relay.plan import CallPlan

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One call's end, as its subscribers see it.

    Its request id is its plan's. `status` is the HTTP status it ended with (499: the client
    left), `usage` what it is billed for. `answered`: the whole answer was made, and
    (unstreamed) its client was still there to take it. `reply` is the answer as a chat
    message, when its front end keeps one (in a chat session). `refused_by` names the key
    restriction that refused the call before it was sent (see accounts.key_checks).
    """

    plan: CallPlan
    principal: Principal
    status: int
    error: str | None = None
    usage: Usage | None = None
    answered: bool = False
    reply: dict[str, Any] | None = None
    refused_by: str | None = None


Subscriber = Callable[[Outcome], None]


def publish(subscribers: list[Subscriber], outcome: Outcome) -> None:
    """Tell each subscriber the outcome; one that fails is logged, and the others still hear."""
    for subscriber in subscribers:
        try:
            subscriber(outcome)
        except Exception:
            log.exception("a subscriber to the outcome of %s failed", outcome.plan.request_id)
