"""The Gemini API's other model calls: countTokens (free: the upstream's count for Gemini
models, an estimate for the rest) and embedContent/batchEmbedContents (onto the embeddings of
any provider that serves them, charged per input token)."""

from typing import Any

import orjson

from gatewayz.accounts.auth import Principal
from gatewayz.billing.money import call_cost_units
from gatewayz.billing.worst_case import Demand
from gatewayz.errors import InvalidRequest
from gatewayz.protocols import openai_media
from gatewayz.protocols.gemini import client
from gatewayz.protocols.usage import estimate
from gatewayz.relay.core import Relay
from gatewayz.relay.exchange import Answer, Exchange, Target
from gatewayz.relay.plan import call_plan
from gatewayz.relay.translated import translation_notes

# Fields of an embed request the OpenAI embeddings API has no equivalent for.
_EMBED_HINTS = ("taskType", "title", "autoTruncate")


async def count_tokens(
    relay: Relay, principal: Principal, model: str, body: dict[str, Any], request_id: str
) -> dict[str, Any]:
    """`{"totalTokens": n}` for the request on the model's first route."""
    plan = call_plan("gemini.count_tokens", {"model": model}, Demand(0), request_id)
    target = await relay.first_target(principal, plan)
    route = target.route
    if route.provider.spec.protocol != "gemini":
        return {"totalTokens": client.estimate_tokens(body)}
    inner = body.get("generateContentRequest")
    native: dict[str, Any] = (
        {"contents": body["contents"]}
        if inner is None
        else {"generateContentRequest": {**inner, "model": f"models/{route.model.id}"}}
    )
    gemini = target.needs(target.adapter.gemini, "countTokens")
    reply = await gemini.count_tokens(route.provider, route.model.id, native)
    counted: dict[str, Any] = reply.data
    return counted


def embed_exchange(
    model: str, requests: list[dict[str, Any]], body_size: int, request_id: str, batch: bool
) -> Exchange:
    """Embed each request's text; answered as `embeddings` (batch) or one `embedding`."""
    texts = [client.embed_text(request, "") for request in requests]
    dimensions = {r.get("outputDimensionality") for r in requests} - {None}
    if len(dimensions) > 1:
        raise InvalidRequest(
            "Every request of a batch must ask for the same outputDimensionality.",
            param="requests",
        )

    async def call(target: Target) -> Answer:
        route = target.route
        dropped = translation_notes(exchange, route)
        for i, request in enumerate(requests):
            for hint in _EMBED_HINTS:
                if request.get(hint) is not None:
                    path = f"requests.{i}.{hint}" if batch else hint
                    dropped.drop(path, "OpenAI-format embeddings have no equivalent")
        adapter = target.needs(target.adapter.embeddings, "embeddings")
        upstream: dict[str, Any] = {"model": route.model.id, "input": texts}
        if dimensions:
            upstream["dimensions"] = dimensions.pop()
        reply = await adapter.embeddings(route.provider, upstream)
        vectors = sorted(reply.data.get("data") or (), key=lambda d: d.get("index", 0))
        values = [{"values": vector.get("embedding")} for vector in vectors]
        answer = {"embeddings": values} if batch else {"embedding": values[0]}
        usage = openai_media.embeddings_usage(reply.data) or estimate(body_size, 0)
        return Answer(orjson.dumps(answer), usage)

    demand = Demand(body_size)
    plan = call_plan(
        "gemini.embed_content", {"model": model}, demand, request_id, kind="embeddings"
    )
    exchange = Exchange(
        plan,
        call=call,
        worst_case=lambda route: call_cost_units(route.model, body_size, 0),
    )
    return exchange
