"""A CreateResponse as it is passed through to a provider serving the Responses API natively.

Every field is one the gateway understands and bills (its cost is in the tokens the answer's
usage reports, held before the call as the request's size plus its output limit), one the
provider row allows in `passthrough_fields`, or refused with a 400 naming it. Refused unless
allowed: what makes the upstream read what it stores (previous_response_id, conversation,
prompt, item references, stored files), keep what it answers (`store: true`), or bill work
of its own (hosted tools, compaction, moderation, a service tier above the model's price).
`background: true` is always refused: the gateway would never see the response finish.
"""

from typing import Any

from gatewayz.protocols.checks import Json
from gatewayz.protocols.passthrough import family, refuse, tool_allowed

_BILLED = frozenset(
    {
        "model", "input", "instructions", "max_output_tokens", "stream", "stream_options",
        "metadata", "client_metadata", "user", "safety_identifier", "prompt_cache_key",
        "prompt_cache_retention", "prompt_cache_options", "temperature", "top_p",
        "top_logprobs", "parallel_tool_calls", "max_tool_calls", "text", "reasoning",
        "truncation", "tools", "tool_choice", "include", "store", "background", "service_tier",
    }
)  # fmt: skip
_STORED = "whose size the credit hold cannot see; send the whole input instead"
_UNLESS_ALLOWED = {
    "previous_response_id": f"it continues a response stored at the upstream, {_STORED}",
    "conversation": f"it continues a conversation stored at the upstream, {_STORED}",
    "prompt": f"it uses a prompt template stored at the upstream, {_STORED}",
    "context_management": "compaction runs at the upstream beyond the usage the gateway bills",
    "moderation": "moderation runs at the upstream beyond the usage the gateway bills",
}
_TIERS = frozenset({"auto", "default"})
# Tools the client runs: the model only writes their calls, billed as output tokens.
_CLIENT_TOOLS = frozenset({"function", "custom", "namespace", "local_shell", "apply_patch"})
_INCLUDE = frozenset(
    {
        "file_search_call.results", "web_search_call.results", "web_search_call.action.sources",
        "message.input_image.image_url", "computer_call_output.output.image_url",
        "code_interpreter_call.outputs", "reasoning.encrypted_content",
        "message.output_text.logprobs",
    }
)  # fmt: skip


def native_request(body: Json, model: str, provider: str, allowed: frozenset[str]) -> Json:
    """The body to send `provider` (its own model id, nothing stored unless allowed), or
    InvalidRequest naming the first field that cannot be passed through."""
    policy = _Policy(provider, allowed)
    for key, value in body.items():
        if value is not None and key not in allowed:
            policy.field(key, value, body)
    out = {**body, "model": model}
    if body.get("store") is None and "store" not in allowed:
        out["store"] = False  # the upstream's default is to keep the response
    return out


class _Policy:
    def __init__(self, provider: str, allowed: frozenset[str]) -> None:
        self.provider = provider
        self.allowed = allowed

    def field(self, key: str, value: Any, body: Json) -> None:
        """Check one top-level field the provider row does not allow as a whole."""
        if key in _UNLESS_ALLOWED:
            raise refuse(key, self.provider, _UNLESS_ALLOWED[key])
        if key not in _BILLED:
            raise refuse(key, self.provider, "it is not a field the gateway can bill")
        if key == "background" and value is not False:
            raise refuse(key, self.provider, "a background response is never seen finishing")
        if key == "store" and value is not False:
            raise refuse(key, self.provider, "responses are not kept at the upstream; use false")
        if key == "service_tier" and value not in _TIERS:
            why = f"the '{value}' tier is not billed at the model's price; use auto or default"
            raise refuse(key, self.provider, why)
        if key == "tools":
            self.tools(value, "tools")
        elif key == "tool_choice":
            self.tool_choice(value, body.get("tools"))
        elif key == "include":
            self.include(value)
        elif key == "input":
            self.input(value)

    def tools(self, tools: Any, path: str) -> None:
        for i, tool in enumerate(tools if isinstance(tools, list) else ()):
            self.tool(tool, f"{path}[{i}]")

    def tool(self, tool: Any, path: str) -> None:
        """A tool the client runs, or a hosted one the provider row allows."""
        kind = tool.get("type") if isinstance(tool, dict) else None
        if not isinstance(kind, str):
            raise refuse(f"{path}.type", self.provider, "a tool needs its type")
        if kind == "namespace":
            self.tools(tool.get("tools"), f"{path}.tools")
        if kind in _CLIENT_TOOLS or (kind == "shell" and _local(tool)):
            return
        if not tool_allowed(kind, self.allowed):
            why = f"'{family(kind)}' tools run at the upstream, which bills their use itself"
            raise refuse(f"{path}.type", self.provider, why)

    def tool_choice(self, choice: Any, tools: Any) -> None:
        """A forced tool must be one of the request's tools or one that may be sent."""
        kind = choice.get("type") if isinstance(choice, dict) else None
        if kind is None:
            return  # none, auto, required
        if kind == "allowed_tools":
            self.tools(choice.get("tools"), "tool_choice.tools")
            return
        present = {t.get("type") for t in tools if isinstance(t, dict)} if tools else set()
        if kind not in present:
            self.tool({"type": kind}, "tool_choice")

    def include(self, values: Any) -> None:
        for i, value in enumerate(values if isinstance(values, list) else ()):
            if value not in _INCLUDE and f"include.{value}" not in self.allowed:
                raise refuse(f"include[{i}]", self.provider, "it is not a known include value")

    def input(self, items: Any) -> None:
        """No references to items or files stored at the upstream, unless allowed."""
        for i, item in enumerate(items if isinstance(items, list) else ()):
            if not isinstance(item, dict):
                continue
            kind = item.get("type")
            reference = kind == "item_reference" or (kind is None and "role" not in item)
            if reference and "input.item_reference" not in self.allowed:
                why = f"it refers to an item stored at the upstream, {_STORED}"
                raise refuse(f"input[{i}]", self.provider, why)
            for field in ("content", "output"):
                self.parts(item.get(field), f"input[{i}].{field}")

    def parts(self, parts: Any, path: str) -> None:
        for j, part in enumerate(parts if isinstance(parts, list) else ()):
            stored = isinstance(part, dict) and part.get("file_id") is not None
            if stored and "input.file_id" not in self.allowed:
                why = f"it refers to a file stored at the upstream, {_STORED}"
                raise refuse(f"{path}[{j}].file_id", self.provider, why)


def _local(tool: Json) -> bool:
    """Whether a shell tool runs on the client (not in a container at the upstream)."""
    environment = tool.get("environment")
    return environment is None or (
        isinstance(environment, dict) and environment.get("type") == "local"
    )
