"""Embeddings and image generation through the relay (unstreamed, OpenAI format)."""

from typing import Any

from gatewayz.billing.money import call_cost_units
from gatewayz.billing.worst_case import Demand
from gatewayz.protocols import openai_media
from gatewayz.protocols.usage import Usage, estimate
from gatewayz.relay.exchange import Answer, Exchange, Target
from gatewayz.relay.plan import call_plan
from gatewayz.routing.options import without_routing_fields


def embeddings_exchange(body: dict[str, Any], body_size: int, request_id: str) -> Exchange:
    """Charged per input token at the model's input price."""

    async def call(target: Target) -> Answer:
        route = target.route
        adapter = target.needs(target.adapter.embeddings, "embeddings")
        upstream = {**without_routing_fields(body), "model": route.model.id}
        reply = await adapter.embeddings(route.provider, upstream)
        usage = openai_media.embeddings_usage(reply.data) or estimate(body_size, 0)
        return Answer(reply.body, usage)

    return Exchange(
        call_plan("embeddings", body, Demand(body_size), request_id, kind="embeddings"),
        call=call,
        worst_case=lambda route: call_cost_units(route.model, body_size, 0),
    )


def images_exchange(body: dict[str, Any], body_size: int, request_id: str) -> Exchange:
    """Charged per image returned at the model's image price."""
    requested = openai_media.images_requested(body)

    async def call(target: Target) -> Answer:
        route = target.route
        adapter = target.needs(target.adapter.images, "images")
        upstream = {**without_routing_fields(body), "model": route.model.id}
        reply = await adapter.images(route.provider, upstream)
        return Answer(reply.body, Usage(0, 0, images=len(reply.data["data"])))

    return Exchange(
        call_plan("images.generations", body, Demand(body_size), request_id, kind="images"),
        call=call,
        worst_case=lambda route: call_cost_units(route.model, 0, 0, requested),
    )
