"""The SMTP backend: the standard library's smtplib, run in a worker thread."""

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from gatewayz.notify.mail import Mail, MailError
from gatewayz.notify.settings import SmtpSettings


class SmtpMailer:
    """Sends each message over its own connection: TLS from the start (`ssl`) or upgraded
    with STARTTLS (`starttls`), logging in when a username is set."""

    def __init__(self, settings: SmtpSettings, from_address: str) -> None:
        self._settings = settings
        self._from = from_address

    async def send(self, mail: Mail) -> None:
        await asyncio.to_thread(self._deliver, self.message(mail))

    async def close(self) -> None:
        return None

    def message(self, mail: Mail) -> EmailMessage:
        """The message as it goes on the wire."""
        message = EmailMessage()
        message["From"] = self._from
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = formatdate(localtime=False)
        domain = parseaddr(self._from)[1].rpartition("@")[2] or None
        message["Message-ID"] = make_msgid(domain=domain)
        message.set_content(mail.text)
        return message

    def _deliver(self, message: EmailMessage) -> None:
        settings = self._settings
        context = ssl.create_default_context()
        try:
            if settings.ssl:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    settings.host, settings.port, timeout=settings.timeout_seconds, context=context
                )
            else:
                client = smtplib.SMTP(
                    settings.host, settings.port, timeout=settings.timeout_seconds
                )
            with client:
                if settings.starttls:
                    client.starttls(context=context)
                if settings.username:
                    password = settings.password.get_secret_value() if settings.password else ""
                    client.login(settings.username, password)
                client.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(f"the SMTP server refused the login (code {exc.smtp_code})") from None
        except smtplib.SMTPResponseException as exc:
            raise MailError(f"the SMTP server answered {exc.smtp_code}") from None
        except (smtplib.SMTPException, OSError) as exc:
            where = f"{settings.host}:{settings.port}"
            raise MailError(f"SMTP delivery via {where} failed ({type(exc).__name__})") from None
