"""The adapter table: for each wire protocol, its built-in adapter and what it serves."""

import aiohttp

from gatewayz.providers.anthropic import AnthropicAdapter
from gatewayz.providers.capabilities import Adapter
from gatewayz.providers.demo import DemoAdapter
from gatewayz.providers.fal import FalAdapter
from gatewayz.providers.gemini import GeminiAdapter
from gatewayz.providers.openai_compat import OpenAICompatAdapter


def builtin_adapters(session: aiohttp.ClientSession, default_max_tokens: int) -> dict[str, Adapter]:
    """The adapter of every wire protocol, on one pooled HTTP session; `default_max_tokens` is
    sent to Anthropic upstreams (which require a limit) when a request has none."""
    openai = OpenAICompatAdapter(session)
    anthropic = AnthropicAdapter(session, default_max_tokens)
    gemini = GeminiAdapter(session)
    demo = DemoAdapter()
    return {
        "openai": Adapter(
            chat=openai,
            embeddings=openai,
            images=openai,
            completions=openai,
            responses=openai,
        ),
        "anthropic": Adapter(chat=anthropic, messages=anthropic),
        "gemini": Adapter(chat=gemini, gemini=gemini),
        "fal": Adapter(images=FalAdapter(session)),
        "demo": Adapter(chat=demo, embeddings=demo),
    }
