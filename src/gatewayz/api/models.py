"""The public model catalog: models, search, trending, low-latency, providers, summary.

GET /v1/models keeps OpenAI's list format (`{"object": "list", "data": [...]}`, each model
with `id`, `object`, `created`, `owned_by`) and adds the catalog's fields. No API key needed.
"""

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from gatewayz.api import gemini, gemini_models
from gatewayz.api.catalog_views import entry_json, group_json, provider_json
from gatewayz.api.deps import CatalogDep, EngineDep, ServicesDep
from gatewayz.app_services import Services
from gatewayz.errors import NotFound, api_format
from gatewayz.providers import demo
from gatewayz.providers.catalog import Catalog
from gatewayz.providers.catalog_query import (
    ModelFilter,
    ProviderSummary,
    provider_summaries,
    search,
)
from gatewayz.providers.table import Provider, merged_specs
from gatewayz.telemetry import model_stats

router = APIRouter(tags=["models"])

Hours = Annotated[float, Query(gt=0, le=24 * 90, description="Window of the request log.")]
Limit = Annotated[int, Query(ge=1, le=500)]


def _json(payload: Any) -> Response:
    return Response(orjson.dumps(payload), media_type="application/json")


@router.get("/v1/models")
@router.get("/models", include_in_schema=False)
async def list_models(
    request: Request,
    catalog: CatalogDep,
    provider: str | None = None,
    modality: str | None = None,
    callable_: Annotated[bool | None, Query(alias="callable")] = None,
) -> Response:
    """Every model of every enabled provider; `callable: false` ones have no prices yet."""
    if api_format(request) == "gemini":  # Google's SDKs at their default `v1`
        return gemini_models.list_response(request, catalog)
    wanted = ModelFilter(provider=provider, modality=modality, callable=callable_)
    data = [entry_json(e) for e in catalog.entries() if wanted.matches(e)]
    return _json({"object": "list", "data": data})


@router.get("/v1/models/search")
async def search_models(
    catalog: CatalogDep,
    q: str | None = None,
    min_context: Annotated[int | None, Query(ge=1)] = None,
    max_price: Annotated[
        Decimal | None, Query(ge=0, description="Highest input, output or image price.")
    ] = None,
    modality: str | None = None,
    supports_tools: bool | None = None,
    provider: str | None = None,
    limit: Limit = 100,
) -> Response:
    """Models meeting every given condition (`max_price`: no price of the model above it)."""
    wanted = ModelFilter(
        provider=provider,
        modality=modality,
        query=q,
        min_context=min_context,
        max_price=max_price,
        supports_tools=supports_tools,
    )
    found = search(catalog.entries(), wanted)
    data = [entry_json(e) for e in found[:limit]]
    return _json({"object": "list", "data": data, "total": len(found)})


@router.get("/v1/models/trending")
async def trending_models(
    catalog: CatalogDep, engine: EngineDep, hours: Hours = 24, limit: Limit = 20
) -> Response:
    """Models by the number of requests this gateway sent them in the window."""
    since = datetime.now(UTC) - timedelta(hours=hours)
    groups: dict[str, dict[str, Any]] = {}
    for row in await model_stats.usage_since(engine, since):
        canonical, name = _identify(catalog, row.provider, row.model)
        group = groups.setdefault(
            canonical,
            {"id": canonical, "object": "model", "name": name, "requests": 0, "providers": []},
        )
        group["requests"] += row.requests
        group["providers"].append({"id": f"{row.provider}/{row.model}", "requests": row.requests})
    data = sorted(groups.values(), key=lambda g: (-g["requests"], g["id"]))[:limit]
    return _json({"object": "list", "window_hours": hours, "data": data})


@router.get("/v1/models/low-latency")
async def low_latency_models(
    catalog: CatalogDep,
    engine: EngineDep,
    hours: Hours = 24,
    min_samples: Annotated[int, Query(ge=1, le=10**9)] = 5,
    metric: Literal["latency", "ttft"] = "latency",
    limit: Limit = 20,
) -> Response:
    """Provider models by average latency or time to first token of successful requests."""
    since = datetime.now(UTC) - timedelta(hours=hours)
    rows = await model_stats.latency_since(engine, since)
    if metric == "ttft":
        ranked = sorted(
            (r for r in rows if r.ttft_samples >= min_samples and r.avg_ttft_ms is not None),
            key=lambda r: (r.avg_ttft_ms, r.provider, r.model),
        )
    else:
        ranked = sorted(
            (r for r in rows if r.requests >= min_samples),
            key=lambda r: (r.avg_latency_ms, r.provider, r.model),
        )
    data = []
    for row in ranked[:limit]:
        canonical, name = _identify(catalog, row.provider, row.model)
        data.append(
            {
                "id": f"{row.provider}/{row.model}",
                "object": "model",
                "provider": row.provider,
                "provider_model_id": row.model,
                "canonical_id": canonical,
                "name": name,
                "requests": row.requests,
                "avg_latency_ms": round(row.avg_latency_ms, 1),
                "avg_ttft_ms": None if row.avg_ttft_ms is None else round(row.avg_ttft_ms, 1),
            }
        )
    return _json(
        {
            "object": "list",
            "window_hours": hours,
            "metric": metric,
            "min_samples": min_samples,
            "data": data,
        }
    )


@router.get("/v1/models/{model_id:path}")
async def get_model(model_id: str, request: Request, catalog: CatalogDep) -> Response:
    """One model by `provider/model` id; a plain or canonical id gives every provider's."""
    if api_format(request) == "gemini":  # Google's SDKs at their default `v1`
        return await gemini.get_model(request, model_id)
    found = catalog.lookup(model_id)
    if not found:
        raise NotFound(f"The model '{model_id}' is not in the catalog.", param="model")
    if len(found) == 1 and found[0].public_id == model_id:
        return _json(entry_json(found[0]))
    return _json(group_json(model_id, found))


@router.get("/v1/providers")
async def list_providers(services: ServicesDep) -> Response:
    """Every provider of the table: enabled or not, its protocol, models, last sync, status."""
    return _json({"object": "list", "data": [provider_json(s) for s in _summaries(services)]})


@router.get("/v1/gateways/summary")
async def gateways_summary(services: ServicesDep) -> Response:
    """Totals over the providers and the catalog."""
    summaries = _summaries(services)
    entries = services.catalog.entries()
    synced = [s.last_sync_at for s in summaries if s.last_sync_at is not None]
    modalities = Counter(m for e in entries for m in {*e.model.inputs, *e.model.outputs})
    payload = {
        "object": "gateway.summary",
        "providers": {
            "total": len(summaries),
            "enabled": sum(s.enabled for s in summaries),
            **{status: 0 for status in ("ok", "error", "pending", "static", "disabled")},
            **Counter(s.status for s in summaries),
        },
        "models": {
            "listed": len(entries),
            "callable": sum(e.callable for e in entries),
            "canonical": len({e.canonical_id for e in entries}),
            "by_type": dict(Counter(e.model.type for e in entries)),
            "by_modality": dict(modalities),
        },
        "last_sync_at": max(synced).isoformat() if synced else None,
        "gateways": [
            {
                "name": s.name,
                "enabled": s.enabled,
                "status": s.status,
                "models": s.models,
                "callable": s.callable,
            }
            for s in summaries
        ],
    }
    return _json(payload)


def _summaries(services: Services) -> list[ProviderSummary]:
    """Every provider of the table as the catalog sees it, with when it syncs next."""
    settings, refresher = services.settings, services.catalog_refresher
    now = datetime.now(UTC)

    def next_sync(provider: Provider) -> datetime | None:
        at = refresher.next_refresh(provider) if settings.catalog_refresh else None
        return None if at is None else max(at, now)

    table = merged_specs(settings.providers) + ([demo.SPEC] if settings.demo_provider else [])
    return provider_summaries(table, services.catalog, next_sync)


def _identify(catalog: Catalog, provider: str, model: str) -> tuple[str, str | None]:
    """(canonical id, name) of a provider model from the log, as the catalog knows it."""
    found = catalog.lookup(f"{provider}/{model}")
    if found:
        return found[0].canonical_id, found[0].model.name
    return catalog.canonical(model), None
