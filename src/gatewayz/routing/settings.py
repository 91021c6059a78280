"""Routing configuration: strategies, model candidate lists, retries, breakers, probes."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Strategy = Literal["priority", "weighted", "lowest_latency", "lowest_price"]


class ModelRouting(BaseModel):
    """How one model id is routed: its candidates (`provider/model`) and strategy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    candidates: tuple[str, ...] = ()
    strategy: Strategy | None = None
    weights: dict[str, float] = Field(default_factory=dict)


class RoutingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Strategy = "priority"
    weights: dict[str, float] = Field(default_factory=dict)
    models: dict[str, ModelRouting] = Field(default_factory=dict)
    max_attempts: int = Field(default=3, ge=1)
    max_retry_seconds: float = Field(default=30.0, gt=0)
    backoff_base_seconds: float = Field(default=0.2, ge=0)
    backoff_max_seconds: float = Field(default=5.0, ge=0)
    max_retry_after_seconds: float = Field(default=10.0, ge=0)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_cooldown_seconds: float = Field(default=30.0, gt=0)
    probe_interval_seconds: float | None = Field(default=None, gt=0)
