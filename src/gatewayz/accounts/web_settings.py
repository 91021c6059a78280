"""The `accounts:` section of the config file: sign-up and sign-in on the web dashboard."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AccountsSettings(BaseModel):
    """Who may create an account from the dashboard, and how its sign-in is guarded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    signup: Literal["open", "invite", "closed"] = Field(
        default="closed",
        description="open: anyone may sign up; invite: only with an operator's invitation; "
        "closed: operators create accounts (API, command line).",
    )
    public_url: str | None = Field(
        default=None,
        description="The gateway's address as users reach it (https://gw.example.com), used "
        "in mailed links; without it, the address the request came to.",
    )
    session_hours: float = Field(default=168.0, gt=0, le=24 * 90)
    min_password_length: int = Field(default=10, ge=8, le=128)
    signin_window_minutes: float = Field(default=15.0, gt=0)
    signin_failures_per_email: int = Field(default=5, ge=1)
    signin_failures_per_address: int = Field(default=20, ge=1)
    reset_minutes: float = Field(default=60.0, gt=0)
    invite_days: float = Field(default=7.0, gt=0)
    secure_cookies: bool | None = Field(
        default=None,
        description="Mark cookies Secure; by default, when the request came over https.",
    )
