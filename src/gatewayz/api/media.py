"""POST /v1/embeddings and POST /v1/images/generations (OpenAI format)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from gatewayz.accounts.auth import Principal, current_principal
from gatewayz.api.deps import current_request_id
from gatewayz.api.relaying import respond
from gatewayz.api.request_bodies import EMBEDDINGS, IMAGES, json_body
from gatewayz.protocols import openai_media
from gatewayz.relay.media import embeddings_exchange, images_exchange

router = APIRouter(tags=["media"])


@router.post("/v1/embeddings", response_model=None, openapi_extra=json_body(EMBEDDINGS))
@router.post("/embeddings", response_model=None, include_in_schema=False)
async def embeddings(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> Response:
    """Create embeddings; charged per input token."""
    raw = await request.body()
    body = openai_media.parse_embeddings_request(raw)
    return await respond(
        request, principal, embeddings_exchange(body, len(raw), current_request_id(request))
    )


@router.post("/v1/images/generations", response_model=None, openapi_extra=json_body(IMAGES))
@router.post("/images/generations", response_model=None, include_in_schema=False)
async def images(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> Response:
    """Generate images; charged per image returned."""
    raw = await request.body()
    body = openai_media.parse_image_request(raw)
    return await respond(
        request, principal, images_exchange(body, len(raw), current_request_id(request))
    )
