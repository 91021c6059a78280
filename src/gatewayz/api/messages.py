"""POST /v1/messages and /v1/messages/count_tokens: the Anthropic Messages API, for any model
(`?beta=true`, as Anthropic's SDKs add for beta features, changes nothing)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from gatewayz.accounts.auth import Principal, current_principal
from gatewayz.api.deps import current_request_id
from gatewayz.api.relaying import respond
from gatewayz.api.request_bodies import MESSAGE, json_body
from gatewayz.errors import InvalidRequest
from gatewayz.protocols import anthropic
from gatewayz.protocols.anthropic.betas import HEADER as BETA_HEADER
from gatewayz.relay.messages import count_tokens_exchange, messages_exchange

router = APIRouter(tags=["anthropic"])


def _betas(request: Request) -> str | None:
    """The `anthropic-beta` values the client sent (in one header or several)."""
    values = request.headers.getlist(BETA_HEADER)
    return ",".join(values) if values else None


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
    exchange = messages_exchange(body, len(raw), current_request_id(request), _betas(request))
    return await respond(request, principal, exchange)


@router.post("/v1/messages/count_tokens", response_model=None)
async def count_message_tokens(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> Response:
    """Count a Messages request's input tokens: Anthropic's count for its models, an estimate
    for the others (see docs/clients/claude-code.md). Free."""
    raw = await request.body()
    body = anthropic.parse_count_tokens_request(raw)
    exchange = count_tokens_exchange(body, len(raw), current_request_id(request), _betas(request))
    return await respond(request, principal, exchange)
