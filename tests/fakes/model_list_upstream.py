"""A fake provider publishing a priced model list: a real HTTP server on 127.0.0.1.

``GET {base_url}/models`` answers ``models`` in one of two real list formats:

- ``openrouter``: ``{"data": [...]}`` as OpenRouter's GET /api/v1/models — prices in USD
  per token as strings (``pricing.prompt``/``completion``), ``context_length``,
  ``architecture.input_modalities``, ``supported_parameters``;
- ``together``: a bare JSON array as Together's GET /v1/models — ``type``, ``display_name``,
  ``context_length``, prices in USD per million tokens as numbers.

Tests change ``models`` to publish a new list, set ``status`` (e.g. 503) to make the list
fail, and read ``list_requests``. The bearer key must match ``api_key``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from aiohttp import web

from tests.fakes.server import FakeServer

Style = Literal["openrouter", "together"]


@dataclass
class FakeModel:
    """One model of the fake list; prices are USD per million tokens (None: not published)."""

    id: str
    name: str
    input: str | None = "1"
    output: str | None = "2"
    context: int = 131072
    inputs: tuple[str, ...] = ("text",)
    tools: bool = True
    type: str = "chat"
    extra: dict[str, Any] = field(default_factory=dict)


DEFAULT_MODELS = [
    FakeModel("meta-llama/llama-3.1-8b-instruct", "Meta: Llama 3.1 8B Instruct", "0.02", "0.03"),
    FakeModel(
        "openai/gpt-4o-mini",
        "OpenAI: GPT-4o-mini",
        "0.15",
        "0.6",
        128000,
        ("text", "image", "file"),
    ),
    FakeModel(
        "mistralai/mistral-nemo", "Mistral: Mistral Nemo", "0.008", "0.001", 32768, tools=False
    ),
    FakeModel("openrouter/auto", "Auto Router", "-1", "-1", 2000000),
]


def _per_token(per_million: str | None) -> str:
    if per_million is None:
        return "0"
    if per_million.startswith("-"):
        return per_million
    return f"{Decimal(per_million) / Decimal(1_000_000):f}"


def openrouter_item(model: FakeModel) -> dict[str, Any]:
    """The model as OpenRouter lists it."""
    parameters = ["max_tokens", "temperature", "top_p", "stop", "seed"]
    if model.tools:
        parameters += ["tools", "tool_choice"]
    item: dict[str, Any] = {
        "id": model.id,
        "canonical_slug": model.id,
        "name": model.name,
        "created": 1721260800,
        "description": f"{model.name}, served by the fake.",
        "context_length": model.context,
        "architecture": {
            "modality": "+".join(model.inputs) + "->text",
            "input_modalities": list(model.inputs),
            "output_modalities": ["text"],
            "tokenizer": "Other",
            "instruct_type": None,
        },
        "pricing": {
            "prompt": _per_token(model.input),
            "completion": _per_token(model.output),
            "request": "0",
            "image": "0",
            "web_search": "0",
            "internal_reasoning": "0",
        },
        "top_provider": {
            "context_length": model.context,
            "max_completion_tokens": 16384,
            "is_moderated": False,
        },
        "per_request_limits": None,
        "supported_parameters": parameters,
    }
    return {**item, **model.extra}


def together_item(model: FakeModel) -> dict[str, Any]:
    """The model as Together lists it (numbers per million tokens; the JSON has no strings)."""
    item: dict[str, Any] = {
        "id": model.id,
        "object": "model",
        "created": 1721260800,
        "type": model.type,
        "running": False,
        "display_name": model.name,
        "organization": model.id.split("/")[0],
        "link": f"https://huggingface.co/{model.id}",
        "license": "other",
        "context_length": model.context,
        "config": {"chat_template": None, "stop": ["<|eot_id|>"], "bos_token": None},
    }
    if model.input is not None and model.output is not None:
        item["pricing"] = {
            "hourly": 0,
            "input": _Raw(model.input),
            "output": _Raw(model.output),
            "base": 0,
            "finetune": 0,
        }
    return {**item, **model.extra}


class _Raw(str):
    """A number to write into the JSON exactly as given (Together's prices are numbers)."""


def _dumps(payload: Any) -> str:
    """JSON with `_Raw` values written as bare numbers."""
    if isinstance(payload, _Raw):
        return str(payload)
    if isinstance(payload, dict):
        return "{" + ",".join(f"{_dumps(str(k))}:{_dumps(v)}" for k, v in payload.items()) + "}"
    if isinstance(payload, list):
        return "[" + ",".join(_dumps(v) for v in payload) + "]"
    return json.dumps(payload)


class FakeModelListUpstream(FakeServer):
    """A provider whose only endpoint is its model list; see the module docstring."""

    url_path = "/api/v1"

    def __init__(
        self,
        style: Style = "openrouter",
        models: list[FakeModel] | None = None,
        api_key: str = "sk-list-fake",
    ) -> None:
        super().__init__()
        self.style = style
        self.models = list(DEFAULT_MODELS if models is None else models)
        self.api_key = api_key
        self.status = 200
        self.list_requests = 0

    def configure(self, app: web.Application) -> None:
        app.router.add_get("/api/v1/models", self._models)

    def provider_row(self, name: str = "fakelist", **extra: Any) -> dict[str, Any]:
        """A provider config row pointing at this fake."""
        return {
            "name": name,
            "protocol": "openai",
            "base_url": self.base_url,
            "api_key": self.api_key,
            **extra,
        }

    async def _models(self, request: web.Request) -> web.Response:
        self.list_requests += 1
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response(
                {"error": {"message": "No auth credentials found"}}, status=401
            )
        if self.status != 200:
            return web.json_response({"error": {"message": "unavailable"}}, status=self.status)
        if self.style == "together":
            body = _dumps([together_item(m) for m in self.models])
        else:
            body = _dumps({"data": [openrouter_item(m) for m in self.models]})
        return web.Response(text=body, content_type="application/json")
