"""POST /v1/chat/completions (also /chat/completions)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from gatewayz.accounts.auth import Principal, current_principal
from gatewayz.api.sse import EventStreamResponse
from gatewayz.protocols import openai_chat

router = APIRouter(tags=["chat"])


@router.post("/v1/chat/completions", response_model=None)
@router.post("/chat/completions", response_model=None, include_in_schema=False)
async def chat_completions(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> Response:
    """Create a chat completion (OpenAI format), streamed as SSE when `stream` is true."""
    raw = await request.body()
    body = openai_chat.parse_request(raw)
    relay = request.app.state.relay
    request_id = request.state.request_id
    if body.get("stream"):
        events = await relay.open_chat_stream(principal, body, len(raw), request_id)
        return EventStreamResponse(events)
    answer = await relay.chat(principal, body, len(raw), request_id)
    return Response(answer, media_type="application/json")
