"""API keys: list, create with restrictions, rotate, revoke (through /user/api-keys). A new
key's secret is on the one page that answers its creation, and nowhere after."""

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.responses import Response

from gatewayz.accounts.key_policy import SCOPES
from gatewayz.accounts.web_sessions import SESSION_KEY_NAME
from gatewayz.ui.render import page, redirect
from gatewayz.ui.visit import Visit, posted, visit

router = APIRouter()
Viewing = Annotated[Visit, Depends(visit)]
Posting = Annotated[Visit, Depends(posted)]
NOTES = {"revoked": "The key is revoked: it is refused from now on."}
_LIMITS = ("rpm", "rpd", "tpm", "concurrency")


@router.get("/keys")
async def keys(view: Viewing) -> Response:
    return await _keys_page(view)


async def _keys_page(view: Visit, status: int = 200, error: str = "") -> Response:
    session, api = view.current()
    listed = await api.get("/user/api-keys")
    rows = listed.body["data"] if listed.ok else []
    return page(
        view,
        "keys.html",
        status,
        title="API keys",
        error=error or listed.error,
        keys=[
            row for row in rows if row["name"] != SESSION_KEY_NAME or row["id"] == session.key_id
        ],
        session_key=session.key_id,
        scopes=SCOPES,
        notes=NOTES,
    )


@router.post("/keys")
async def create(view: Posting) -> Response:
    """POST /user/api-keys with the restrictions filled in; an error names the field."""
    body = new_key_body(view)
    created = await view.client().post("/user/api-keys", body)
    if not created.ok:
        return await _keys_page(view, created.status, created.error)
    return page(view, "key_secret.html", 201, title="Your new API key", key=created.body)


def new_key_body(view: Visit) -> dict[str, Any]:
    """The API's create-key body from the form: fields left empty are left out."""
    body: dict[str, Any] = {"name": view.field("name") or "default"}
    body["environment"] = "test" if view.field("environment") == "test" else "live"
    scopes = view.fields("scopes")
    if scopes:
        body["scopes"] = scopes
    for name in ("ip_allowlist", "referrers"):
        entries = [e for e in re.split(r"[\s,]+", view.field(name)) if e]
        if entries:
            body[name] = entries
    if view.field("expires_in_days"):
        body["expires_in_days"] = _number(view.field("expires_in_days"))
    if view.field("spend_limit"):
        body["spend_limit"] = view.field("spend_limit")
    limits = {name: _number(view.field(name)) for name in _LIMITS if view.field(name)}
    if limits:
        body["rate_limits"] = limits
    return body


def _number(text: str) -> int | str:
    """An integer, or the text as typed (the API then names the field that is wrong)."""
    return int(text) if text.isdigit() else text


@router.post("/keys/{key_id}/rotate")
async def rotate(view: Posting, key_id: int) -> Response:
    """A new secret for the key; the old one works for the grace period asked for."""
    grace = view.field("grace_seconds")
    body = {"grace_seconds": _number(grace)} if grace else None
    rotated = await view.client().post(f"/user/api-keys/{key_id}/rotate", body)
    if not rotated.ok:
        return await _keys_page(view, rotated.status, rotated.error)
    return page(view, "key_secret.html", 201, title="Your rotated API key", key=rotated.body)


@router.post("/keys/{key_id}/revoke")
async def revoke(view: Posting, key_id: int) -> Response:
    revoked = await view.client().call("DELETE", f"/user/api-keys/{key_id}")
    if not revoked.ok:
        return await _keys_page(view, revoked.status, revoked.error)
    return redirect(view, "/ui/keys?note=revoked")
