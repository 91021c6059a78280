"""One model as a provider lists it, normalised to the gateway's schema.

Prices are Decimal credits (USD) per million tokens, and per generated image for image
models; a price the provider does not publish is None. Capabilities the provider does not
publish are None too (unknown), never guessed.
"""

from dataclasses import dataclass, fields, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from gatewayz.providers.spec import ModelSpec, ModelType

_TYPES: tuple[ModelType, ...] = ("chat", "embeddings", "images")
_PRICES = (
    "input_price_per_mtok",
    "output_price_per_mtok",
    "cache_read_price_per_mtok",
    "cache_write_price_per_mtok",
    "cache_write_1h_price_per_mtok",
    "image_price",
)
# The prices a route carries besides input, output and image (see ModelSpec).
_CACHE_PRICES = _PRICES[2:5]


@dataclass(frozen=True, slots=True)
class ListedModel:
    """A model in a provider's list: its id there, what it costs, what it can do."""

    id: str
    type: ModelType = "chat"
    canonical_id: str | None = None
    name: str | None = None
    context_length: int | None = None
    max_output_tokens: int | None = None
    input_price_per_mtok: Decimal | None = None
    output_price_per_mtok: Decimal | None = None
    cache_read_price_per_mtok: Decimal | None = None
    cache_write_price_per_mtok: Decimal | None = None
    cache_write_1h_price_per_mtok: Decimal | None = None
    image_price: Decimal | None = None
    input_modalities: tuple[str, ...] | None = None
    output_modalities: tuple[str, ...] | None = None
    supports_tools: bool | None = None
    supports_vision: bool | None = None
    supports_streaming: bool | None = None
    created: int | None = None

    @property
    def priced(self) -> bool:
        """Whether billing can charge for it: token prices, or a per-image price for images."""
        if self.type == "images":
            return self.image_price is not None
        if self.type == "embeddings":
            return self.input_price_per_mtok is not None
        return self.input_price_per_mtok is not None and self.output_price_per_mtok is not None

    @property
    def has_any_price(self) -> bool:
        return any(getattr(self, name) is not None for name in _PRICES)

    def to_spec(self, canonical_id: str | None = None) -> ModelSpec:
        """The ModelSpec a route carries; only for priced models."""
        return ModelSpec(
            id=self.id,
            type=self.type,
            canonical_id=canonical_id or self.canonical_id,
            name=self.name,
            input_price_per_mtok=self.input_price_per_mtok,
            output_price_per_mtok=_output_price(self),
            image_price=self.image_price,
            context_length=self.context_length,
            max_output_tokens=self.max_output_tokens,
            **{name: getattr(self, name) for name in _CACHE_PRICES},
        )

    @property
    def inputs(self) -> tuple[str, ...]:
        """Input modalities, text when the provider does not say."""
        return self.input_modalities or ("text",)

    @property
    def outputs(self) -> tuple[str, ...]:
        """Output modalities, from the model type when the provider does not say."""
        default = {"embeddings": ("embeddings",), "images": ("image",)}.get(self.type, ("text",))
        return self.output_modalities or default

    @property
    def streaming(self) -> bool:
        """Whether the gateway can stream it: every chat model, unless the provider says not."""
        if self.supports_streaming is not None:
            return self.supports_streaming
        return self.type == "chat"

    def filled_from(self, other: "ListedModel | None") -> "ListedModel":
        """Unknown fields taken from `other` (same model, other source); prices only as a set."""
        if other is None:
            return self
        updates: dict[str, Any] = {}
        for field in fields(self):
            if field.name in _PRICES:
                continue
            if getattr(self, field.name) is None and getattr(other, field.name) is not None:
                updates[field.name] = getattr(other, field.name)
        if not self.has_any_price and other.has_any_price:
            updates.update({name: getattr(other, name) for name in _PRICES})
        return replace(self, **updates) if updates else self

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (prices as decimal strings) for snapshots."""
        data: dict[str, Any] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if value is None or value == field.default:
                continue
            if isinstance(value, Decimal):
                value = f"{value:f}"
            elif isinstance(value, tuple):
                value = list(value)
            data[field.name] = value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ListedModel":
        """Inverse of to_json; also reads the bundled YAML rows. Raises ValueError on bad data."""
        known = {field.name for field in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model fields: {', '.join(sorted(unknown))}")
        if not isinstance(data.get("id"), str) or not data["id"]:
            raise ValueError("a model needs a non-empty string id")
        if data.get("type", "chat") not in _TYPES:
            raise ValueError(f"model {data['id']!r}: unknown type {data.get('type')!r}")
        values = dict(data)
        for name in _PRICES:
            if values.get(name) is not None:
                values[name] = price(values[name])
        for name in ("input_modalities", "output_modalities"):
            if name in values:
                values[name] = tuple(str(item) for item in values[name])
        return cls(**values)

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> "ListedModel":
        """An operator-declared model, as a listing entry."""
        return cls(
            id=spec.id,
            type=spec.type,
            canonical_id=spec.canonical_id,
            name=spec.name,
            context_length=spec.context_length,
            max_output_tokens=spec.max_output_tokens,
            input_price_per_mtok=spec.input_price_per_mtok,
            output_price_per_mtok=spec.output_price_per_mtok,
            image_price=spec.image_price,
            supports_streaming=spec.type == "chat",
            **{name: getattr(spec, name) for name in _CACHE_PRICES},
        )


def _output_price(model: ListedModel) -> Decimal | None:
    """Embeddings have no output tokens: a missing output price is zero there."""
    if model.output_price_per_mtok is None and model.type == "embeddings":
        return Decimal(0) if model.input_price_per_mtok is not None else None
    return model.output_price_per_mtok


def price(value: Any) -> Decimal:
    """A non-negative finite Decimal from a YAML/JSON number or string, exactly as written."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a price")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a price") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"{value!r} is not a price")
    return number
