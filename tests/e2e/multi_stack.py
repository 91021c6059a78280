"""A gateway in front of one fake upstream of each wire protocol, for the cross-protocol tests.

Providers (each with its own prices, so a bill shows which one served the call):

- ``fake``: OpenAI chat completions (tests/fakes/openai_upstream.py), model ``fake-model``.
- ``claude``: Anthropic Messages (tests/fakes/anthropic_upstream.py), model ``claude-fake``
  (and ``fake-stream-error``, whose stream breaks off with an ``error`` event); the alias
  ``sonnet`` routes to ``claude-fake``, so the upstream sees the provider's own model id.
- ``gem``: Gemini generateContent (tests/fakes/gemini_upstream.py), model ``gemini-fake``.
- ``oresp``: an OpenAI-format provider with ``quirks: [responses_api]`` whose upstream serves
  only the Responses API (tests/fakes/responses_upstream.py), model ``resp-fake``.
- ``strict``: the same chat upstream (model ``strict-model``, at the prices of ``fake``) on a row
  with ``strict_fields: true``: what a translation would drop is refused instead;
  ``oresp-strict`` likewise for the Responses upstream (model ``resp-strict``).
- ``fake-open``, ``oresp-open`` and ``claude-open``: the same chat, Responses and Anthropic
  upstreams (models ``chat-open``, ``resp-open``, ``claude-open``, at the prices of ``fake``,
  ``oresp`` and ``claude``) on rows whose ``passthrough_fields`` allow what the others refuse:
  ``OPEN_CHAT``, ``OPEN_RESPONSES``, ``OPEN_MESSAGES``.

One gateway per test module and database; each test gets its own funded user.
"""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.app_services import Services
from tests.conftest import gateway_settings, serve
from tests.e2e.conftest import ONE_ATTEMPT, migrated_database
from tests.e2e.support import Caller, new_caller
from tests.fakes.anthropic_upstream import FakeAnthropicUpstream
from tests.fakes.gemini_upstream import FakeGeminiUpstream
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.fakes.responses_upstream import FakeResponsesUpstream

# Credits per million input and output tokens.
PRICES: dict[str, tuple[int, int]] = {
    "fake": (2, 8),
    "claude": (3, 15),
    "gem": (1, 4),
    "oresp": (5, 20),
}
MODELS = {
    "fake": "fake/fake-model",
    "claude": "claude/claude-fake",
    "gem": "gem/gemini-fake",
    "oresp": "oresp/resp-fake",
}
OPEN_RESPONSES = [
    "previous_response_id",
    "store",
    "service_tier",
    "tools.web_search",
    "future_option",
]
OPEN_CHAT = ["web_search_options", "store", "service_tier", "tools.web_search"]
OPEN_MESSAGES = ["mcp_servers", "tools.web_search", "speed", "messages.file_id", "future_option"]
REPLY = "This is a fake reply."
REPLY_TOKENS = 5
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}


def cost(provider: str, input_tokens: int, output_tokens: int) -> int:
    """Units (1e-9 credit) a call costs at the provider's prices, computed independently."""
    price_in, price_out = PRICES[provider]
    return input_tokens * price_in * 1_000 + output_tokens * price_out * 1_000


def _prices(provider: str) -> dict[str, str]:
    price_in, price_out = PRICES[provider]
    return {"input_price_per_mtok": str(price_in), "output_price_per_mtok": str(price_out)}


@dataclass
class MultiStack:
    database_url: str
    engine: AsyncEngine
    openai: FakeOpenAIUpstream
    anthropic: FakeAnthropicUpstream
    gemini: FakeGeminiUpstream
    responses: FakeResponsesUpstream
    base_url: str
    services: Services

    async def caller(self, credits: str = "10") -> Caller:
        return await new_caller(
            self.base_url, self.engine, self.services, self.openai, self.database_url, credits
        )


def providers(
    openai: FakeOpenAIUpstream,
    anthropic: FakeAnthropicUpstream,
    gemini: FakeGeminiUpstream,
    responses: FakeResponsesUpstream,
    extra_openai_models: Sequence[dict[str, Any]] = (),
) -> list[dict[str, Any]]:
    return [
        {
            "name": "fake",
            "protocol": "openai",
            "base_url": openai.base_url,
            "api_key": openai.api_key,
            "models": [{"id": "fake-model", **_prices("fake")}, *extra_openai_models],
        },
        {
            "name": "fake-open",
            "protocol": "openai",
            "base_url": openai.base_url,
            "api_key": openai.api_key,
            "passthrough_fields": OPEN_CHAT,
            "models": [{"id": "chat-open", **_prices("fake")}],
        },
        {
            "name": "strict",
            "protocol": "openai",
            "base_url": openai.base_url,
            "api_key": openai.api_key,
            "strict_fields": True,
            "models": [{"id": "strict-model", **_prices("fake")}],
        },
        {
            "name": "claude",
            "protocol": "anthropic",
            "base_url": anthropic.base_url,
            "api_key": anthropic.api_key,
            "auth": "header",
            "auth_header": "x-api-key",
            "models": [
                {"id": "claude-fake", **_prices("claude")},
                {"id": "fake-stream-error", **_prices("claude")},
            ],
        },
        {
            "name": "gem",
            "protocol": "gemini",
            "base_url": gemini.base_url + "/v1beta",
            "api_key": gemini.api_key,
            "auth": "header",
            "auth_header": "x-goog-api-key",
            "models": [{"id": "gemini-fake", **_prices("gem")}],
        },
        {
            "name": "oresp",
            "protocol": "openai",
            "base_url": responses.base_url,
            "api_key": responses.api_key,
            "quirks": ["responses_api"],
            "models": [{"id": "resp-fake", **_prices("oresp")}],
        },
        {
            "name": "oresp-strict",
            "protocol": "openai",
            "base_url": responses.base_url,
            "api_key": responses.api_key,
            "quirks": ["responses_api"],
            "strict_fields": True,
            "models": [{"id": "resp-strict", **_prices("oresp")}],
        },
        {
            "name": "oresp-open",
            "protocol": "openai",
            "base_url": responses.base_url,
            "api_key": responses.api_key,
            "quirks": ["responses_api"],
            "passthrough_fields": OPEN_RESPONSES,
            "models": [{"id": "resp-open", **_prices("oresp")}],
        },
        {
            "name": "claude-open",
            "protocol": "anthropic",
            "base_url": anthropic.base_url,
            "api_key": anthropic.api_key,
            "auth": "header",
            "auth_header": "x-api-key",
            "passthrough_fields": OPEN_MESSAGES,
            "models": [{"id": "claude-open", **_prices("claude")}],
        },
    ]


ExtraModel = str | dict[str, Any]


def with_models(
    rows: list[dict[str, Any]], extra: dict[str, list[ExtraModel]]
) -> list[dict[str, Any]]:
    """The provider rows with more models added to some: an id (at the provider's prices), or
    a model row (with its own prices, or at the provider's)."""
    return [
        {
            **row,
            "models": [
                *row["models"],
                *(
                    {"id": m, **_prices(row["name"])}
                    if isinstance(m, str)
                    else m
                    if "input_price_per_mtok" in m
                    else {**_prices(row["name"]), **m}
                    for m in extra.get(row["name"], [])
                ),
            ],
        }
        for row in rows
    ]


@asynccontextmanager
async def multi_stack(
    database: str,
    tmp_dir: Any,
    extra_models: dict[str, list[ExtraModel]] | None = None,
    extra_openai_models: Sequence[dict[str, Any]] = (),
    **overrides: Any,
) -> AsyncIterator[MultiStack]:
    """Migrate the database, start the four fakes and a gateway in front of them.

    `extra_models` (provider name -> more model ids or rows, see `with_models`) and
    `extra_openai_models` (model rows joining `fake-model` on the `fake` provider) are served
    too; `overrides` go to the gateway's settings (e.g. `demo_provider=True`).
    """
    async with (
        migrated_database(database, tmp_dir) as (url, engine),
        FakeOpenAIUpstream() as openai,
        FakeAnthropicUpstream() as anthropic,
        FakeGeminiUpstream() as gemini,
        FakeResponsesUpstream() as responses,
    ):
        settings = gateway_settings(
            url,
            openai,
            providers=with_models(
                providers(openai, anthropic, gemini, responses, extra_openai_models),
                extra_models or {},
            ),
            routing={
                **ONE_ATTEMPT,
                "models": {"sonnet": {"candidates": ["claude/claude-fake"]}},
            },
            **overrides,
        )
        async with serve(settings) as (base_url, state):
            yield MultiStack(url, engine, openai, anthropic, gemini, responses, base_url, state)


async def stack_fixture(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MultiStack]:
    """The body of each module's `stack` fixture (module-scoped, over both databases)."""
    async with multi_stack(request.param, tmp_path_factory.mktemp("multi")) as stack:
        yield stack
