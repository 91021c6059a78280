"""POST /v1/chat/completions (also /chat/completions)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from gatewayz.accounts.auth import Principal, current_principal
from gatewayz.accounts.key_checks import require_scope
from gatewayz.api.deps import app_services, current_request_id
from gatewayz.api.relaying import respond
from gatewayz.api.request_bodies import CHAT_COMPLETION, json_body
from gatewayz.history.turns import SESSION_FIELD
from gatewayz.protocols import openai_chat
from gatewayz.relay.chat import chat_exchange

router = APIRouter(tags=["chat"])


@router.post("/v1/chat/completions", response_model=None, openapi_extra=json_body(CHAT_COMPLETION))
@router.post("/chat/completions", response_model=None, include_in_schema=False)
async def chat_completions(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> Response:
    """Create a chat completion (OpenAI format), streamed as SSE when `stream` is true; with
    `session_id`, it continues that chat session (see gatewayz.history)."""
    raw = await request.body()
    body = openai_chat.parse_request(raw)
    if body.get(SESSION_FIELD) is not None:
        require_scope(request, principal.user_id, principal.key_id, principal.policy, "sessions")
    turn = await app_services(request).chat_history.begin(principal.user_id, body, len(raw))
    exchange = chat_exchange(body, len(raw), current_request_id(request), turn)
    return await respond(request, principal, exchange)
