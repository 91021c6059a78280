"""The mail backends deliver a notice for real: SMTP to a server started here, Resend's API to
a fake that records the request, and the console backend to the log."""

import logging

import pytest
from pydantic import ValidationError

from gatewayz.notify.backends import build_mailer
from gatewayz.notify.mail import Mail, MailError
from gatewayz.notify.settings import MailSettings
from gatewayz.settings import Settings
from tests.fakes.resend_api import FakeResendAPI
from tests.fakes.smtp_server import FakeSMTPServer

MAIL = Mail("ana@example.com", "Your Gatewayz balance is low", "Your balance is 0.5 credits.")
FROM = "Gatewayz <billing@gatewayz.example>"


def _smtp(server: FakeSMTPServer, **smtp: object) -> MailSettings:
    return MailSettings(
        backend="smtp",
        from_address=FROM,
        smtp={"host": server.host, "port": server.port, "starttls": False, **smtp},
    )


async def test_smtp_delivers_the_message_after_logging_in() -> None:
    async with FakeSMTPServer(username="mailer", password="s3cret-pass") as server:
        mailer = build_mailer(_smtp(server, username="mailer", password="s3cret-pass"))
        await mailer.send(MAIL)
        await mailer.close()

    (received,) = server.received
    assert received.login == "mailer"
    assert (received.mail_from, received.rcpt_to) == ("billing@gatewayz.example", [MAIL.to])
    message = received.message
    assert message["From"] == FROM
    assert message["To"] == MAIL.to
    assert message["Subject"] == MAIL.subject
    assert message["Message-ID"].endswith("@gatewayz.example>")
    assert message.get_content().strip() == MAIL.text


async def test_smtp_refused_login_is_a_mail_error_without_the_password() -> None:
    async with FakeSMTPServer(username="mailer", password="right-pass") as server:
        mailer = build_mailer(_smtp(server, username="mailer", password="wrong-pass"))
        with pytest.raises(MailError) as refused:
            await mailer.send(MAIL)
    assert "refused the login (code 535)" in str(refused.value)
    assert "wrong-pass" not in str(refused.value)
    assert server.received == []


async def test_smtp_unreachable_server_names_the_address() -> None:
    async with FakeSMTPServer() as server:
        settings = _smtp(server)
    with pytest.raises(MailError) as failed:
        await build_mailer(settings).send(MAIL)
    assert f"127.0.0.1:{server.port}" in str(failed.value)


async def test_resend_posts_the_message_with_the_bearer_key() -> None:
    async with FakeResendAPI(api_key="re_live_key_123") as api:
        settings = MailSettings(
            backend="resend",
            from_address=FROM,
            resend={"api_key": "re_live_key_123", "api_base": api.base_url},
        )
        mailer = build_mailer(settings)
        await mailer.send(MAIL)
        await mailer.close()

    (request,) = api.requests
    assert request.headers["authorization"] == "Bearer re_live_key_123"
    assert request.headers["content-type"].startswith("application/json")
    assert request.json == {
        "from": FROM,
        "to": [MAIL.to],
        "subject": MAIL.subject,
        "text": MAIL.text,
    }


async def test_resend_refusal_is_a_mail_error_with_its_status_not_the_key() -> None:
    async with FakeResendAPI(api_key="re_right") as api:
        settings = MailSettings(
            backend="resend", resend={"api_key": "re_wrong_key", "api_base": api.base_url}
        )
        mailer = build_mailer(settings)
        with pytest.raises(MailError) as refused:
            await mailer.send(MAIL)
        await mailer.close()
    assert "Resend answered 401" in str(refused.value)
    assert "re_wrong_key" not in str(refused.value)


async def test_console_backend_logs_the_message(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gatewayz.mail")
    mailer = build_mailer(MailSettings())
    await mailer.send(MAIL)
    assert f"mail to {MAIL.to}: {MAIL.subject}" in caplog.text
    assert MAIL.text in caplog.text


@pytest.mark.parametrize(
    ("mail", "field"),
    [
        ({"backend": "resend"}, "resend.api_key"),
        ({"backend": "smtp", "smtp": {"starttls": True, "ssl": True}}, "starttls"),
        ({"backend": "sendmail"}, "backend"),
        ({"low_balance_threshold": "-1"}, "low_balance_threshold"),
    ],
)
def test_bad_mail_settings_are_refused_naming_the_field(
    mail: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(mail=mail, environ={})
    assert field in str(refused.value)
