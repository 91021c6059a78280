"""The Resend backend: POST {api_base}/emails with the API key as a bearer token."""

import aiohttp

from gatewayz.notify.mail import Mail, MailError
from gatewayz.notify.settings import ResendSettings


class ResendMailer:
    """Sends plain text messages through Resend's HTTP API over one pooled session."""

    def __init__(self, settings: ResendSettings, from_address: str) -> None:
        if settings.api_key is None:
            raise ValueError("the resend backend needs resend.api_key")
        self._url = settings.api_base.rstrip("/") + "/emails"
        self._headers = {"Authorization": f"Bearer {settings.api_key.get_secret_value()}"}
        self._timeout = aiohttp.ClientTimeout(total=settings.timeout_seconds)
        self._from = from_address
        self._session: aiohttp.ClientSession | None = None

    async def send(self, mail: Mail) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        body = {"from": self._from, "to": [mail.to], "subject": mail.subject, "text": mail.text}
        try:
            async with self._session.post(self._url, json=body, headers=self._headers) as answer:
                if answer.status >= 300:
                    detail = (await answer.text())[:200]
                    raise MailError(f"Resend answered {answer.status}: {detail}")
        except aiohttp.ClientError as exc:
            raise MailError(f"Resend could not be reached ({type(exc).__name__})") from None
        except TimeoutError:
            raise MailError("Resend did not answer in time") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
