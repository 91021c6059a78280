"""Referrals: GET /user/referral (the caller's code and rewards), POST /user/referral (who
referred the caller)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from gatewayz.accounts.auth import Principal, current_principal
from gatewayz.api.deps import ServicesDep
from gatewayz.app_services import Services
from gatewayz.billing import referrals
from gatewayz.billing.money import format_credits
from gatewayz.errors import InvalidRequest, NotFound

router = APIRouter(tags=["referrals"])

Caller = Annotated[Principal, Depends(current_principal)]


class ReferrerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=32)


async def _view(services: Services, user_id: int) -> dict[str, Any]:
    summary = await referrals.summary(services.engine, user_id)
    settings = services.settings.referrals
    return {
        "code": summary.code,
        "referred_by": summary.referred_by,
        "referred_users": summary.referred_users,
        "rewarded_referrals": summary.rewarded_referrals,
        "rewards_earned": format_credits(summary.rewards_units),
        "reward_per_referral": f"{settings.reward_credits.normalize():f}",
    }


@router.get("/user/referral")
async def show(services: ServicesDep, principal: Caller) -> dict[str, Any]:
    """The caller's referral code, how many users they referred and what they earned."""
    return await _view(services, principal.user_id)


@router.post("/user/referral")
async def set_referrer(
    body: ReferrerBody, services: ServicesDep, principal: Caller
) -> dict[str, Any]:
    """Name the user who referred the caller (once, before the caller's first purchase)."""
    try:
        await referrals.set_referrer(services.engine, principal.user_id, body.code)
    except referrals.UnknownReferralCode as exc:
        raise NotFound(str(exc), param="code") from None
    except referrals.ReferralError as exc:
        raise InvalidRequest(f"code: {exc}", param="code") from None
    return await _view(services, principal.user_id)
