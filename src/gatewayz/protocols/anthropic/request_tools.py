"""Anthropic tools and tool choice in a Messages request, as OpenAI chat function tools.

A custom tool (no `type`, or `custom`) becomes a function. Left out, and named by path
(`tools.3`): a tool with `defer_loading: true` (on Anthropic the model sees it only once its
tool search finds it, which no other upstream runs), and Anthropic's own tool types: server
tools (web search, code execution, ...) run by Anthropic, and client tools whose schema only
Anthropic knows (`bash_20250124`, `text_editor_...`, `computer_...`, `memory_...`); a tool
choice that forces one of them is refused (400). `input_examples`, `eager_input_streaming`
and `cache_control` are hints, dropped by path.
"""

from typing import Any

from gatewayz.protocols.anthropic.common import at, only
from gatewayz.protocols.checks import Json, array, obj, refuse, string
from gatewayz.protocols.fields import Dropped

_TOOL_FIELDS = frozenset({"type", "name", "description", "input_schema", "strict"})
_TOOL_HINTS = {
    "input_examples": "OpenAI chat tools take no examples",
    "eager_input_streaming": "OpenAI chat streams every tool call's arguments",
}


def chat_tools(tools: Any, choice: Any, dropped: Dropped) -> list[Json]:
    """The function tools for a Messages request's `tools`."""
    forced = (
        choice.get("name") if isinstance(choice, dict) and choice.get("type") == "tool" else None
    )
    out: list[Json] = []
    for i, raw in enumerate(array(tools, "tools")):
        path = f"tools.{i}"
        tool = obj(raw, path)
        kind = tool.get("type")
        if kind not in (None, "custom"):
            if forced is not None and tool.get("name") == forced:
                raise refuse(at(path, "type"), "is a tool the OpenAI chat API cannot run.")
            dropped.drop(path, f"'{kind}' is a tool only Anthropic runs or knows the schema of")
        elif tool.get("defer_loading") is True:
            dropped.drop(path, "a deferred tool is found only by Anthropic's tool search")
        else:
            out.append(_chat_tool(tool, path, dropped))
    return out


def _chat_tool(tool: Json, path: str, dropped: Dropped) -> Json:
    for key, why in _TOOL_HINTS.items():
        if tool.get(key) not in (None, [], False):
            dropped.drop(at(path, key), why)
    allowed = _TOOL_FIELDS | set(_TOOL_HINTS) | {"defer_loading"}
    only(tool, frozenset(allowed), path, "OpenAI chat", dropped)
    function: Json = {
        "name": string(tool.get("name"), at(path, "name")),
        "parameters": obj(tool.get("input_schema"), at(path, "input_schema")),
    }
    if tool.get("description") is not None:
        function["description"] = string(tool["description"], at(path, "description"))
    if tool.get("strict") is not None:
        function["strict"] = bool(tool["strict"])
    return {"type": "function", "function": function}


def chat_tool_choice(choice: Json) -> tuple[str | Json, bool]:
    """The OpenAI tool_choice, and whether parallel tool calls are disabled."""
    allowed = frozenset({"type", "name", "disable_parallel_tool_use"})
    only(choice, allowed, "tool_choice", "OpenAI chat")
    kind = choice.get("type")
    serial = bool(choice.get("disable_parallel_tool_use"))
    if kind == "tool":
        name = string(choice.get("name"), "tool_choice.name")
        return {"type": "function", "function": {"name": name}}, serial
    modes = {"auto": "auto", "any": "required", "none": "none"}
    if kind not in modes:
        raise refuse("tool_choice.type", "must be 'auto', 'any', 'tool' or 'none'.")
    return modes[kind], serial
