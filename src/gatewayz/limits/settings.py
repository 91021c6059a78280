"""Rate limit configuration: defaults per key and per user, named plans, client addresses."""

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

PUBLIC_PATHS = (
    "/v1/models",
    "/models",
    "/v1/providers",
    "/v1/gateways/summary",
    "/status",
)


class LimitValues(BaseModel):
    """The limits of one key, user or plan; an unset value means no limit of that kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rpm: int | None = Field(default=None, ge=1, description="Requests per minute.")
    rpd: int | None = Field(default=None, ge=1, description="Requests per day.")
    tpm: int | None = Field(default=None, ge=1, description="Tokens per minute.")
    concurrency: int | None = Field(default=None, ge=1, description="Calls at once.")

    def over(self, base: "LimitValues") -> "LimitValues":
        """These values, each unset one taken from `base`."""
        return LimitValues(
            rpm=self.rpm or base.rpm,
            rpd=self.rpd or base.rpd,
            tpm=self.tpm or base.tpm,
            concurrency=self.concurrency or base.concurrency,
        )


class AddressLimits(BaseModel):
    """Requests per client address to the endpoints that need no API key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rpm: int | None = Field(default=None, ge=1)
    rpd: int | None = Field(default=None, ge=1)
    paths: tuple[str, ...] = PUBLIC_PATHS


class LimitsSettings(BaseModel):
    """The `limits:` section of the config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: LimitValues = Field(default_factory=LimitValues)
    user: LimitValues = Field(default_factory=LimitValues)
    plans: dict[str, LimitValues] = Field(default_factory=dict)
    default_plan: str | None = None
    address: AddressLimits = Field(default_factory=AddressLimits)
    redis_timeout_seconds: float = Field(default=0.05, gt=0)
    redis_retry_seconds: float = Field(default=1.0, gt=0)
    redis_prefix: str = "gatewayz:rl"
    concurrency_lease_seconds: float = Field(default=900.0, gt=0)
    overrides_refresh_seconds: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _plan_exists(self) -> Self:
        if self.default_plan is not None and self.default_plan not in self.plans:
            raise ValueError(f"default_plan {self.default_plan!r} is not one of `plans`")
        return self

    def plan(self, name: str | None) -> LimitValues:
        """The limits of plan `name` (the default plan when None) over the user defaults."""
        chosen = self.plans.get(name or self.default_plan or "")
        return self.user if chosen is None else chosen.over(self.user)
