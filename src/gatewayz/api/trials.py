"""The caller's free trial: start it (once ever) and see its state."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from gatewayz.accounts.auth import Principal, current_principal
from gatewayz.api.deps import EngineDep, EntitlementsDep, SettingsDep
from gatewayz.billing import trials
from gatewayz.billing.money import credits_to_units, format_credits
from gatewayz.billing.plan_settings import TrialSettings
from gatewayz.store.times import iso

router = APIRouter(tags=["user"])

Caller = Annotated[Principal, Depends(current_principal)]


def trial_view(trial: trials.Trial, now: datetime) -> dict[str, Any]:
    removed = trial.removed_units
    return {
        "status": trial.status(now),
        "credits": format_credits(trial.credits_units),
        "started_at": iso(trial.started_at),
        "expires_at": iso(trial.expires_at),
        "ended_at": iso(trial.ended_at),
        "removed_credits": None if removed is None else format_credits(removed),
    }


def offer_view(settings: TrialSettings, offered: bool) -> dict[str, Any]:
    """What a user who never had a trial could start."""
    return {
        "status": "available" if settings.enabled and offered else "unavailable",
        "credits": format_credits(credits_to_units(settings.credits)),
        "days": settings.days,
    }


@router.post("/user/trial", status_code=201)
async def start_trial(
    engine: EngineDep, entitlements: EntitlementsDep, settings: SettingsDep, principal: Caller
) -> dict[str, Any]:
    """Start the caller's free trial and grant its credits (409 if they had one before)."""
    now = datetime.now(UTC)
    trial = await trials.start_trial(engine, principal.user_id, settings.trial, now)
    await entitlements.reload()
    return trial_view(trial, now)


@router.get("/user/trial")
async def my_trial(engine: EngineDep, settings: SettingsDep, principal: Caller) -> dict[str, Any]:
    """The caller's trial: active or expired with its dates, or the offer if they had none."""
    async with engine.connect() as conn:
        trial = await trials.get_trial(conn, principal.user_id)
        offered = trial is None and await trials.offered(conn, principal.user_id)
    if trial is None:
        return offer_view(settings.trial, offered)
    return trial_view(trial, datetime.now(UTC))
