"""Canonical ids: the same model under each provider's own id gets one name."""

import pytest

from gatewayz.providers.bundled import load_bundled
from gatewayz.providers.canonical import canonical_id

ALIASES = load_bundled().aliases

# Llama 3.1 8B Instruct as each provider's model list names it.
LLAMA_31_8B = {
    "together": "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
    "fireworks": "accounts/fireworks/models/llama-v3p1-8b-instruct",
    "groq": "llama-3.1-8b-instant",
    "deepinfra": "meta-llama/Meta-Llama-3.1-8B-Instruct",
    "cerebras": "llama3.1-8b",
    "openrouter": "meta-llama/llama-3.1-8b-instruct",
    "openrouter free": "meta-llama/llama-3.1-8b-instruct:free",
    "cloudflare": "@cf/meta/llama-3.1-8b-instruct-fp8",
    "nebius": "meta-llama/Meta-Llama-3.1-8B-Instruct-fast",
}

LLAMA_33_70B = {
    "together": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "fireworks": "accounts/fireworks/models/llama-v3p3-70b-instruct",
    "groq": "llama-3.3-70b-versatile",
    "deepinfra": "meta-llama/Llama-3.3-70B-Instruct",
    "cerebras": "llama-3.3-70b",
    "openrouter": "meta-llama/llama-3.3-70b-instruct",
}


@pytest.mark.parametrize("provider", LLAMA_31_8B)
def test_llama_31_8b_has_one_id_on_every_provider(provider: str) -> None:
    assert canonical_id(LLAMA_31_8B[provider], ALIASES) == "llama-3.1-8b-instruct"


@pytest.mark.parametrize("provider", LLAMA_33_70B)
def test_llama_33_70b_has_one_id_on_every_provider(provider: str) -> None:
    assert canonical_id(LLAMA_33_70B[provider], ALIASES) == "llama-3.3-70b-instruct"


@pytest.mark.parametrize(
    ("first", "second", "canonical"),
    [
        ("claude-sonnet-4-5-20250929", "anthropic/claude-sonnet-4.5", "claude-sonnet-4.5"),
        ("claude-3-5-haiku-20241022", "anthropic/claude-3.5-haiku", "claude-3.5-haiku"),
        ("claude-opus-4-1-20250805", "anthropic/claude-opus-4.1", "claude-opus-4.1"),
        ("gpt-4o-2024-08-06", "openai/gpt-4o", "gpt-4o"),
        ("models/gemini-2.5-flash", "google/gemini-2.5-flash", "gemini-2.5-flash"),
        ("openai/gpt-oss-120b", "gpt-oss-120b", "gpt-oss-120b"),
        (
            "accounts/fireworks/models/qwen2p5-72b-instruct",
            "Qwen/Qwen2.5-72B-Instruct-Turbo",
            "qwen2.5-72b-instruct",
        ),
    ],
)
def test_vendor_spellings_meet(first: str, second: str, canonical: str) -> None:
    assert canonical_id(first, ALIASES) == canonical
    assert canonical_id(second, ALIASES) == canonical


def test_different_models_stay_apart() -> None:
    ids = [
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4-turbo",
        "gpt-4",
        "gpt-3.5-turbo",
        "chatgpt-4o-latest",
        "meta-llama/Llama-3.1-8B",
        "meta-llama/Llama-3.1-70B-Instruct",
        "llama-3.1-8b-instruct",
        "deepseek-ai/DeepSeek-V3",
        "accounts/fireworks/models/deepseek-v3p1",
        "Qwen/Qwen3-235B-A22B-Instruct-2507",
        "Qwen/Qwen3-235B-A22B",
    ]
    canon = [canonical_id(model_id, ALIASES) for model_id in ids]
    assert len(set(canon)) == len(ids), canon
    assert canonical_id("accounts/fireworks/models/deepseek-v3p1") == "deepseek-v3.1"


def test_ollama_size_tags_become_part_of_the_id() -> None:
    assert canonical_id("llama3.1:8b") == "llama-3.1-8b"
    assert canonical_id("llama3.1:70b") != canonical_id("llama3.1:8b")


def test_the_function_is_pure_and_idempotent() -> None:
    for model_id in [*LLAMA_31_8B.values(), *LLAMA_33_70B.values(), "GPT-4o", "  o3  "]:
        once = canonical_id(model_id, ALIASES)
        assert canonical_id(once, ALIASES) == once
        assert once == once.lower().strip()
    assert canonical_id("Meta-Llama-3.1-8B-Instruct") == "llama-3.1-8b-instruct"
    assert canonical_id("") == ""
