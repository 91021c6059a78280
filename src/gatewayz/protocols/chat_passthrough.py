"""What a chat completion request may carry to an OpenAI-compatible upstream.

Chat requests reach a provider in its own format, so fields the gateway does not know pass
through: OpenAI-compatible servers take sampling options of their own (`top_k`, `min_p`,
`repetition_penalty`, ...) whose cost is in the tokens the answer's usage reports. Refused
with a 400 naming them, unless the provider row allows them (`passthrough_fields`), are the
fields that make an upstream bill work the usage does not show or price differently: its own
web search (`web_search_options`, xAI `search_parameters`, OpenRouter `plugins`), tools other
than functions (run at the upstream), audio output (priced above text tokens), a service
tier above the model's price, and `store: true` (the upstream keeps the completion).
"""

from typing import Any

from gatewayz.protocols.passthrough import refuse, tool_allowed

_BILLED_ELSEWHERE = {
    "web_search_options": "the upstream's web search is billed per search, beyond the usage",
    "search_parameters": "the upstream's live search is billed per source, beyond the usage",
    "plugins": "the upstream's plugins are billed per use, beyond the usage",
    "audio": "audio output is priced above the text tokens the gateway bills",
}
_TIERS = frozenset({"auto", "default"})
_CLIENT_TOOLS = frozenset({"function", "custom"})


def check_chat_request(body: dict[str, Any], provider: str, allowed: frozenset[str]) -> None:
    """Raise InvalidRequest naming the first field `provider` may not be sent."""
    for field, why in _BILLED_ELSEWHERE.items():
        if body.get(field) is not None and field not in allowed:
            raise refuse(field, provider, why)
    modalities = body.get("modalities")
    if isinstance(modalities, list) and "audio" in modalities and "audio" not in allowed:
        raise refuse("modalities", provider, _BILLED_ELSEWHERE["audio"])
    tier = body.get("service_tier")
    if tier is not None and tier not in _TIERS and "service_tier" not in allowed:
        raise refuse("service_tier", provider, f"the {tier!r} tier costs more than its price")
    if body.get("store") is True and "store" not in allowed:
        raise refuse("store", provider, "the upstream would keep the completion")
    for index, tool in enumerate(body.get("tools") or ()):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if isinstance(kind, str) and kind not in _CLIENT_TOOLS and not tool_allowed(kind, allowed):
            raise refuse(f"tools[{index}].type", provider, f"'{kind}' tools run at the upstream")
