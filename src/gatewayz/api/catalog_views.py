"""JSON renderings of catalog entries and provider summaries for the catalog endpoints."""

from typing import Any

from gatewayz.providers.catalog import CatalogEntry
from gatewayz.providers.catalog_query import ProviderSummary
from gatewayz.store.times import iso


def pricing(entry: CatalogEntry) -> dict[str, str] | None:
    """The prices that are set, as decimal strings; None when the model has none."""
    model = entry.route.model if entry.route is not None else entry.model
    prices = {
        "input_per_mtok": model.input_price_per_mtok,
        "output_per_mtok": model.output_price_per_mtok,
        "cache_read_per_mtok": model.cache_read_price_per_mtok,
        "cache_write_per_mtok": model.cache_write_price_per_mtok,
        "cache_write_1h_per_mtok": model.cache_write_1h_price_per_mtok,
        "per_image": model.image_price,
    }
    found = {name: f"{value:f}" for name, value in prices.items() if value is not None}
    return found or None


def entry_json(entry: CatalogEntry) -> dict[str, Any]:
    """One model in OpenAI's model-object shape plus the catalog's fields."""
    model = entry.model
    vision = model.supports_vision
    if vision is None and model.input_modalities is not None:
        vision = "image" in model.input_modalities
    return {
        "id": entry.public_id,
        "object": "model",
        "created": model.created or 0,
        "owned_by": entry.provider.name,
        "name": model.name or model.id,
        "canonical_id": entry.canonical_id,
        "provider": entry.provider.name,
        "provider_model_id": model.id,
        "type": model.type,
        "context_length": model.context_length,
        "max_output_tokens": model.max_output_tokens,
        "pricing": pricing(entry),
        "input_modalities": list(model.inputs),
        "output_modalities": list(model.outputs),
        "supports_tools": model.supports_tools,
        "supports_vision": vision,
        "supports_streaming": model.streaming,
        "callable": entry.callable,
    }


def group_json(model_id: str, entries: tuple[CatalogEntry, ...]) -> dict[str, Any]:
    """A plain or canonical id: the model as every provider serving it lists it."""
    contexts = [e.model.context_length for e in entries if e.model.context_length]
    return {
        "id": model_id,
        "object": "model",
        "created": 0,
        "owned_by": "gatewayz",
        "name": next((e.model.name for e in entries if e.model.name), model_id),
        "canonical_id": entries[0].canonical_id,
        "context_length": max(contexts) if contexts else None,
        "callable": any(e.callable for e in entries),
        "providers": [entry_json(e) for e in entries],
    }


def provider_json(summary: ProviderSummary) -> dict[str, Any]:
    """One provider row: enabled state, protocol, model counts, last sync and status."""
    return {
        "id": summary.name,
        "object": "provider",
        "name": summary.display_name,
        "protocol": summary.protocol,
        "enabled": summary.enabled,
        "status": summary.status,
        "source": summary.source,
        "models": summary.models,
        "callable_models": summary.callable,
        "last_sync_at": iso(summary.last_sync_at),
        "next_sync_at": iso(summary.next_sync_at),
        "error": summary.error,
    }
