"""A mail message and the backend protocol; the console backend logs instead of sending."""

import logging
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("gatewayz.mail")


class MailError(Exception):
    """A backend could not hand a message over; the message names why, never a secret."""


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    text: str


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None: ...

    async def close(self) -> None: ...


class ConsoleMailer:
    """Writes each message to the log: the default, for development and tests."""

    async def send(self, mail: Mail) -> None:
        log.info("mail to %s: %s\n%s", mail.to, mail.subject, mail.text)

    async def close(self) -> None:
        return None
