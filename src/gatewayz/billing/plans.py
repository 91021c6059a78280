"""Plans: a credit allowance granted each period, rate limits, and the models a plan allows.

A plan that users are subscribed to is never deleted, only deactivated: it can no longer be
assigned, and its subscribers keep it (and keep being renewed on it) until they change plan.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gatewayz.billing.money import credits_to_units
from gatewayz.billing.plan_settings import MAX_COUNT, Credits, ModelPatterns, PlainText
from gatewayz.errors import Conflict, InvalidRequest, NotFound
from gatewayz.limits.settings import LimitValues
from gatewayz.store.tables import plans, subscriptions

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
PlanName = Annotated[str, Field(pattern=_NAME.pattern)]
_LIMITS = ("rpm", "rpd", "tpm", "concurrency")


@dataclass(frozen=True, slots=True)
class Plan:
    id: int
    name: str
    description: str | None
    allowance_units: int
    period_days: int
    limits: LimitValues
    models: tuple[str, ...] | None
    active: bool
    created_at: datetime


class PlanChanges(BaseModel):
    """The fields of a plan to change (PATCH); a field left out keeps its value."""

    model_config = ConfigDict(extra="forbid")

    name: PlanName | None = None
    description: PlainText | None = Field(default=None, max_length=2000)
    allowance: Credits | None = Field(default=None, description="Credits granted each period.")
    period_days: int | None = Field(default=None, ge=1, le=3660)
    rpm: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    rpd: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    tpm: int | None = Field(default=None, ge=1, le=2**63 - 1)
    concurrency: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    models: ModelPatterns = Field(default=None, description="Model ids or patterns; null: all.")
    active: bool | None = None

    def columns(self) -> dict[str, Any]:
        """The table columns for the fields that were sent; 400 for a null required field."""
        values: dict[str, Any] = {}
        for name in self._sent():
            value = getattr(self, name)
            if value is None and name in ("name", "allowance", "period_days", "active"):
                raise InvalidRequest(f"{name}: may not be null.", param=name)
            if name == "allowance":
                values["allowance_units"] = credits_to_units(value)
            elif name == "models":
                values["models"] = None if value is None else orjson.dumps(value).decode()
            else:
                values[name] = value
        return values

    def _sent(self) -> set[str]:
        return set(self.model_fields_set)


class NewPlan(PlanChanges):
    """A plan to create: a name and an allowance are required."""

    name: PlanName
    allowance: Credits
    period_days: int = Field(default=30, ge=1, le=3660)
    active: bool = True

    def _sent(self) -> set[str]:
        return set(type(self).model_fields)


_COLUMNS = (
    plans.c.id,
    plans.c.name,
    plans.c.description,
    plans.c.allowance_units,
    plans.c.period_days,
    plans.c.rpm,
    plans.c.rpd,
    plans.c.tpm,
    plans.c.concurrency,
    plans.c.models,
    plans.c.active,
    plans.c.created_at,
)


def plan_from_row(row: Any) -> Plan:
    """A Plan from a row holding at least the plans table's columns, by name."""
    return Plan(
        id=row.id,
        name=row.name,
        description=row.description,
        allowance_units=int(row.allowance_units),
        period_days=row.period_days,
        limits=LimitValues(**{name: getattr(row, name) for name in _LIMITS}),
        models=None if row.models is None else tuple(orjson.loads(row.models)),
        active=bool(row.active),
        created_at=row.created_at,
    )


def models_matcher(patterns: Iterable[str] | None) -> re.Pattern[str] | None:
    """One regular expression matching every allowed model id; None: every model."""
    if patterns is None:
        return None
    parts = [".*".join(re.escape(piece) for piece in p.split("*")) for p in patterns]
    return re.compile("|".join(f"(?:{part})" for part in parts) or "(?!)")


async def create_plan(conn: AsyncConnection, new: NewPlan) -> Plan:
    """A new plan; 409 if the name is taken."""
    await _name_free(conn, new.name)
    try:
        async with conn.begin_nested():
            plan_id = await conn.scalar(
                plans.insert().values(**new.columns()).returning(plans.c.id)
            )
    except IntegrityError:  # a plan of that name was created at the same moment
        raise _name_taken(new.name) from None
    return await get_plan(conn, plan_id)


async def get_plan(conn: AsyncConnection, plan_id: int, *, lock: bool = False) -> Plan:
    """One plan by id (404 if unknown), optionally locking its row."""
    query = select(*_COLUMNS).where(plans.c.id == plan_id)
    if lock and conn.dialect.name != "sqlite":
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound(f"No plan with id {plan_id}.")
    return plan_from_row(row)


async def find_plan(conn: AsyncConnection, ref: int | str, *, param: str = "plan") -> Plan:
    """A plan by id or by name; 400 naming `param` when there is none."""
    column = plans.c.id if isinstance(ref, int) else plans.c.name
    storable = 1 <= ref <= MAX_COUNT if isinstance(ref, int) else _NAME.match(ref) is not None
    row = (await conn.execute(select(*_COLUMNS).where(column == ref))).first() if storable else None
    if row is None:
        raise InvalidRequest(f"{param}: no plan {ref!r}.", param=param)
    return plan_from_row(row)


async def list_plans(conn: AsyncConnection, *, active_only: bool = False) -> list[Plan]:
    """Every plan (or the active ones), cheapest allowance first."""
    query = select(*_COLUMNS).order_by(plans.c.allowance_units, plans.c.name)
    if active_only:
        query = query.where(plans.c.active)
    return [plan_from_row(row) for row in await conn.execute(query)]


async def subscriber_counts(conn: AsyncConnection) -> dict[int, int]:
    """Active subscriptions per plan id."""
    query = (
        select(subscriptions.c.plan_id, func.count())
        .where(subscriptions.c.status == "active")
        .group_by(subscriptions.c.plan_id)
    )
    return {plan_id: int(count) for plan_id, count in await conn.execute(query)}


async def update_plan(conn: AsyncConnection, plan_id: int, changes: PlanChanges) -> Plan:
    """Change the fields sent; 404 for an unknown plan, 409 for a name in use."""
    before = await get_plan(conn, plan_id, lock=True)
    values = changes.columns()
    if "name" in values and values["name"] != before.name:
        await _name_free(conn, values["name"])
    if values:
        try:
            async with conn.begin_nested():
                await conn.execute(update(plans).where(plans.c.id == plan_id).values(**values))
        except IntegrityError:
            if "name" not in values:
                raise
            raise _name_taken(values["name"]) from None  # taken at the same moment
    return await get_plan(conn, plan_id)


def grants_more(before: Plan, after: Plan) -> bool:
    """Whether `after` grants its subscribers more credits over time than `before`: a larger
    allowance, or the same allowance more often."""
    if after.allowance_units == 0:
        return False
    return after.allowance_units > before.allowance_units or (
        after.period_days < before.period_days
    )


async def delete_plan(conn: AsyncConnection, plan_id: int) -> Plan:
    """Delete a plan no subscription (past or present) names; 409 otherwise."""
    plan = await get_plan(conn, plan_id, lock=True)
    used = await conn.scalar(
        select(func.count()).where(
            or_(subscriptions.c.plan_id == plan_id, subscriptions.c.next_plan_id == plan_id)
        )
    )
    if used:
        raise Conflict(
            f"The plan '{plan.name}' has subscriptions: deactivate it instead "
            '(PATCH with {"active": false}).'
        )
    await conn.execute(delete(plans).where(plans.c.id == plan_id))
    return plan


async def _name_free(conn: AsyncConnection, name: str) -> None:
    if await conn.scalar(select(plans.c.id).where(plans.c.name == name)) is not None:
        raise _name_taken(name)


def _name_taken(name: str) -> Conflict:
    return Conflict(f"A plan named '{name}' already exists.", param="name")
