"""A Messages request as it is passed through to an Anthropic upstream.

Every field is one the gateway understands and bills (its cost is in the tokens the answer's
usage reports, held before the call as the request's size plus `max_tokens`), one the
provider row allows in `passthrough_fields`, or refused with a 400 naming it. Thinking
blocks the gateway made from another format's reasoning (see protocols.anthropic.signature)
are left out, and named: Anthropic refuses a signature it did not make. Refused unless
allowed: server tools (web search, web fetch, code execution, MCP, tool search, advisor...,
billed by the upstream per use or per hour), `mcp_servers`, `container`, conversations
(`thread`) and files stored at the upstream, fallback models, compaction, and tiers, speeds
or regions priced above the model.
"""

from typing import Any

from gatewayz.protocols.anthropic.signature import is_gateway_signature
from gatewayz.protocols.checks import Json
from gatewayz.protocols.fields import Dropped
from gatewayz.protocols.passthrough import family, refuse, tool_allowed

_BILLED = frozenset(
    {
        "model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream",
        "temperature", "top_p", "top_k", "tools", "tool_choice", "thinking", "output_config",
        "output_format", "cache_control", "context_management", "service_tier", "speed",
    }
)  # fmt: skip
_UNLESS_ALLOWED = {
    "mcp_servers": "MCP servers are called by the upstream, outside the usage the gateway bills",
    "container": "code execution containers are billed by the upstream per hour",
    "inference_geo": "inference in a chosen region is priced above the model's price",
    "fallbacks": "a fallback model is billed at its own price",
    "compaction": "compaction runs at the upstream beyond the usage the gateway bills",
    "diagnostics": "it compares the request with another one the upstream keeps",
    "billing_policy": "it changes who the upstream bills",
    "fallback_credit_token": "it changes how the upstream bills cached tokens",
    "thread": "it keeps or continues a conversation held at the upstream, whose size the "
    "credit hold cannot see; send the whole conversation instead",
}
_TIERS = frozenset({"auto", "standard_only"})
_SPEEDS = frozenset({"standard"})
# Tools the client runs: the model only writes their calls, billed as output tokens.
_CLIENT_TOOLS = frozenset({"custom", "bash", "text_editor", "computer", "memory"})
# Context edits that only drop earlier content from what the model reads.
_EDITS = frozenset({"clear_tool_uses", "clear_thinking"})
_STORED_FILE = "it refers to a file stored at the upstream, whose size the credit hold cannot see"


def native_request(body: Json, model: str, provider: str, allowed: frozenset[str]) -> Json:
    """The body to send `provider` (with its own model id), or InvalidRequest naming the
    first field that cannot be passed through."""
    policy = _Policy(provider, allowed)
    for key, value in body.items():
        if value is not None and key not in allowed:
            policy.field(key, value)
    return {**body, "model": model}


def without_gateway_thinking(body: Json, dropped: Dropped) -> Json:
    """The body without the thinking blocks the gateway signed (an assistant message left
    empty goes too: Anthropic joins the turns around it)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not any(_signed_by_gateway(m) for m in messages):
        return body
    dropped.drop("messages.*.content.*.thinking", "Anthropic refuses a signature it did not make")
    kept = []
    for message in messages:
        if not _signed_by_gateway(message):
            kept.append(message)
            continue
        content = [block for block in message["content"] if not _gateway_block(block)]
        if content:
            kept.append({**message, "content": content})
    return {**body, "messages": kept}


def _gateway_block(block: Any) -> bool:
    return (
        isinstance(block, dict)
        and block.get("type") == "thinking"
        and is_gateway_signature(block.get("signature"))
    )


def _signed_by_gateway(message: Any) -> bool:
    content = message.get("content") if isinstance(message, dict) else None
    return isinstance(content, list) and any(_gateway_block(block) for block in content)


class _Policy:
    def __init__(self, provider: str, allowed: frozenset[str]) -> None:
        self.provider = provider
        self.allowed = allowed

    def field(self, key: str, value: Any) -> None:
        """Check one top-level field the provider row does not allow as a whole."""
        if key in _UNLESS_ALLOWED:
            raise refuse(key, self.provider, _UNLESS_ALLOWED[key])
        if key not in _BILLED:
            raise refuse(key, self.provider, "it is not a field the gateway can bill")
        if key == "service_tier" and value not in _TIERS:
            why = f"the '{value}' tier is not billed at the model's price; use auto"
            raise refuse(key, self.provider, why)
        if key == "speed" and value not in _SPEEDS:
            why = f"the '{value}' speed is priced above the model's price; use standard"
            raise refuse(key, self.provider, why)
        if key == "tools":
            for i, tool in enumerate(value if isinstance(value, list) else ()):
                self.tool(tool, f"tools.{i}")
        elif key == "context_management" and isinstance(value, dict):
            self.edits(value.get("edits"))
        elif key == "messages":
            for i, message in enumerate(value if isinstance(value, list) else ()):
                content = message.get("content") if isinstance(message, dict) else None
                self.blocks(content, f"messages.{i}.content")

    def tool(self, tool: Any, path: str) -> None:
        """A tool the client runs, or a server tool the provider row allows."""
        if not isinstance(tool, dict):
            return  # the upstream refuses it, at no cost
        kind = tool.get("type") or "custom"
        if not isinstance(kind, str):
            raise refuse(f"{path}.type", self.provider, "a tool's type must be a string")
        if family(kind) in _CLIENT_TOOLS or tool_allowed(kind, self.allowed):
            return
        why = f"'{family(kind)}' is a server tool, which the upstream bills per use itself"
        raise refuse(f"{path}.type", self.provider, why)

    def edits(self, edits: Any) -> None:
        for i, edit in enumerate(edits if isinstance(edits, list) else ()):
            kind = edit.get("type") if isinstance(edit, dict) else None
            name = family(kind) if isinstance(kind, str) else str(kind)
            if name not in _EDITS and f"context_management.{name}" not in self.allowed:
                path = f"context_management.edits.{i}.type"
                why = f"'{name}' edits run at the upstream beyond the usage the gateway bills"
                raise refuse(path, self.provider, why)

    def blocks(self, content: Any, path: str, nested: bool = False) -> None:
        """No files stored at the upstream (also inside tool results), unless allowed."""
        if "messages.file_id" in self.allowed:
            return
        for j, block in enumerate(content if isinstance(content, list) else ()):
            if not isinstance(block, dict):
                continue
            where = f"{path}.{j}"
            source = block.get("source")
            if isinstance(source, dict) and source.get("type") == "file":
                raise refuse(f"{where}.source", self.provider, _STORED_FILE)
            if block.get("type") == "container_upload":
                raise refuse(f"{where}.type", self.provider, _STORED_FILE)
            if block.get("type") == "tool_result" and not nested:
                self.blocks(block.get("content"), f"{where}.content", nested=True)
