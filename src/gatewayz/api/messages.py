"""POST /v1/messages: the Anthropic Messages API, for any model."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from gatewayz.accounts.auth import Principal, current_principal
from gatewayz.api.relaying import respond
from gatewayz.api.request_bodies import MESSAGE, json_body
from gatewayz.errors import InvalidRequest
from gatewayz.protocols import anthropic
from gatewayz.relay.messages import messages_exchange

router = APIRouter(tags=["anthropic"])


@router.post("/v1/messages", response_model=None, openapi_extra=json_body(MESSAGE))
async def create_message(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> Response:
    """Create a message (Anthropic format), streamed with Anthropic's events when asked."""
    raw = await request.body()
    body = anthropic.parse_messages_request(raw)
    if body.get("session_id") is not None:  # else an Anthropic upstream might just ignore it
        raise InvalidRequest(
            "session_id: chat sessions work only on /v1/chat/completions.", param="session_id"
        )
    exchange = messages_exchange(request.app.state.relay, body, len(raw))
    return await respond(request, principal, exchange)
