"""Calls that cost more than they held (an upstream billed past the limits it was sent): each is
charged in full all the same (billing.ledger.settle records the shortfall), operators see it in
a warning line and the `gatewayz_shortfall_credits_total` metric, and the user's calls are
refused until credits pay the debt."""

import logging
import time

from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts.auth import Principal
from gatewayz.billing import ledger
from gatewayz.billing.money import format_credits
from gatewayz.providers.catalog import Route
from gatewayz.store.batch import BatchWriter
from gatewayz.telemetry.context import note_shortfall

log = logging.getLogger(__name__)

OWED_SECONDS = 1.0  # how long a refusal's debt check is reused (see Debts.owed)
_OWED_USERS = 10_000  # at most this many remembered at once


def report_shortfall(
    request_id: str, principal: Principal, route: Route, held: int, cost: int
) -> None:
    """One warning line (ids only, never a key) and the metric for a call that cost `cost`
    units, more than the `held` units of its hold."""
    shortfall = cost - held
    note_shortfall(shortfall)
    log.warning(
        "credit shortfall: request %s user %d key %d provider %s model %s held %s cost %s "
        "credits (%s credits beyond the hold)",
        request_id,
        principal.user_id,
        principal.key_id,
        route.provider.name,
        route.public_id,
        format_credits(held),
        format_credits(cost),
        format_credits(shortfall),
        extra={
            "user_id": principal.user_id,
            "key_id": principal.key_id,
            "provider": route.provider.name,
            "provider_model": route.public_id,
            "held_units": held,
            "cost_units": cost,
            "shortfall_units": shortfall,
        },
    )


class Debts:
    """Tells which users are in debt, for the calls a credit hold alone would not refuse.

    A debt is a balance below zero; the hold of a paid call then fails by itself (nothing is
    free). A free call holds nothing, so it is checked against the balance. And the next call
    of a user whose call cost more than its hold in this process first has that settlement
    written, and is refused while the balance is below zero, even if a lease of theirs could
    still serve it.
    """

    def __init__(self, engine: AsyncEngine | None, writer: BatchWriter) -> None:
        self._engine = engine
        self._writer = writer
        self._made_here: dict[int, str] = {}  # user id -> the call that may have made a debt
        self._owed: dict[int, tuple[float, int]] = {}  # user id -> (until when, debt)

    def note(self, user_id: int, request_id: str) -> None:
        """The user's call `request_id` cost more than it held."""
        self._made_here[user_id] = request_id

    async def blocks(self, user_id: int, *, free: bool) -> bool:
        """Whether a debt refuses the user's next call (`free`: it would hold nothing)."""
        request_id = self._made_here.get(user_id)
        if self._engine is None or (request_id is None and not free):
            return False
        owed, settled = await ledger.debt(self._engine, user_id, request_id)
        if request_id is None:
            return owed > 0
        if not settled:  # written within milliseconds anyway: now, rather than guess
            await self._writer.flush()
            owed, settled = await ledger.debt(self._engine, user_id, request_id)
        if settled and not owed:
            self._made_here.pop(user_id, None)
            return False
        return True

    async def owed(self, user_id: int) -> int:
        """How far the user's settled balance is below zero, to word a refusal: read once per
        `OWED_SECONDS`, so that a client retrying without credit costs no query at all (the
        credit holds remember the refusal itself, see billing.holds)."""
        if self._engine is None:
            return 0
        now = time.monotonic()
        known = self._owed.get(user_id)
        if known is not None and now < known[0]:
            return known[1]
        owed = (await ledger.debt(self._engine, user_id))[0]
        if len(self._owed) >= _OWED_USERS:
            self._owed.clear()
        self._owed[user_id] = (now + OWED_SECONDS, owed)
        return owed
