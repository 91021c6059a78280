"""Model lists: fetched from real HTTP servers and normalised, per list format."""

import json
import socket
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from gatewayz.providers.listing import ListedModel
from gatewayz.providers.model_lists import ModelListError, fetch_model_list, parse_model_list
from gatewayz.providers.spec import ProviderSpec
from gatewayz.providers.table import Provider, resolve
from tests.fakes.anthropic_upstream import FakeAnthropicUpstream
from tests.fakes.gemini_upstream import FakeGeminiUpstream
from tests.fakes.model_list_upstream import FakeModel, FakeModelListUpstream
from tests.fakes.openai_upstream import FakeOpenAIUpstream


def _read(protocol: str, text: str) -> dict[str, ListedModel]:
    payload = json.loads(text, parse_float=Decimal)
    return {m.id: m for m in parse_model_list(protocol, payload)}


def _provider(**row: Any) -> Provider:
    provider = resolve(ProviderSpec(**row), {})
    assert provider is not None
    return provider


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


# --- normalising recorded list items ---------------------------------------------------

OPENROUTER = """{"data": [
 {"id": "anthropic/claude-sonnet-4.5", "canonical_slug": "anthropic/claude-4.5-sonnet-20250929",
  "name": "Anthropic: Claude Sonnet 4.5", "created": 1759161676, "context_length": 1000000,
  "architecture": {"modality": "text+image->text", "input_modalities": ["text", "image", "file"],
                   "output_modalities": ["text"], "tokenizer": "Claude", "instruct_type": null},
  "pricing": {"prompt": "0.000003", "completion": "0.000015", "request": "0", "image": "0.0048",
              "input_cache_read": "0.0000003", "input_cache_write": "0.00000375"},
  "top_provider": {"context_length": 1000000, "max_completion_tokens": 64000, "is_moderated": true},
  "per_request_limits": null,
  "supported_parameters": ["include_reasoning", "max_tokens", "reasoning", "tool_choice", "tools"]},
 {"id": "meta-llama/llama-3.3-70b-instruct:free", "name": "Meta: Llama 3.3 70B Instruct (free)",
  "created": 1733506137, "context_length": 131072,
  "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
  "pricing": {"prompt": "0", "completion": "0"}, "supported_parameters": ["max_tokens"]},
 {"id": "openrouter/auto", "name": "Auto Router", "context_length": 2000000,
  "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["text"]},
  "pricing": {"prompt": "-1", "completion": "-1"}}
]}"""


def test_openrouter_prices_per_token_become_exact_decimals_per_million() -> None:
    models = _read("openai", OPENROUTER)
    sonnet = models["anthropic/claude-sonnet-4.5"]
    assert (sonnet.input_price_per_mtok, sonnet.output_price_per_mtok) == (Decimal(3), Decimal(15))
    assert str(sonnet.input_price_per_mtok) == "3"
    assert sonnet.context_length == 1_000_000
    assert sonnet.max_output_tokens == 64000
    assert sonnet.input_modalities == ("text", "image", "file")
    assert (sonnet.supports_tools, sonnet.supports_vision, sonnet.streaming) == (True, True, True)
    assert sonnet.name == "Anthropic: Claude Sonnet 4.5"
    assert sonnet.image_price is None, "OpenRouter's image price is per input image, not output"
    free = models["meta-llama/llama-3.3-70b-instruct:free"]
    assert (free.input_price_per_mtok, free.output_price_per_mtok) == (0, 0)
    assert free.priced and free.supports_tools is False
    auto = models["openrouter/auto"]
    assert auto.input_price_per_mtok is None and not auto.priced, "-1 means variable: unknown"


def test_openrouter_cache_prices_are_read_and_reach_the_route() -> None:
    sonnet = _read("openai", OPENROUTER)["anthropic/claude-sonnet-4.5"]
    assert sonnet.cache_read_price_per_mtok == Decimal("0.3")
    assert sonnet.cache_write_price_per_mtok == Decimal("3.75")
    spec = sonnet.to_spec()
    assert (spec.cache_read_price_per_mtok, spec.cache_write_price_per_mtok) == (
        Decimal("0.3"),
        Decimal("3.75"),
    )
    assert ListedModel.from_json(sonnet.to_json()) == sonnet, "snapshots keep them"
    free = _read("openai", OPENROUTER)["meta-llama/llama-3.3-70b-instruct:free"]
    assert free.cache_read_price_per_mtok is None, "unpublished: the input price applies"


def test_vercel_style_cache_prices_per_token_are_read() -> None:
    item = {
        "id": "anthropic/claude-haiku-4.5",
        "pricing": {
            "input": "0.000001",
            "output": "0.000005",
            "input_cache_read": "0.0000001",
            "input_cache_write": "0.00000125",
        },
    }
    (haiku,) = parse_model_list("openai", {"data": [item]})
    assert haiku.cache_read_price_per_mtok == Decimal("0.1")
    assert haiku.cache_write_price_per_mtok == Decimal("1.25")


TOGETHER = """[
 {"id": "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", "object": "model", "created": 0,
  "type": "chat", "display_name": "Meta Llama 3.1 8B Instruct Turbo", "organization": "Meta",
  "context_length": 131072,
  "pricing": {"hourly": 0, "input": 0.18, "output": 0.18, "base": 0, "finetune": 0}},
 {"id": "BAAI/bge-large-en-v1.5", "object": "model", "type": "embedding",
  "display_name": "BAAI-Bge-Large-1p5", "context_length": 512,
  "pricing": {"hourly": 0, "input": 0.016, "output": 0, "base": 0, "finetune": 0}},
 {"id": "meta-llama/Llama-Guard-4-12B", "object": "model", "type": "moderation",
  "pricing": {"input": 0.2, "output": 0.2}},
 {"id": "black-forest-labs/FLUX.1-schnell", "object": "model", "type": "image",
  "pricing": {"input": 0, "output": 0}}
]"""


def test_together_prices_per_million_are_read_exactly() -> None:
    models = _read("openai", TOGETHER)
    llama = models["meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo"]
    assert llama.input_price_per_mtok == Decimal("0.18")
    assert str(llama.output_price_per_mtok) == "0.18", "no binary float on the way"
    assert (llama.type, llama.context_length, llama.name) == (
        "chat",
        131072,
        "Meta Llama 3.1 8B Instruct Turbo",
    )
    embedding = models["BAAI/bge-large-en-v1.5"]
    assert embedding.type == "embeddings" and embedding.input_price_per_mtok == Decimal("0.016")
    assert "meta-llama/Llama-Guard-4-12B" not in models, "moderation models cannot be served"
    flux = models["black-forest-labs/FLUX.1-schnell"]
    assert flux.type == "images" and not flux.priced, "an image model needs a per-image price"


def test_openai_style_extras_of_groq_deepinfra_fireworks_and_vllm() -> None:
    text = """{"object": "list", "data": [
     {"id": "llama-3.1-8b-instant", "object": "model", "owned_by": "Meta", "active": true,
      "context_window": 131072, "max_completion_tokens": 131072},
     {"id": "retired-model", "object": "model", "active": false, "context_window": 8192},
     {"id": "meta-llama/Meta-Llama-3.1-8B-Instruct", "object": "model", "owned_by": "deepinfra",
      "metadata": {"context_length": 131072, "max_tokens": 16384, "tags": ["Vision"],
                   "pricing": {"input_tokens": 0.03, "output_tokens": 0.05}}},
     {"id": "accounts/fireworks/models/llama-v3p1-8b-instruct", "object": "model",
      "supports_chat": true, "supports_image_input": false, "supports_tools": true,
      "context_length": 131072},
     {"id": "accounts/fireworks/models/base-only", "supports_chat": false},
     {"id": "Qwen/Qwen2.5-7B", "object": "model", "owned_by": "vllm", "max_model_len": 32768},
     {"id": "whisper-large-v3", "object": "model"},
     {"id": "text-embedding-3-small", "object": "model", "owned_by": "system"},
     {"id": "dall-e-3", "object": "model", "owned_by": "system"},
     {"object": "model"}
    ]}"""
    models = _read("openai", text)
    assert set(models) == {
        "llama-3.1-8b-instant",
        "meta-llama/Meta-Llama-3.1-8B-Instruct",
        "accounts/fireworks/models/llama-v3p1-8b-instruct",
        "Qwen/Qwen2.5-7B",
        "text-embedding-3-small",
        "dall-e-3",
    }
    assert models["llama-3.1-8b-instant"].context_length == 131072
    deepinfra = models["meta-llama/Meta-Llama-3.1-8B-Instruct"]
    assert (deepinfra.input_price_per_mtok, deepinfra.output_price_per_mtok) == (
        Decimal("0.03"),
        Decimal("0.05"),
    )
    assert deepinfra.supports_vision is True and deepinfra.max_output_tokens == 16384
    fireworks = models["accounts/fireworks/models/llama-v3p1-8b-instruct"]
    assert (fireworks.supports_tools, fireworks.supports_vision) == (True, False)
    assert models["Qwen/Qwen2.5-7B"].context_length == 32768
    assert models["text-embedding-3-small"].type == "embeddings"
    assert models["dall-e-3"].type == "images"
    assert all(not m.priced for m in (models["llama-3.1-8b-instant"], models["dall-e-3"]))


def test_anthropic_and_gemini_formats() -> None:
    anthropic = _read(
        "anthropic",
        """{"data": [{"type": "model", "id": "claude-opus-4-6", "display_name": "Claude Opus 4.6",
        "created_at": "2026-02-04T00:00:00Z", "max_input_tokens": 200000, "max_tokens": 128000,
        "capabilities": {"image_input": {"supported": true}, "batch": {"supported": true}}}],
        "has_more": false, "first_id": "claude-opus-4-6", "last_id": "claude-opus-4-6"}""",
    )
    opus = anthropic["claude-opus-4-6"]
    assert (opus.name, opus.context_length, opus.max_output_tokens) == (
        "Claude Opus 4.6",
        200000,
        128000,
    )
    assert (opus.supports_vision, opus.supports_tools, opus.priced) == (True, True, False)
    gemini = _read(
        "gemini",
        """{"models": [
        {"name": "models/gemini-2.5-flash", "displayName": "Gemini 2.5 Flash",
         "inputTokenLimit": 1048576, "outputTokenLimit": 65536,
         "supportedGenerationMethods": ["generateContent", "countTokens"]},
        {"name": "models/gemini-embedding-001", "inputTokenLimit": 2048, "outputTokenLimit": 1,
         "supportedGenerationMethods": ["embedContent"]},
        {"name": "models/aqa", "supportedGenerationMethods": ["generateAnswer"]}]}""",
    )
    assert set(gemini) == {"gemini-2.5-flash", "gemini-embedding-001"}
    flash = gemini["gemini-2.5-flash"]
    assert (flash.context_length, flash.max_output_tokens, flash.type) == (1048576, 65536, "chat")
    assert gemini["gemini-embedding-001"].type == "embeddings"


def test_a_list_without_its_array_is_an_error() -> None:
    for protocol, payload in [("openai", {"object": "list"}), ("gemini", {"data": []}), ("x", 3)]:
        with pytest.raises(ModelListError):
            parse_model_list(protocol, payload)


# --- fetching from real servers ----------------------------------------------------------


@pytest.mark.parametrize("style", ["openrouter", "together"])
async def test_fetch_priced_lists(session: aiohttp.ClientSession, style: str) -> None:
    async with FakeModelListUpstream(style) as fake:  # type: ignore[arg-type]
        models = {
            m.id: m for m in await fetch_model_list(session, _provider(**fake.provider_row()))
        }
    assert fake.list_requests == 1
    mini = models["openai/gpt-4o-mini"]
    assert (mini.input_price_per_mtok, mini.output_price_per_mtok) == (
        Decimal("0.15"),
        Decimal("0.6"),
    )
    assert models["mistralai/mistral-nemo"].input_price_per_mtok == Decimal("0.008")
    assert models["mistralai/mistral-nemo"].context_length == 32768
    assert not models["openrouter/auto"].priced


async def test_fetch_anthropic_gemini_and_plain_openai_lists(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeAnthropicUpstream() as fake:
        provider = _provider(
            name="anth",
            protocol="anthropic",
            base_url=fake.base_url,
            api_key=fake.api_key,
            auth="header",
            auth_header="x-api-key",
            headers={"anthropic-version": "2023-06-01"},
        )
        anthropic = await fetch_model_list(session, provider)
    assert "claude-fake" in {m.id for m in anthropic}
    assert fake.requests[-1].headers["x-api-key"] == fake.api_key
    async with FakeGeminiUpstream() as fake:
        provider = _provider(
            name="gem",
            protocol="gemini",
            base_url=fake.base_url + "/v1beta",
            api_key=fake.api_key,
            auth="header",
            auth_header="x-goog-api-key",
        )
        gemini = await fetch_model_list(session, provider)
    assert "gemini-fake" in {m.id for m in gemini}
    assert all(m.context_length and m.context_length > 0 for m in gemini)
    async with FakeOpenAIUpstream() as fake:
        provider = _provider(
            name="oai", protocol="openai", base_url=fake.base_url, api_key=fake.api_key
        )
        plain = {m.id: m for m in await fetch_model_list(session, provider)}
    assert plain["fake-model"].type == "chat" and not plain["fake-model"].priced
    assert plain["fake-embedding"].type == "embeddings"


async def test_fetch_failures_say_why_without_the_key(session: aiohttp.ClientSession) -> None:
    async with FakeModelListUpstream() as fake:
        wrong_key = _provider(**{**fake.provider_row(), "api_key": "sk-wrong"})
        with pytest.raises(ModelListError, match="HTTP 401") as raised:
            await fetch_model_list(session, wrong_key)
        assert "sk-" not in str(raised.value)
        fake.status = 503
        with pytest.raises(ModelListError, match="HTTP 503"):
            await fetch_model_list(session, _provider(**fake.provider_row()))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    down = _provider(
        name="down", protocol="openai", base_url=f"http://127.0.0.1:{port}/v1", auth="none"
    )
    with pytest.raises(ModelListError, match="unreachable"):
        await fetch_model_list(session, down)
    no_list = _provider(
        name="nolist", protocol="openai", base_url="http://x.invalid", auth="none", models_path=None
    )
    with pytest.raises(ModelListError, match="no model list"):
        await fetch_model_list(session, no_list)


async def test_a_changed_list_is_read_again(session: aiohttp.ClientSession) -> None:
    async with FakeModelListUpstream(models=[FakeModel("a/one", "One")]) as fake:
        provider = _provider(**fake.provider_row())
        assert [m.id for m in await fetch_model_list(session, provider)] == ["a/one"]
        fake.models = [FakeModel("a/one", "One", "5", "6"), FakeModel("b/two", "Two")]
        again = await fetch_model_list(session, provider)
    assert [m.id for m in again] == ["a/one", "b/two"]
    assert again[0].input_price_per_mtok == 5
