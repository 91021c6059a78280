"""Settings for mail (`mail:`): which backend delivers notices, and the low balance notice."""

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class SmtpSettings(BaseModel):
    """An SMTP server: plain (then STARTTLS when `starttls`), or TLS from the start (`ssl`)."""

    model_config = ConfigDict(extra="forbid")

    host: str = "localhost"
    port: int = Field(default=587, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    ssl: bool = False
    timeout_seconds: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _one_tls_mode(self) -> "SmtpSettings":
        if self.starttls and self.ssl:
            raise ValueError("starttls and ssl exclude each other: set one of them to false")
        return self


class ResendSettings(BaseModel):
    """Resend's HTTP API."""

    model_config = ConfigDict(extra="forbid")

    api_key: SecretStr | None = None
    api_base: str = Field(default="https://api.resend.com", pattern=r"^https?://")
    timeout_seconds: float = Field(default=30.0, gt=0)


class MailSettings(BaseModel):
    """How notices are sent, and when a user's balance counts as low."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["console", "smtp", "resend"] = "console"
    from_address: str = Field(default="Gatewayz <noreply@gatewayz.local>", min_length=3)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    resend: ResendSettings = Field(default_factory=ResendSettings)
    low_balance_threshold: Decimal = Field(default=Decimal("1"), ge=0)
    low_balance_check_seconds: float = Field(default=300.0, ge=0)

    @model_validator(mode="after")
    def _backend_configured(self) -> "MailSettings":
        if self.backend == "resend" and self.resend.api_key is None:
            raise ValueError("backend: resend needs resend.api_key")
        return self
