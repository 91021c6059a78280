"""The hot path: model-call endpoints called past the router, errors rendered as the app's
handlers render them, and only endpoints taking the request and the caller accepted."""

from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gatewayz.accounts.auth import PRINCIPAL_SCOPE_KEY, Principal, current_principal
from gatewayz.api.authenticate_first import AuthenticateFirstMiddleware
from gatewayz.api.hot_path import HotPath, HotRoutes
from gatewayz.app import create_app
from gatewayz.errors import InvalidRequest, install_handlers
from tests.conftest import gateway_settings
from tests.fakes.openai_upstream import FakeOpenAIUpstream

MODEL_CALLS = (
    "/v1/chat/completions",
    "/chat/completions",
    "/v1/completions",
    "/v1/messages",
    "/v1/messages/count_tokens",
    "/v1/responses",
    "/v1/embeddings",
    "/v1/images/generations",
)
CALLER = Principal(user_id=7, key_id=3, email="dev@example.com", role="user")


def _app() -> FastAPI:
    app = FastAPI()
    install_handlers(app)

    @app.post("/v1/chat/completions")
    async def chat(request: Request, principal: Annotated[Principal, Depends(current_principal)]):
        """Says whether the router ran (it puts the endpoint in the scope) and who called."""
        body = await request.json()
        if body.get("fail") == "invalid":
            raise InvalidRequest("'messages' is required.", param="messages")
        if body.get("fail") == "crash":
            raise RuntimeError("a bug")
        return JSONResponse(
            {"router": "endpoint" in request.scope, "user": principal.user_id, "body": body}
        )

    app.add_middleware(HotPath, routes=HotRoutes(app.routes))
    app.add_middleware(_Authenticated)
    return app


class _Authenticated:
    """Stands in front as the authenticate-first middleware does: the route and the caller
    in the scope (or neither, for a request without a key)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/chat/completions":
            scope["route"] = next(r for r in scope["app"].routes if r.path == scope["path"])
            if scope["method"] == "POST":
                scope[PRINCIPAL_SCOPE_KEY] = CALLER
        await self.app(scope, receive, send)


async def _post(body: dict[str, Any]) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        return await client.post("/v1/chat/completions", json=body)


async def test_a_hot_route_is_served_past_the_router_with_the_caller_found_before() -> None:
    answer = await _post({"model": "m"})
    assert answer.status_code == 200
    assert answer.json() == {"router": False, "user": 7, "body": {"model": "m"}}


async def test_its_errors_are_rendered_as_the_apps_handlers_render_them() -> None:
    invalid = await _post({"fail": "invalid"})
    assert invalid.status_code == 400
    assert invalid.json()["error"]["param"] == "messages"

    crashed = await _post({"fail": "crash"})
    assert crashed.status_code == 500
    assert crashed.json()["error"]["message"] == "The gateway failed to handle this request."
    assert "a bug" not in crashed.text


def test_a_route_that_needs_more_than_the_request_and_the_caller_is_refused() -> None:
    app = FastAPI()

    @app.post("/v1/embeddings")
    async def embeddings(
        request: Request, principal: Annotated[Principal, Depends(current_principal)], dims: int
    ) -> Response:
        return Response()

    with pytest.raises(ValueError, match="/v1/embeddings takes more than"):
        HotRoutes(app.routes)


def test_the_gateways_model_calls_take_the_hot_path(
    tmp_path: Any, upstream: FakeOpenAIUpstream
) -> None:
    app = create_app(gateway_settings(f"sqlite+aiosqlite:///{tmp_path}/g.db", upstream))
    layers: dict[type, Any] = {}
    layer: Any = app.build_middleware_stack()
    while layer is not None:  # each middleware wraps the next as `app`
        layers[type(layer)] = layer
        layer = getattr(layer, "app", None)
    keyed, hot = layers[AuthenticateFirstMiddleware], layers[HotPath]

    for path in MODEL_CALLS:
        scope: dict[str, Any] = {"type": "http", "method": "POST", "path": path}
        scope["route"] = keyed.routes.needing_key(scope)
        assert hot.routes.endpoint(scope) is not None, path
    models: dict[str, Any] = {"type": "http", "method": "GET", "path": "/v1/models"}
    assert hot.routes.endpoint({**models, "route": keyed.routes.needing_key(models)}) is None
