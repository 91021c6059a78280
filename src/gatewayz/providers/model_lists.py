"""Fetch a provider's model list and normalise it to ListedModel, one reader per list format.

Formats read (the provider's protocol picks the reader):

- OpenAI `{"data": [{"id", ...}]}` and Together's bare `[{...}]`, with the extras some
  providers add: OpenRouter's `pricing.prompt`/`completion` and prompt-cache prices
  `pricing.input_cache_read`/`input_cache_write` (USD per token, strings),
  `context_length`, `architecture.*_modalities`, `supported_parameters`; Together's `type`
  and `pricing.input`/`output` (USD per million tokens, numbers); DeepInfra's `metadata`;
  Groq's `context_window`; Fireworks' `supports_tools`/`supports_image_input`; vLLM's
  `max_model_len`.
- Anthropic `{"data": [{"id", "display_name", ...}], "has_more", "last_id"}`.
- Gemini `{"models": [{"name": "models/...", "inputTokenLimit", ...}], "nextPageToken"}`.

Numbers are parsed as Decimal straight from the JSON text, so prices stay exact.
"""

import json
import re
from decimal import Decimal
from typing import Any

import aiohttp

from gatewayz.providers.listing import ListedModel, price
from gatewayz.providers.spec import ModelType
from gatewayz.providers.table import Provider

MILLION = Decimal(1_000_000)
_MAX_PAGES = 20
_SKIP_TYPES = frozenset({"moderation", "rerank", "audio", "transcribe", "tts", "video", "stt"})
_TYPE_NAMES: dict[str, ModelType] = {
    "chat": "chat",
    "language": "chat",
    "code": "chat",
    "embedding": "embeddings",
    "embeddings": "embeddings",
    "image": "images",
}
_SKIP_IDS = re.compile(r"whisper|(^|[-/])tts|transcribe|moderation|realtime|rerank")
_IMAGE_IDS = re.compile(r"dall-e|gpt-image|imagen|flux|stable-diffusion|sdxl|(^|[-/])sd3")


class ModelListError(Exception):
    """The provider's model list could not be fetched or read; the message says why."""


async def fetch_model_list(
    session: aiohttp.ClientSession, provider: Provider, timeout: float = 30.0
) -> list[ListedModel]:
    """GET the provider's whole model list (every page), normalised; ModelListError on failure."""
    if provider.spec.models_path is None:
        raise ModelListError("the provider publishes no model list")
    url = provider.base_url + provider.spec.models_path
    protocol = provider.spec.protocol
    params = {"anthropic": {"limit": "1000"}, "gemini": {"pageSize": "1000"}}.get(protocol, {})
    models: list[ListedModel] = []
    for _ in range(_MAX_PAGES):
        payload = await _get_json(session, provider, url, params, timeout)
        models.extend(parse_model_list(protocol, payload))
        cursor = _next_page(protocol, payload)
        if not cursor:
            break
        params = {**params, **cursor}
    return _unique(models)


async def _get_json(
    session: aiohttp.ClientSession,
    provider: Provider,
    url: str,
    params: dict[str, str],
    timeout: float,
) -> Any:
    try:
        async with session.get(
            url,
            params=params,
            headers=provider.request_headers(),
            timeout=aiohttp.ClientTimeout(
                total=timeout, sock_connect=provider.spec.connect_timeout_seconds
            ),
        ) as response:
            body = await response.read()
            if response.status >= 400:
                raise ModelListError(f"the model list answered HTTP {response.status}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ModelListError(f"the model list is unreachable ({type(exc).__name__})") from None
    try:
        return json.loads(body, parse_float=Decimal)
    except ValueError:
        raise ModelListError("the model list is not JSON") from None


def _next_page(protocol: str, payload: Any) -> dict[str, str] | None:
    if not isinstance(payload, dict):
        return None
    if protocol == "anthropic" and payload.get("has_more") and payload.get("last_id"):
        return {"after_id": str(payload["last_id"])}
    if protocol == "gemini" and payload.get("nextPageToken"):
        return {"pageToken": str(payload["nextPageToken"])}
    return None


def parse_model_list(protocol: str, payload: Any) -> list[ListedModel]:
    """The models in one page of a list in `protocol`'s format; unreadable items are skipped."""
    key = "models" if protocol == "gemini" else "data"
    items = payload if isinstance(payload, list) else None
    if isinstance(payload, dict) and isinstance(payload.get(key), list):
        items = payload[key]
    if items is None:
        raise ModelListError(f"the model list has no {key!r} array")
    reader = {"anthropic": _anthropic_model, "gemini": _gemini_model}.get(protocol, _openai_model)
    models = (reader(item) for item in items if isinstance(item, dict))
    return [model for model in models if model is not None]


def _openai_model(item: dict[str, Any]) -> ListedModel | None:
    model_id = item.get("id")
    meta = _dict(item.get("metadata"))
    if not isinstance(model_id, str) or not model_id or item.get("active") is False:
        return None
    if item.get("supports_chat") is False:
        return None
    model_type = _model_type(model_id, item)
    if model_type is None:
        return None
    architecture = _dict(item.get("architecture"))
    inputs = _strings(architecture.get("input_modalities"))
    outputs = _strings(architecture.get("output_modalities"))
    tags = {tag.lower() for tag in _strings(meta.get("tags")) or ()}
    if inputs is None and "vision" in tags:
        inputs = ("text", "image")
    if inputs is None and item.get("supports_image_input") is not None:
        inputs = ("text", "image") if item["supports_image_input"] else ("text",)
    parameters = _strings(item.get("supported_parameters"))
    tools = "tools" in parameters if parameters is not None else _bool(item.get("supports_tools"))
    input_price, output_price = _prices(item, meta)
    cache_read, cache_write = _cache_prices(item)
    return ListedModel(
        id=model_id,
        type=model_type,
        name=_text(item.get("name")) or _text(item.get("display_name")),
        context_length=_first_int(
            item.get("context_length"),
            item.get("context_window"),
            meta.get("context_length"),
            item.get("max_model_len"),
            _dict(item.get("top_provider")).get("context_length"),
        ),
        max_output_tokens=_first_int(
            _dict(item.get("top_provider")).get("max_completion_tokens"),
            item.get("max_completion_tokens"),
            meta.get("max_tokens"),
        ),
        input_price_per_mtok=input_price,
        output_price_per_mtok=output_price,
        cache_read_price_per_mtok=cache_read,
        cache_write_price_per_mtok=cache_write,
        input_modalities=inputs,
        output_modalities=outputs or _default_outputs(model_type),
        supports_tools=tools,
        supports_vision=None if inputs is None else "image" in inputs,
        supports_streaming=model_type == "chat",
        created=_first_int(item.get("created")),
    )


def _prices(item: dict[str, Any], meta: dict[str, Any]) -> tuple[Decimal | None, Decimal | None]:
    """(input, output) per million tokens from whichever pricing block the item carries."""
    pricing = _dict(item.get("pricing"))
    if "prompt" in pricing or "completion" in pricing:
        return _scaled(pricing.get("prompt"), MILLION), _scaled(pricing.get("completion"), MILLION)
    if "input" in pricing or "output" in pricing:
        # Together publishes numbers per million tokens; gateways copying OpenRouter publish
        # strings per token (Vercel AI Gateway).
        unit = MILLION if isinstance(pricing.get("input"), str) else Decimal(1)
        return _scaled(pricing.get("input"), unit), _scaled(pricing.get("output"), unit)
    meta_pricing = _dict(meta.get("pricing"))
    one = Decimal(1)
    return _scaled(meta_pricing.get("input_tokens"), one), _scaled(
        meta_pricing.get("output_tokens"), one
    )


def _cache_prices(item: dict[str, Any]) -> tuple[Decimal | None, Decimal | None]:
    """(cache read, cache write) per million tokens, as OpenRouter and gateways copying it
    publish them (USD per token, strings); None where unpublished."""
    pricing = _dict(item.get("pricing"))
    unit = MILLION if isinstance(pricing.get("input_cache_read", ""), str) else Decimal(1)
    read = _scaled(pricing.get("input_cache_read"), unit)
    unit = MILLION if isinstance(pricing.get("input_cache_write", ""), str) else Decimal(1)
    return read, _scaled(pricing.get("input_cache_write"), unit)


def _model_type(model_id: str, item: dict[str, Any]) -> ModelType | None:
    """chat / embeddings / images, or None for a model the gateway cannot serve."""
    declared = item.get("type")
    if isinstance(declared, str):
        if declared.lower() in _SKIP_TYPES:
            return None
        if declared.lower() in _TYPE_NAMES:
            return _TYPE_NAMES[declared.lower()]
    outputs = _strings(_dict(item.get("architecture")).get("output_modalities")) or ()
    lowered = model_id.lower()
    if "embeddings" in outputs or "embed" in lowered:
        return "embeddings"
    if _SKIP_IDS.search(lowered):
        return None
    if _IMAGE_IDS.search(lowered) and "image" in (outputs or ("image",)):
        return "images"
    return "chat"


def _anthropic_model(item: dict[str, Any]) -> ListedModel | None:
    model_id = item.get("id")
    if not isinstance(model_id, str) or not model_id:
        return None
    image = _dict(_dict(item.get("capabilities")).get("image_input")).get("supported")
    vision = image if isinstance(image, bool) else None
    return ListedModel(
        id=model_id,
        name=_text(item.get("display_name")),
        context_length=_first_int(item.get("max_input_tokens")),
        max_output_tokens=_first_int(item.get("max_tokens")),
        input_modalities=None if vision is None else ("text", "image") if vision else ("text",),
        output_modalities=("text",),
        supports_tools=True,
        supports_vision=vision,
        supports_streaming=True,
    )


def _gemini_model(item: dict[str, Any]) -> ListedModel | None:
    name = item.get("name")
    if not isinstance(name, str) or not name:
        return None
    methods = _strings(item.get("supportedGenerationMethods")) or ()
    if "generateContent" in methods:
        model_type: ModelType = "chat"
    elif "embedContent" in methods:
        model_type = "embeddings"
    else:
        return None
    return ListedModel(
        id=name.removeprefix("models/"),
        type=model_type,
        name=_text(item.get("displayName")),
        context_length=_first_int(item.get("inputTokenLimit")),
        max_output_tokens=_first_int(item.get("outputTokenLimit"))
        if model_type == "chat"
        else None,
        output_modalities=_default_outputs(model_type),
        supports_streaming=model_type == "chat",
    )


def _default_outputs(model_type: ModelType) -> tuple[str, ...]:
    return {"embeddings": ("embeddings",), "images": ("image",)}.get(model_type, ("text",))


def _scaled(value: Any, unit: Decimal) -> Decimal | None:
    """A price per million tokens from `value` per `1/unit` million; None if absent or negative."""
    if value is None or value == "":
        return None
    try:
        return (price(value) * unit).normalize() + 0
    except ValueError:
        return None


def _unique(models: list[ListedModel]) -> list[ListedModel]:
    """The first model of each id, in list order."""
    unique: dict[str, ListedModel] = {}
    for model in models:
        unique.setdefault(model.id, model)
    return list(unique.values())


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    return tuple(item for item in value if isinstance(item, str))


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _first_int(*values: Any) -> int | None:
    for value in values:
        if isinstance(value, bool):
            continue
        if isinstance(value, int | Decimal) and value > 0 and value == int(value):
            return int(value)
    return None
