"""GET /user/balance: the caller's credits."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from gatewayz.accounts.auth import Principal, current_principal
from gatewayz.accounts.users import get_user
from gatewayz.billing.money import format_credits

router = APIRouter(tags=["user"])


@router.get("/user/balance")
async def balance(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> dict[str, object]:
    """Settled credits, the part held by calls in flight, and what is available now."""
    user = await get_user(request.app.state.engine, user_id=principal.user_id)
    return {
        "user_id": user.id,
        "email": user.email,
        "credits": format_credits(user.balance_units),
        "reserved": format_credits(user.reserved_units),
        "available": format_credits(user.balance_units - user.reserved_units),
        "currency": "USD",
    }
