"""What Gatewayz tells its users, each notice sent at most once per dedupe key."""

import asyncio
import logging
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.notify.mail import Mail, Mailer, MailError
from gatewayz.store.tables import notifications

log = logging.getLogger(__name__)

TEMPLATES: dict[str, tuple[str, str]] = {
    "low_balance": (
        "Your Gatewayz balance is low",
        "Your balance is {balance} credits, below {threshold}. Add credits to keep calling.",
    ),
    "trial_ending": (
        "Your Gatewayz trial ends soon",
        "Your free trial ends at {expires_at}. Unused trial credits expire then.",
    ),
    "key_created": (
        "A new Gatewayz API key was created",
        "The key '{name}' ({prefix}...) was created on your account. If this was not you, "
        "revoke it at once.",
    ),
    "password_reset": (
        "Set a new Gatewayz password",
        "Someone asked to set a new password for this account. Open this link within "
        "{minutes} minutes to do so: {link}\nIf this was not you, ignore this message.",
    ),
    "invitation": (
        "You are invited to Gatewayz",
        "You are invited to create a Gatewayz account. Open this link within {days} days: {link}",
    ),
    "payment_received": (
        "Payment received",
        "We received your payment of {amount} {currency}; {credits} credits were added.",
    ),
}


class Notifier:
    """Sends notices through a mailer, off the caller's path; a failed send is logged."""

    def __init__(self, engine: AsyncEngine, mailer: Mailer) -> None:
        self._engine = engine
        self._mailer = mailer
        self._sending: set[asyncio.Task[None]] = set()

    async def notify(
        self, kind: str, *, recipient: str, user_id: int | None, dedupe_key: str, **context: Any
    ) -> bool:
        """Send notice `kind` unless one with `dedupe_key` was sent; whether it is sent now."""
        subject, text = TEMPLATES[kind]
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    notifications.insert().values(
                        user_id=user_id, kind=kind, dedupe_key=dedupe_key, recipient=recipient
                    )
                )
        except IntegrityError:
            return False
        task = asyncio.create_task(self._send(Mail(recipient, subject, text.format(**context))))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        return True

    async def _send(self, mail: Mail) -> None:
        try:
            await self._mailer.send(mail)
        except MailError as exc:
            log.warning("could not send %r to a user: %s", mail.subject, exc)
        except Exception as exc:
            log.warning("could not send %r to a user: %s", mail.subject, type(exc).__name__)

    async def close(self) -> None:
        """Wait for the sends in flight, then close the mailer."""
        await asyncio.gather(*self._sending, return_exceptions=True)
        await self._mailer.close()
