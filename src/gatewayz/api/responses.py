"""POST /v1/responses: the OpenAI Responses API, for any model."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from gatewayz.accounts.auth import Principal, current_principal
from gatewayz.api.deps import current_request_id
from gatewayz.api.relaying import respond
from gatewayz.api.request_bodies import RESPONSE, json_body
from gatewayz.protocols import responses
from gatewayz.relay.responses import responses_exchange

router = APIRouter(tags=["responses"])


@router.post("/v1/responses", response_model=None, openapi_extra=json_body(RESPONSE))
@router.post("/responses", response_model=None, include_in_schema=False)
async def create_response(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> Response:
    """Create a model response (OpenAI Responses format), streamed as events when asked."""
    raw = await request.body()
    body = responses.parse_request(raw)
    exchange = responses_exchange(body, len(raw), current_request_id(request))
    return await respond(request, principal, exchange)
