"""The tools of a CreateResponse as chat function tools, and the names that map calls back.

Function tools pass as they are. A `namespace` groups functions: they reach the model as
functions named `<namespace>__<name>` (shortened with a hash past 64 characters or when the
name is taken), and a call of one comes back as a `function_call` with its `namespace` and
`name`. Hosted tools (web_search, file_search, code_interpreter, mcp, image_generation,
computer use...) run inside OpenAI, which a chat model lacks: each is dropped and named, or
refused with a 400 when `tool_choice` forces it. Other client tools (custom, local_shell,
apply_patch, shell) have no chat form and are refused.
"""

import hashlib
from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.checks import Json, array, obj
from gatewayz.protocols.fields import Dropped
from gatewayz.protocols.responses.common import only, runs_on_client, string_field

SEPARATOR = "__"
_MAX_NAME = 64
_FUNCTION_FIELDS = frozenset({"type", "name", "description", "parameters", "strict"})
_HOSTED = "a hosted tool that runs inside OpenAI, which a chat completions model lacks"


class ToolNames:
    """The chat function name of each function of a request's tools, both ways."""

    def __init__(self, tools: Any) -> None:
        self._chat: dict[tuple[str | None, str], str] = {}
        self._back: dict[str, tuple[str | None, str]] = {}
        listed = tools if isinstance(tools, list) else []
        for tool in listed:
            if isinstance(tool, dict) and tool.get("type") == "function":
                self._add(None, tool.get("name"))
        for tool in listed:
            if isinstance(tool, dict) and tool.get("type") == "namespace":
                inners = tool.get("tools")
                for inner in inners if isinstance(inners, list) else ():
                    if isinstance(inner, dict):
                        self._add(tool.get("name"), inner.get("name"))

    def _add(self, namespace: Any, name: Any) -> None:
        if not isinstance(name, str) or (namespace is not None and not isinstance(namespace, str)):
            return
        chat = name if namespace is None else f"{namespace}{SEPARATOR}{name}"
        if len(chat) > _MAX_NAME or chat in self._back:
            digest = hashlib.sha256(f"{namespace}\0{name}".encode()).hexdigest()[:8]
            chat = f"{chat[: _MAX_NAME - 9]}_{digest}"
        self._chat.setdefault((namespace, name), chat)
        self._back.setdefault(chat, (namespace, name))

    def chat(self, namespace: str | None, name: str) -> str:
        """The chat function name for a function (of a namespace, or at the top level)."""
        return self._chat.get((namespace, name), name)

    def responses(self, chat_name: str) -> tuple[str | None, str]:
        """The (namespace, name) a chat call of `chat_name` stands for."""
        return self._back.get(chat_name, (None, chat_name))

    def of_namespace(self, namespace: str) -> list[str]:
        """The chat names of a namespace's functions."""
        return [chat for (space, _), chat in self._chat.items() if space == namespace]


def chat_tools(body: Json, names: ToolNames, dropped: Dropped) -> list[Json]:
    """The chat tools for the request's tools: functions, namespaces' functions; the hosted
    tools the request does not force are dropped and named."""
    forced = _forced_types(body.get("tool_choice"))
    out: list[Json] = []
    for i, raw in enumerate(array(body["tools"], "tools") if body.get("tools") else []):
        where = f"tools[{i}]"
        tool = obj(raw, where)
        kind = tool.get("type")
        if kind == "function":
            out.append(_function(tool, where, names.chat(None, string_field(tool, "name", where))))
        elif kind == "namespace":
            out += _namespace(tool, where, names)
        elif runs_on_client(tool) or not isinstance(kind, str):
            raise InvalidRequest(
                f"Tools of type '{kind}' cannot be sent to a chat completions model; it can only "
                "call function tools.",
                param=f"{where}.type",
            )
        elif kind in forced:
            raise InvalidRequest(
                f"'tool_choice' forces the '{kind}' tool, {_HOSTED}.", param="tool_choice"
            )
        else:
            dropped.drop(f"tools.{i}", _HOSTED)
    return out


def _function(tool: Json, where: str, chat_name: str, preamble: str | None = None) -> Json:
    """A chat function tool for a Responses function tool."""
    only(tool, _FUNCTION_FIELDS, where)
    function: Json = {"name": chat_name}
    description = tool.get("description")
    if preamble:
        description = f"{preamble}\n\n{description}" if description else preamble
    if description is not None:
        function["description"] = description
    function.update(
        {key: tool[key] for key in ("parameters", "strict") if tool.get(key) is not None}
    )
    return {"type": "function", "function": function}


def _namespace(tool: Json, where: str, names: ToolNames) -> list[Json]:
    """The functions of a namespace, named `<namespace>__<name>`, its description first."""
    only(tool, frozenset({"type", "name", "description", "tools"}), where)
    namespace = string_field(tool, "name", where)
    functions = []
    for j, raw in enumerate(array(tool.get("tools"), f"{where}.tools")):
        inner_where = f"{where}.tools[{j}]"
        inner = obj(raw, inner_where)
        if inner.get("type") != "function":
            raise InvalidRequest(
                f"Tools of type '{inner.get('type')}' cannot be sent to a chat completions "
                "model; it can only call function tools.",
                param=f"{inner_where}.type",
            )
        name = names.chat(namespace, string_field(inner, "name", inner_where))
        functions.append(_function(inner, inner_where, name, tool.get("description")))
    return functions


def _forced_types(choice: Any) -> frozenset[str]:
    """The tool types a tool_choice forces: the one it names, or the allowed tools it
    requires a call of when none of them runs on the client."""
    if not isinstance(choice, dict):
        return frozenset()
    if choice.get("type") != "allowed_tools":
        return frozenset({str(choice.get("type"))})
    tools = [t for t in choice.get("tools") or () if isinstance(t, dict)]
    if choice.get("mode") != "required" or any(runs_on_client(t) for t in tools):
        return frozenset()
    return frozenset(str(t.get("type")) for t in tools)


def chat_tool_choice(
    choice: Any, tools: list[Json], names: ToolNames, dropped: Dropped
) -> str | Json | None:
    """The chat tool_choice; one that needs tools is refused when none reach the model."""
    if choice is None or choice in ("none", "auto"):
        return None if choice is None else str(choice)
    if not tools:
        raise InvalidRequest("'tool_choice' requires function tools.", param="tool_choice")
    if choice == "required":
        return "required"
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "function":
        only(choice, frozenset({"type", "name"}), "tool_choice")
        name = names.chat(None, string_field(choice, "name", "tool_choice"))
        return {"type": "function", "function": {"name": name}}
    if kind == "allowed_tools":
        return _allowed_tools(choice, names, dropped)
    if isinstance(kind, str) and not runs_on_client({"type": kind}):
        raise InvalidRequest(
            f"'tool_choice' forces the '{kind}' tool, {_HOSTED}.", param="tool_choice"
        )
    raise InvalidRequest(
        "'tool_choice' must be none, auto, required, a function or allowed function tools.",
        param="tool_choice",
    )


def _allowed_tools(choice: Json, names: ToolNames, dropped: Dropped) -> Json:
    only(choice, frozenset({"type", "mode", "tools"}), "tool_choice")
    if choice.get("mode") not in ("auto", "required"):
        raise InvalidRequest(
            "'tool_choice.mode' must be auto or required.", param="tool_choice.mode"
        )
    allowed: list[Json] = []
    for i, raw in enumerate(array(choice.get("tools"), "tool_choice.tools")):
        where = f"tool_choice.tools[{i}]"
        tool = obj(raw, where)
        if tool.get("type") == "function":
            name = names.chat(None, string_field(tool, "name", where))
            allowed.append({"type": "function", "function": {"name": name}})
        elif tool.get("type") == "namespace":
            namespace = string_field(tool, "name", where)
            allowed += [
                {"type": "function", "function": {"name": chat}}
                for chat in names.of_namespace(namespace)
            ]
        elif runs_on_client(tool):
            raise InvalidRequest(
                f"'{where}.type' must name function tools for a chat completions model.",
                param=f"{where}.type",
            )
        else:
            dropped.drop(f"tool_choice.tools.{i}", _HOSTED)
    if not allowed:
        raise InvalidRequest(
            "'tool_choice.tools' names no function tool a chat completions model can call.",
            param="tool_choice.tools",
        )
    return {"type": "allowed_tools", "allowed_tools": {"mode": choice["mode"], "tools": allowed}}
