"""Chat history (the API's chat sessions) and the playground, which streams a chat completion
from the gateway's own /v1/chat/completions as the signed-in user: held, charged and logged
like any other call, under the session's key, and kept in a chat session."""

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from gatewayz.ui.render import SECURITY_HEADERS, page, redirect
from gatewayz.ui.visit import Refused, Visit, posted, visit

router = APIRouter()
Viewing = Annotated[Visit, Depends(visit)]
Posting = Annotated[Visit, Depends(posted)]
NOTES = {"deleted": "The chat session is deleted."}
MAX_PROMPT = 100_000
CHARGE_WAIT_SECONDS = 2.0  # settlements are written every 50 ms; a free call writes none


@router.get("/history")
async def history(view: Viewing, before: int | None = None) -> Response:
    listed = await view.client().get("/v1/chat/sessions", limit=50, before=before)
    return page(
        view,
        "history.html",
        title="Chat history",
        error=listed.error,
        listing=listed.body if listed.ok else {"data": []},
        notes=NOTES,
    )


@router.get("/history/{session_id}")
async def conversation(view: Viewing, session_id: int) -> Response:
    found = await view.client().get(f"/v1/chat/sessions/{session_id}")
    if not found.ok:
        raise Refused(found.status, found.error)
    return page(view, "conversation.html", title=found.body["title"] or "Chat", chat=found.body)


@router.post("/history/{session_id}/delete")
async def delete(view: Posting, session_id: int) -> Response:
    deleted = await view.client().call("DELETE", f"/v1/chat/sessions/{session_id}")
    if not deleted.ok:
        raise Refused(deleted.status, deleted.error)
    return redirect(view, "/ui/history?note=deleted")


@router.get("/playground")
async def playground(view: Viewing) -> Response:
    """Every chat model the user may call, with its prices."""
    listed = await view.client().get("/v1/models", callable="true")
    models = [m for m in (listed.body or {}).get("data", []) if m.get("type", "chat") == "chat"]
    return page(view, "playground.html", title="Playground", models=models)


@router.post("/playground/chat")
async def playground_chat(view: Posting) -> Response:
    """One turn: {"model", "content", "session_id"?} in JSON; the answer is the API's own
    event stream, with the chat session's id and the call's request id in headers."""
    api = view.client()
    wanted = await _turn(view.request)
    session_id = wanted.get("session_id")
    if not isinstance(session_id, int):
        created = await api.post(
            "/v1/chat/sessions", {"title": wanted["content"][:80], "model": wanted["model"]}
        )
        if not created.ok:
            return JSONResponse(created.body, created.status)
        session_id = created.body["id"]
    body = {
        "model": wanted["model"],
        "messages": [{"role": "user", "content": wanted["content"]}],
        "session_id": session_id,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    opened = await api.open("POST", "/v1/chat/completions", body)
    headers = {
        "x-gatewayz-session": str(session_id),
        "x-gatewayz-request": opened.headers.get("x-request-id", ""),
        "x-gatewayz-provider": opened.headers.get("x-gatewayz-provider", ""),
        **SECURITY_HEADERS,
    }
    if opened.status != 200:
        content = b"".join([chunk async for chunk in opened.chunks])
        return Response(content, opened.status, headers, media_type="application/json")
    return StreamingResponse(opened.chunks, media_type="text/event-stream", headers=headers)


async def _turn(request: Request) -> dict[str, Any]:
    try:
        wanted = await request.json()
    except ValueError:
        raise Refused(400, "The playground sends JSON.") from None
    if not isinstance(wanted, dict):
        raise Refused(400, "The playground sends a JSON object.")
    model, content = wanted.get("model"), wanted.get("content")
    if not isinstance(model, str) or not model or not isinstance(content, str) or not content:
        raise Refused(400, "Choose a model and write a message.")
    if len(content) > MAX_PROMPT:
        raise Refused(400, f"A message has at most {MAX_PROMPT} characters.")
    return wanted


@router.get("/playground/charge")
async def charge(view: Viewing, request_id: str) -> Response:
    """What the call `request_id` was charged, from the user's ledger (GET
    /user/transactions); "0" when nothing was charged (a free model)."""
    api = view.client()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CHARGE_WAIT_SECONDS
    while True:
        rows = await api.get("/user/transactions", kind="usage", limit=100)
        for row in rows.body.get("data", []) if rows.ok else []:
            if row["request_id"] == request_id:
                cost = row["amount"].removeprefix("-")
                return JSONResponse({"request_id": request_id, "charged": cost})
        if loop.time() > deadline:
            return JSONResponse({"request_id": request_id, "charged": "0"})
        await asyncio.sleep(0.1)
