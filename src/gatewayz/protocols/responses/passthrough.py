"""A CreateResponse as it is passed through to a provider serving the Responses API natively.

Every field is one the gateway understands and bills (its cost is in the tokens the answer's
usage reports, held before the call as the request's size plus its output limit), one the
provider row allows in `passthrough_fields`, or refused with a 400 naming it. Refused unless
allowed: what makes the upstream read what it stores (previous_response_id, conversation,
prompt, item references, stored files), keep what it answers (`store: true`), or bill work
of its own (compaction, moderation, a service tier above the model's price). A hosted tool
(web search, file search, code interpreter, MCP...) the row does not allow is a capability the
client cannot have through it: dropped and named (see protocols.fields), or refused when
`tool_choice` forces it. `background: true` is always refused: the gateway would never see the
response finish.
"""

from typing import Any

from gatewayz.protocols.checks import Json
from gatewayz.protocols.fields import Dropped
from gatewayz.protocols.passthrough import family, refuse, tool_allowed
from gatewayz.protocols.responses.common import INCLUDE, runs_on_client

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


def native_request(
    body: Json, model: str, provider: str, allowed: frozenset[str], dropped: Dropped | None = None
) -> Json:
    """The body to send `provider` (its own model id, nothing stored unless allowed, the hosted
    tools it may not run left out and named in `dropped`), or InvalidRequest naming the first
    field that cannot be passed through."""
    policy = _Policy(provider, allowed, dropped)
    for key, value in body.items():
        if value is not None and key not in allowed:
            policy.field(key, value, body)
    out = {**body, "model": model}
    if policy.left_out:
        out["tools"] = [t for i, t in enumerate(body["tools"]) if i not in policy.left_out]
    if body.get("store") is None and "store" not in allowed:
        out["store"] = False  # the upstream's default is to keep the response
    return out


class _Policy:
    def __init__(self, provider: str, allowed: frozenset[str], dropped: Dropped | None) -> None:
        self.provider = provider
        self.allowed = allowed
        self.dropped = dropped
        self.left_out: set[int] = set()  # indexes of the top-level tools dropped

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
            self.top_level_tools(value, body.get("tool_choice"))
        elif key == "tool_choice":
            self.tool_choice(value, body.get("tools"))
        elif key == "include":
            self.include(value)
        elif key == "input":
            self.input(value)

    def top_level_tools(self, tools: Any, choice: Any) -> None:
        """The request's tools: a hosted one the row does not allow is dropped, unless
        `tool_choice` forces it (or drops are not recorded)."""
        forced = choice.get("type") if isinstance(choice, dict) else None
        for i, tool in enumerate(tools if isinstance(tools, list) else ()):
            if self.dropped is None or self.passes(tool) or tool.get("type") == forced:
                self.tool(tool, f"tools[{i}]")
                continue
            why = f"'{family(tool['type'])}' tools run at the upstream, which bills their use"
            self.dropped.drop(f"tools.{i}", why)
            self.left_out.add(i)

    def tools(self, tools: Any, path: str) -> None:
        for i, tool in enumerate(tools if isinstance(tools, list) else ()):
            self.tool(tool, f"{path}[{i}]")

    def passes(self, tool: Any) -> bool:
        """Whether a tool may be sent: one without a type (refused later), a tool the client
        runs, or a hosted one the provider row allows."""
        kind = tool.get("type") if isinstance(tool, dict) else None
        return not isinstance(kind, str) or runs_on_client(tool) or tool_allowed(kind, self.allowed)

    def tool(self, tool: Any, path: str) -> None:
        """A tool the client runs, or a hosted one the provider row allows."""
        kind = tool.get("type") if isinstance(tool, dict) else None
        if not isinstance(kind, str):
            raise refuse(f"{path}.type", self.provider, "a tool needs its type")
        if kind == "namespace":
            self.tools(tool.get("tools"), f"{path}.tools")
        if not self.passes(tool):
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
            if value not in INCLUDE and f"include.{value}" not in self.allowed:
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
