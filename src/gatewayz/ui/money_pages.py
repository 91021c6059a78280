"""Buying credits (Stripe Checkout when configured), coupons, the free trial, referrals."""

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import RedirectResponse, Response

from gatewayz.ui.render import finish, page, redirect
from gatewayz.ui.signup_pages import public_base
from gatewayz.ui.visit import Visit, posted, visit

router = APIRouter()
Viewing = Annotated[Visit, Depends(visit)]
Posting = Annotated[Visit, Depends(posted)]
NOTES = {
    "trial": "Your free trial has started.",
    "paid": "Thank you: your credits are added as soon as Stripe confirms the payment.",
    "referrer": "Your referrer is recorded.",
}


@router.get("/credits")
async def credits(view: Viewing) -> Response:
    return await _credits_page(view)


async def _credits_page(
    view: Visit, status: int = 200, error: str = "", redeemed: dict[str, str] | None = None
) -> Response:
    api = view.client()
    balance = await api.get("/user/balance")
    payments = await api.get("/user/payments")
    trial = await api.get("/user/trial")
    return page(
        view,
        "credits.html",
        status,
        title="Credits",
        error=error,
        balance=balance.body,
        payments=payments.body["data"] if payments.ok else [],
        trial=trial.body if trial.ok else None,
        stripe=_stripe_configured(view),
        redeemed=redeemed,
        notes=NOTES,
    )


@router.post("/credits/checkout")
async def checkout(view: Posting) -> Response:
    """Start a Stripe Checkout through POST /user/checkout and go there."""
    body = {"amount": view.field("amount") or "0"}
    if view.field("coupon"):
        body["coupon"] = view.field("coupon")
    started = await view.client().post("/user/checkout", body)
    if not started.ok:
        return await _credits_page(view, started.status, started.error)
    return finish(view, RedirectResponse(started.body["url"], status_code=303))


@router.post("/credits/coupon")
async def redeem(view: Posting) -> Response:
    redeemed = await view.client().post("/user/coupons/redeem", {"code": view.field("code")})
    if not redeemed.ok:
        return await _credits_page(view, redeemed.status, redeemed.error)
    return await _credits_page(view, redeemed=redeemed.body)


@router.post("/credits/trial")
async def start_trial(view: Posting) -> Response:
    started = await view.client().post("/user/trial")
    if not started.ok:
        return await _credits_page(view, started.status, started.error)
    return redirect(view, "/ui/credits?note=trial")


@router.get("/referral")
async def referral(view: Viewing) -> Response:
    return await _referral_page(view)


async def _referral_page(view: Visit, status: int = 200, error: str = "") -> Response:
    found = await view.client().get("/user/referral")
    code = found.body.get("code") if found.ok else None
    link = f"{public_base(view)}/ui/signup?ref={code}" if code else None
    return page(
        view,
        "referral.html",
        status,
        title="Referrals",
        error=error or found.error,
        referral=found.body if found.ok else {},
        link=link,
        notes=NOTES,
    )


@router.post("/referral")
async def set_referrer(view: Posting) -> Response:
    answer = await view.client().post("/user/referral", {"code": view.field("code")})
    if not answer.ok:
        return await _referral_page(view, answer.status, answer.error)
    return redirect(view, "/ui/referral?note=referrer")


def _stripe_configured(view: Visit) -> bool:
    settings = view.services.settings
    return settings.stripe.secret(settings.environ) is not None
