"""The model catalog with prices (GET /v1/models), for everyone signed in."""

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from gatewayz.ui.render import page
from gatewayz.ui.visit import Visit, visit

router = APIRouter()
Viewing = Annotated[Visit, Depends(visit)]


@router.get("/models")
async def models(view: Viewing, q: str = "", provider: str = "") -> Response:
    api = view.client()
    if q:
        listed = await api.get("/v1/models/search", q=q, provider=provider or None)
    else:
        listed = await api.get("/v1/models", provider=provider or None)
    rows = (listed.body or {}).get("data", []) if listed.ok else []
    return page(
        view,
        "models.html",
        title="Models",
        error=listed.error,
        models=rows,
        q=q,
        provider=provider,
    )
