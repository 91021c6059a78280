"""An administrator creates a user: role and starting credits in one transaction."""

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gatewayz.accounts.roles import ensure_role
from gatewayz.accounts.users import AccountError, normalise_email
from gatewayz.billing import ledger
from gatewayz.errors import Conflict, InvalidRequest
from gatewayz.store.tables import users


async def enrol(
    conn: AsyncConnection, email: str, role: str, credits_units: int, *, trial_offered: bool
) -> int:
    """Create the user in the caller's transaction and return their id.

    400 for a bad email or an unknown role, 409 if the email is taken. Starting credits are
    a ledger row of kind "grant"; `trial_offered` False: the user can never start the free
    trial.
    """
    try:
        email = normalise_email(email)
    except AccountError as exc:
        raise InvalidRequest(f"email: {exc}", param="email") from None
    await ensure_role(conn, role)
    try:
        user_id = int(
            await conn.scalar(
                users.insert()
                .values(
                    email=email,
                    role=role,
                    balance_units=0,
                    reserved_units=0,
                    trial_offered=trial_offered,
                )
                .returning(users.c.id)
            )
        )
    except IntegrityError:
        raise Conflict(f"A user with email {email} already exists.", param="email") from None
    if credits_units:
        await ledger.apply_change(
            conn,
            user_id,
            credits_units,
            kind="grant",
            reason="starting credits",
            idempotency_key=f"signup:{user_id}",
        )
    return user_id
