"""The mail backend the settings name."""

from gatewayz.notify.mail import ConsoleMailer, Mailer
from gatewayz.notify.resend import ResendMailer
from gatewayz.notify.settings import MailSettings
from gatewayz.notify.smtp import SmtpMailer


def build_mailer(settings: MailSettings) -> Mailer:
    """`console` (logs each message), `smtp` or `resend`."""
    if settings.backend == "smtp":
        return SmtpMailer(settings.smtp, settings.from_address)
    if settings.backend == "resend":
        return ResendMailer(settings.resend, settings.from_address)
    return ConsoleMailer()
