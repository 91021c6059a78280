"""POST /v1/completions (also /completions): legacy text completions, OpenAI format."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from gatewayz.accounts.auth import Principal, current_principal
from gatewayz.api.deps import current_request_id
from gatewayz.api.relaying import respond
from gatewayz.protocols import openai_completions
from gatewayz.relay.completions import completions_exchange

router = APIRouter(tags=["completions"])


@router.post("/v1/completions", response_model=None)
@router.post("/completions", response_model=None, include_in_schema=False)
async def completions(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> Response:
    """Create a text completion (OpenAI's legacy format), streamed as SSE when `stream` is
    true; served by OpenAI-format providers only (400 for the others)."""
    raw = await request.body()
    body = openai_completions.parse_request(raw)
    exchange = completions_exchange(body, len(raw), current_request_id(request))
    return await respond(request, principal, exchange)
