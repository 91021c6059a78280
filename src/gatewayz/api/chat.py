"""POST /v1/chat/completions (also /chat/completions)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from gatewayz.accounts.auth import Principal, current_principal
from gatewayz.api.disconnect import cancel_on_disconnect
from gatewayz.api.sse import EventStreamResponse
from gatewayz.protocols import openai_chat

router = APIRouter(tags=["chat"])


def _served_by(provider: str, attempts: int) -> dict[str, str]:
    return {"x-gatewayz-provider": provider, "x-gatewayz-attempts": str(attempts)}


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
        opened = await cancel_on_disconnect(
            request, relay.open_chat_stream(principal, body, len(raw), request_id)
        )
        return EventStreamResponse(opened.events, _served_by(opened.provider, opened.attempts))
    answer = await cancel_on_disconnect(request, relay.chat(principal, body, len(raw), request_id))
    return Response(
        answer.body,
        media_type="application/json",
        headers=_served_by(answer.provider, answer.attempts),
    )
