"""The Gemini API (Google's format, as google-genai and @google/genai speak it), for any model.

Served under `/v1beta` and `/v1` (the SDKs' `api_version`): `POST models/{model}:` +
`generateContent`, `streamGenerateContent` (SSE with `alt=sse`), `countTokens`,
`embedContent`, `batchEmbedContents`; `GET models` and `models/{model}`. The model is a
Gatewayz id: `groq/llama-3.1-8b-instant` arrives as `models/groq/llama-3.1-8b-instant` (its
`/` as it is, or encoded as `%2F`), or without `models/` from clients that take an id holding
a `/` for a whole resource name (the Vercel AI SDK's Google provider). The key comes in
`x-goog-api-key`, `?key=` or as a bearer token; errors are Google's
(`{"error": {"code", "message", "status"}}`).
"""

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from gatewayz.accounts.auth import Principal, current_principal
from gatewayz.api.deps import app_services, current_request_id
from gatewayz.api.gemini_models import MAX_PAGE, model_json, models_page
from gatewayz.api.relaying import respond
from gatewayz.errors import InvalidRequest, NotFound
from gatewayz.protocols.gemini import client
from gatewayz.relay.gemini import generate_exchange
from gatewayz.relay.gemini_tasks import count_tokens, embed_exchange

router = APIRouter(tags=["gemini"])
VERSIONS = ("/v1beta", "/v1")
Caller = Annotated[Principal, Depends(current_principal)]


def _json(payload: object) -> Response:
    return Response(orjson.dumps(payload), media_type="application/json")


async def generate_content(request: Request, model: str, principal: Caller) -> Response:
    """Generate content (Gemini format)."""
    raw = await request.body()
    body = client.parse_generate_request(raw)
    exchange = generate_exchange(
        client.model_id(model), body, len(raw), current_request_id(request), stream=False
    )
    return await respond(request, principal, exchange)


async def stream_generate_content(
    request: Request, model: str, principal: Caller, alt: str | None = None
) -> Response:
    """Generate content as a stream of GenerateContentResponses (`alt=sse`)."""
    if alt != "sse":
        raise InvalidRequest("streamGenerateContent is served as SSE: add ?alt=sse.", param="alt")
    raw = await request.body()
    body = client.parse_generate_request(raw)
    exchange = generate_exchange(
        client.model_id(model), body, len(raw), current_request_id(request), stream=True
    )
    return await respond(request, principal, exchange)


async def count_content_tokens(request: Request, model: str, principal: Caller) -> Response:
    """Count a request's input tokens: the upstream's count for Gemini models, else an
    estimate (see relay.gemini_tasks)."""
    raw = await request.body()
    body = client.parse_count_request(raw)
    relay, request_id = app_services(request).relay, current_request_id(request)
    counted = await count_tokens(relay, principal, client.model_id(model), body, request_id)
    return _json(counted)


async def embed_content(request: Request, model: str, principal: Caller) -> Response:
    """Embed one content; charged per input token."""
    raw = await request.body()
    body = client.parse_embed_request(raw, batch=False)
    exchange = embed_exchange(
        client.model_id(model), [body], len(raw), current_request_id(request), batch=False
    )
    return await respond(request, principal, exchange)


async def batch_embed_contents(request: Request, model: str, principal: Caller) -> Response:
    """Embed several contents in one call (the SDKs' `embed_content`); charged per token."""
    raw = await request.body()
    body = client.parse_embed_request(raw, batch=True)
    exchange = embed_exchange(
        client.model_id(model), body["requests"], len(raw), current_request_id(request), True
    )
    return await respond(request, principal, exchange)


async def list_models(
    request: Request,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=MAX_PAGE)] = 50,
    page_token: Annotated[str | None, Query(alias="pageToken")] = None,
) -> Response:
    """Every callable model, in Gemini's Model format (`name`: `models/<Gatewayz id>`)."""
    return _json(models_page(app_services(request).catalog, page_size, page_token))


async def get_model(request: Request, model: str) -> Response:
    """One model by its Gatewayz id, in Gemini's Model format."""
    model_id = client.model_id(model)
    found = [e for e in app_services(request).catalog.lookup(model_id) if e.callable]
    if not found:
        raise NotFound(f"models/{model_id} is not found, or no enabled provider serves it.")
    return _json(model_json(found[0], model_id))


_METHODS = {  # errors.GEMINI_METHODS
    "generateContent": generate_content,
    "streamGenerateContent": stream_generate_content,
    "countTokens": count_content_tokens,
    "embedContent": embed_content,
    "batchEmbedContents": batch_embed_contents,
}
for _version in VERSIONS:
    for _method, _endpoint in _METHODS.items():
        router.add_api_route(
            f"{_version}/{{model:path}}:{_method}",  # models/<id>, or <id> as it is
            _endpoint,
            methods=["POST"],
            response_model=None,
            include_in_schema=_version == "/v1beta",
        )
router.add_api_route("/v1beta/models", list_models, methods=["GET"], response_model=None)
router.add_api_route("/v1beta/models/{model:path}", get_model, methods=["GET"], response_model=None)
