"""The model catalog in Gemini's Model format, for `GET models` of the Gemini API (also
`GET /v1/models` when Google's SDKs ask: see errors.api_format)."""

from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from gatewayz.errors import InvalidRequest
from gatewayz.providers.catalog import Catalog, CatalogEntry

_CHAT = ["generateContent", "streamGenerateContent", "countTokens"]
_EMBEDDINGS = ["embedContent", "batchEmbedContents"]
MAX_PAGE = 1000


def model_json(entry: CatalogEntry, name: str) -> dict[str, Any]:
    """One model as Gemini's Model resource, named by the id it is called with."""
    model = entry.model
    return {
        "name": f"models/{name}",
        "baseModelId": name,
        "version": entry.provider.name,
        "displayName": model.name or model.id,
        "description": f"{entry.public_id}, served by Gatewayz.",
        "inputTokenLimit": model.context_length or 0,
        "outputTokenLimit": model.max_output_tokens or 0,
        "supportedGenerationMethods": _EMBEDDINGS if model.type == "embeddings" else _CHAT,
    }


def models_page(catalog: Catalog, size: int, token: str | None) -> dict[str, Any]:
    """A page of the callable chat and embedding models; `nextPageToken` while more follow."""
    if token is not None and not token.isdigit():
        raise InvalidRequest("'pageToken' is not one this gateway gave.", param="pageToken")
    start = int(token or 0)
    entries = [
        e for e in catalog.entries() if e.callable and e.model.type in ("chat", "embeddings")
    ]
    page: dict[str, Any] = {
        "models": [model_json(e, e.public_id) for e in entries[start : start + size]]
    }
    if start + size < len(entries):
        page["nextPageToken"] = str(start + size)
    return page


def list_response(request: Request, catalog: Catalog) -> Response:
    """`GET /v1/models` answered in Gemini's format (its `pageSize` and `pageToken`)."""
    raw_size = request.query_params.get("pageSize", "50")
    if not raw_size.isdigit() or not 1 <= int(raw_size) <= MAX_PAGE:
        raise InvalidRequest(f"'pageSize' must be from 1 to {MAX_PAGE}.", param="pageSize")
    page = models_page(catalog, int(raw_size), request.query_params.get("pageToken"))

    return Response(orjson.dumps(page), media_type="application/json")
