"""GET /v1/models: every model the gateway can serve now, in OpenAI's list format."""

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from gatewayz.providers.spec import ModelSpec

router = APIRouter(tags=["models"])


@router.get("/v1/models")
@router.get("/models", include_in_schema=False)
async def list_models(request: Request) -> Response:
    routes = request.app.state.catalog.routes()
    data = [
        {
            "id": route.public_id,
            "object": "model",
            "created": 0,
            "owned_by": route.provider.name,
            "name": route.model.name or route.model.id,
            "context_length": route.model.context_length,
            "pricing": _pricing(route.model),
        }
        for route in routes
    ]
    return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json")


def _pricing(model: ModelSpec) -> dict[str, str]:
    """The model's prices that are set, as decimal strings."""
    prices = {
        "input_per_mtok": model.input_price_per_mtok,
        "output_per_mtok": model.output_price_per_mtok,
        "per_image": model.image_price,
    }
    return {name: f"{value:f}" for name, value in prices.items() if value is not None}
