"""Plans: the public list, the caller's plan, and plan administration (`plans:manage`; what
grants credits, assigning a plan with an allowance or making a plan grant more, also needs
`credits:adjust`)."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from gatewayz.accounts import audit
from gatewayz.accounts.auth import Principal, current_principal
from gatewayz.accounts.permissions import require_permission, require_to_grant
from gatewayz.api.acting import admin_event
from gatewayz.api.deps import EngineDep, EntitlementsDep
from gatewayz.billing import plans as plan_store
from gatewayz.billing import subscriptions as subs
from gatewayz.billing.money import format_credits
from gatewayz.billing.plan_settings import MAX_COUNT
from gatewayz.billing.plans import NewPlan, Plan, PlanChanges
from gatewayz.billing.subscriptions import Subscription
from gatewayz.errors import Conflict
from gatewayz.store.times import iso

router = APIRouter(tags=["plans"])

Manager = Annotated[Principal, Depends(require_permission("plans:manage"))]
# Ids are 32-bit integer columns: a larger one is a 400 naming it, never a database error.
RowId = Annotated[int, Path(ge=1, le=MAX_COUNT)]


class PlanAssignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: int | Annotated[str, Field(min_length=1, max_length=64)] = Field(
        description="The plan's id or name."
    )


def plan_view(plan: Plan) -> dict[str, Any]:
    return {
        "id": plan.id,
        "name": plan.name,
        "description": plan.description,
        "allowance": format_credits(plan.allowance_units),
        "period_days": plan.period_days,
        "rpm": plan.limits.rpm,
        "rpd": plan.limits.rpd,
        "tpm": plan.limits.tpm,
        "concurrency": plan.limits.concurrency,
        "models": None if plan.models is None else list(plan.models),
        "active": plan.active,
    }


def subscription_view(found: Subscription | None) -> dict[str, Any]:
    """The subscription as the user and admins see it; `plan` is null without one."""
    if found is None:
        return {
            "plan": None,
            "status": None,
            "period_start": None,
            "period_end": None,
            "next_plan": None,
            "cancel_at_period_end": False,
            "allowance": None,
        }
    active = found.status == subs.ACTIVE
    return {
        "plan": plan_view(found.plan),
        "status": found.status,
        "period_start": iso(found.period_start),
        "period_end": iso(found.period_end),
        "next_plan": None if found.next_plan is None else plan_view(found.next_plan),
        "cancel_at_period_end": found.cancel_at_period_end,
        "allowance": format_credits(found.plan.allowance_units) if active else None,
    }


@router.get("/v1/plans")
async def public_plans(engine: EngineDep) -> dict[str, Any]:
    """The active plans, smallest allowance first (no API key needed)."""
    async with engine.connect() as conn:
        found = await plan_store.list_plans(conn, active_only=True)
    return {"object": "list", "data": [plan_view(plan) for plan in found]}


@router.get("/user/plan")
async def my_plan(
    engine: EngineDep, principal: Annotated[Principal, Depends(current_principal)]
) -> dict[str, Any]:
    """The caller's plan, its current period, what happens at the end of it."""
    async with engine.connect() as conn:
        found = await subs.get_subscription(conn, principal.user_id)
    return subscription_view(found)


@router.post("/admin/plans", status_code=201)
async def create_plan(
    request: Request, engine: EngineDep, body: NewPlan, actor: Manager
) -> dict[str, Any]:
    """A new plan (409 if the name is taken)."""
    async with engine.begin() as conn:
        plan = await plan_store.create_plan(conn, body)
        await audit.record(
            conn, admin_event(request, actor, "plan.created", "plan", plan.id, name=plan.name)
        )
    return plan_view(plan)


@router.get("/admin/plans")
async def list_plans(engine: EngineDep, _: Manager) -> dict[str, Any]:
    """Every plan, active or not, with its number of active subscribers."""
    async with engine.connect() as conn:
        found = await plan_store.list_plans(conn)
        counts = await plan_store.subscriber_counts(conn)
    return {"data": [{**plan_view(p), "subscribers": counts.get(p.id, 0)} for p in found]}


@router.patch("/admin/plans/{plan_id}")
async def update_plan(
    request: Request,
    entitlements: EntitlementsDep,
    engine: EngineDep,
    plan_id: RowId,
    body: PlanChanges,
    actor: Manager,
) -> dict[str, Any]:
    """Change the fields sent; limits and models apply at once, the allowance and period
    length from each subscriber's next period. `{"active": false}` retires a plan."""
    async with engine.begin() as conn:
        before = await plan_store.get_plan(conn, plan_id, lock=True)
        plan = await plan_store.update_plan(conn, plan_id, body)
        if plan_store.grants_more(before, plan):  # raising rolls the change back
            require_to_grant(actor, f"Raising what the plan '{before.name}' grants")
        changed = sorted(body.model_fields_set)
        await audit.record(
            conn, admin_event(request, actor, "plan.updated", "plan", plan_id, fields=changed)
        )
    await entitlements.reload()
    return plan_view(plan)


@router.delete("/admin/plans/{plan_id}", status_code=204)
async def delete_plan(
    request: Request, engine: EngineDep, plan_id: RowId, actor: Manager
) -> Response:
    """Delete a plan nobody was ever subscribed to (409 otherwise: deactivate it)."""
    async with engine.begin() as conn:
        plan = await plan_store.delete_plan(conn, plan_id)
        await audit.record(
            conn, admin_event(request, actor, "plan.deleted", "plan", plan_id, name=plan.name)
        )
    return Response(status_code=204)


@router.get("/admin/users/{user_id}/plan")
async def user_plan(engine: EngineDep, user_id: RowId, _: Manager) -> dict[str, Any]:
    async with engine.connect() as conn:
        found = await subs.get_subscription(conn, user_id)
    return subscription_view(found)


@router.put("/admin/users/{user_id}/plan")
async def assign_plan(
    request: Request,
    entitlements: EntitlementsDep,
    engine: EngineDep,
    user_id: RowId,
    body: PlanAssignment,
    actor: Manager,
) -> dict[str, Any]:
    """Subscribe the user, upgrade them now, or schedule a downgrade for the period's end;
    `change` says which; 409 when another change to the user's plan won a race."""
    try:
        async with engine.begin() as conn:
            plan = await plan_store.find_plan(conn, body.plan)
            if plan.allowance_units:
                require_to_grant(actor, f"Assigning the plan '{plan.name}', whose allowance")
            change, found = await subs.assign_plan(conn, user_id, plan, datetime.now(UTC))
            event = admin_event(
                request, actor, "plan.assigned", "user", user_id, plan=plan.name, change=change
            )
            await audit.record(conn, event)
    except IntegrityError:
        raise Conflict("The user's plan was changed at the same time; try again.") from None
    await entitlements.reload()
    return {"change": change, **subscription_view(found)}


@router.delete("/admin/users/{user_id}/plan")
async def cancel_plan(
    request: Request,
    entitlements: EntitlementsDep,
    engine: EngineDep,
    user_id: RowId,
    actor: Manager,
    immediately: Annotated[bool, Query(description="End the plan now.")] = False,
) -> dict[str, Any]:
    """Stop the plan at the end of its period, or now with `?immediately=true`."""
    async with engine.begin() as conn:
        found = await subs.cancel(conn, user_id, immediately=immediately, now=datetime.now(UTC))
        event = admin_event(
            request, actor, "plan.canceled", "user", user_id, immediately=immediately
        )
        await audit.record(conn, event)
    await entitlements.reload()
    return subscription_view(found)
