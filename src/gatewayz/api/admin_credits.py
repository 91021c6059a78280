"""POST /admin/users/{id}/credits: add or remove a user's credits, with a reason
(`credits:adjust`). The ledger row and the audit entry are written in one transaction."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import audit
from gatewayz.accounts.auth import Principal
from gatewayz.accounts.permissions import require_permission
from gatewayz.api.acting import admin_event
from gatewayz.api.admin_params import parse_credits
from gatewayz.api.deps import EngineDep
from gatewayz.api.plans import RowId
from gatewayz.billing.adjustments import KIND, AdjustmentRefused, adjust_credits
from gatewayz.billing.ledger import CreditChange, UnknownUser
from gatewayz.billing.money import format_credits
from gatewayz.billing.plan_settings import PlainText
from gatewayz.errors import Conflict, InvalidRequest, NotFound

router = APIRouter(prefix="/admin", tags=["admin"])

Adjuster = Annotated[Principal, Depends(require_permission("credits:adjust"))]


class Adjustment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: str = Field(description='Credits to add, or (negative) remove: "12.5", "-3".')
    reason: PlainText = Field(max_length=1000)
    idempotency_key: PlainText | None = Field(default=None, min_length=1, max_length=150)


@router.post("/users/{user_id}/credits")
async def adjust(
    request: Request, engine: EngineDep, user_id: RowId, body: Adjustment, actor: Adjuster
) -> dict[str, Any]:
    """Change the balance by `amount`; a retry with the same `idempotency_key` applies once."""
    units = parse_credits(body.amount, "amount")
    if units == 0:
        raise InvalidRequest("amount: must not be zero.", param="amount")
    reason = body.reason.strip()
    if not reason:
        raise InvalidRequest("reason: must not be empty.", param="reason")
    try:
        change = await _apply(request, engine, actor, user_id, units, reason, body.idempotency_key)
    except IntegrityError:
        if body.idempotency_key is None:
            raise
        # A concurrent request with the same key won: this one is its retry.
        change = await _apply(request, engine, actor, user_id, units, reason, body.idempotency_key)
    return {
        "user_id": user_id,
        "amount": format_credits(change.amount_units),
        "credits": format_credits(change.balance_after_units),
        "kind": KIND,
        "reason": reason,
        "applied": change.applied_now,
    }


async def _apply(
    request: Request,
    engine: AsyncEngine,
    actor: Principal,
    user_id: int,
    units: int,
    reason: str,
    idempotency_key: str | None,
) -> CreditChange:
    try:
        async with engine.begin() as conn:
            change = await adjust_credits(conn, user_id, units, reason, idempotency_key)
            if change.applied_now:
                event = admin_event(
                    request,
                    actor,
                    "credits.adjusted",
                    "user",
                    user_id,
                    amount=format_credits(units),
                    reason=reason,
                    balance_after=format_credits(change.balance_after_units),
                )
                await audit.record(conn, event)
    except UnknownUser:
        raise NotFound(f"No user with id {user_id}.") from None
    except AdjustmentRefused as exc:
        raise Conflict(str(exc), param=exc.field) from None
    return change
