"""The schema of a provider row, shared by the built-in table and the operator's YAML file."""

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

ModelType = Literal["chat", "embeddings", "images"]
Quirk = Literal["no_stream_options", "max_completion_tokens", "responses_api"]


class ModelSpec(BaseModel):
    """A model a provider serves, with its prices in credits (USD): per million tokens,
    and per generated image for image models.

    Input tokens read from the provider's prompt cache cost `cache_read_price_per_mtok`, those
    written to it `cache_write_price_per_mtok` (Anthropic's five-minute writes) or, written for
    an hour, `cache_write_1h_price_per_mtok` (else the write price). Unset, each costs the
    input price (billing.money)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    type: ModelType = "chat"
    canonical_id: str | None = None
    name: str | None = None
    input_price_per_mtok: Decimal | None = Field(default=None, ge=0)
    output_price_per_mtok: Decimal | None = Field(default=None, ge=0)
    cache_read_price_per_mtok: Decimal | None = Field(default=None, ge=0)
    cache_write_price_per_mtok: Decimal | None = Field(default=None, ge=0)
    cache_write_1h_price_per_mtok: Decimal | None = Field(default=None, ge=0)
    image_price: Decimal | None = Field(default=None, ge=0)
    context_length: int | None = Field(default=None, gt=0)
    max_output_tokens: int | None = Field(default=None, gt=0)
    strict_fields: bool | None = None  # None: as its provider says

    @model_validator(mode="after")
    def _priced(self) -> "ModelSpec":
        if self.image_price is None and (
            self.input_price_per_mtok is None or self.output_price_per_mtok is None
        ):
            raise ValueError(
                "a model needs input_price_per_mtok and output_price_per_mtok "
                "(or image_price for an image model)"
            )
        return self


class ProviderSpec(BaseModel):
    """One upstream provider: where it lives, how it authenticates, what it serves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    display_name: str | None = None
    protocol: Literal["openai", "anthropic", "gemini", "fal", "demo"]
    base_url: str = Field(pattern=r"^https?://")
    api_key: SecretStr | None = None
    api_key_env: str | None = None
    auth: Literal["bearer", "header", "none", "google"] = "bearer"
    auth_header: str | None = None
    auth_prefix: str = ""
    credentials_file: str | None = None
    credentials_file_env: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    # Whether users may bring their own key for this provider (bring your own key). The
    # built-in public providers say yes; a row of the operator's says no unless it says yes.
    own_keys: bool = False
    models_path: str | None = "/models"
    catalog_ttl_seconds: float | None = Field(default=None, gt=0)
    quirks: frozenset[Quirk] = frozenset()
    passthrough_fields: frozenset[str] = frozenset()
    """What this provider may receive in a passed-through request beyond what the gateway
    bills: top-level fields (`store`, `previous_response_id`, `service_tier`, ...), tool types
    (`tools.web_search`), `include` values (`include.<value>`) and references to what is
    stored at the upstream (`input.item_reference`, `input.file_id`, `messages.file_id`)."""
    strict_fields: bool = False
    """Refuse (400) what a translation into this provider's format would drop (see
    protocols.fields); a model's own `strict_fields` wins."""
    docs: str | None = None
    models: tuple[ModelSpec, ...] = ()
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    first_byte_timeout_seconds: float = Field(default=60.0, gt=0)
    idle_timeout_seconds: float = Field(default=60.0, gt=0)
    timeout_seconds: float = Field(default=600.0, gt=0)

    @model_validator(mode="after")
    def _auth_header_matches_auth(self) -> "ProviderSpec":
        if self.auth == "header" and not self.auth_header:
            raise ValueError("auth: header needs auth_header (the header that carries the key)")
        if self.auth != "header" and self.auth_header:
            raise ValueError("auth_header is only used with auth: header")
        if self.auth == "google" and self.protocol != "gemini":
            raise ValueError("auth: google is only supported with protocol: gemini")
        if self.auth != "google" and (self.credentials_file or self.credentials_file_env):
            raise ValueError("credentials_file(_env) is only used with auth: google")
        if self.own_keys and self.auth not in ("bearer", "header"):
            raise ValueError(
                f"own_keys: true needs a key sent in a header (auth: bearer or header), "
                f"not auth: {self.auth}"
            )
        return self

    @model_validator(mode="after")
    def _passthrough_fields_can_be_billed(self) -> "ProviderSpec":
        if any(not name.strip() for name in self.passthrough_fields):
            raise ValueError("passthrough_fields holds an empty name")
        if "background" in self.passthrough_fields:
            raise ValueError(
                "passthrough_fields cannot allow background: a background response is never "
                "seen finishing, so it cannot be billed"
            )
        return self

    @model_validator(mode="after")
    def _unique_model_ids(self) -> "ProviderSpec":
        seen: set[str] = set()
        for model in self.models:
            if model.id in seen:
                raise ValueError(f"model {model.id!r} is declared twice")
            seen.add(model.id)
        return self
