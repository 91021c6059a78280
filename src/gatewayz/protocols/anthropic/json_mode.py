"""OpenAI's JSON mode (`response_format: {"type": "json_object"}`) for Anthropic models.

Anthropic's structured outputs take only schemas whose objects are closed
(`additionalProperties: false`), which "any JSON object" is not, and its newer models refuse
a prefilled answer; so JSON mode is a forced tool: `json_answer` (with `_` added while the
request declares a tool of that name), whose input is any JSON object. The call's input comes
back as the answer's text and its stop as `stop`, so the client parses JSON as it would from
OpenAI. Beside the client's own tools with `tool_choice` auto (or unset), the model must call
a tool, one of the client's or the JSON one (`tool_choice: any`); `none` forces the JSON tool;
`required` or a named function leaves JSON mode nothing to do (the answer is a tool call).
"""

from typing import Any

from gatewayz.protocols.checks import Json

JSON_TOOL = "json_answer"
_DESCRIPTION = "Give your whole answer with this tool: its input is the answer, a JSON object."


def json_tool(body: Json) -> str | None:
    """The name of the JSON mode tool for a chat request (None: no JSON mode tool)."""
    response_format = body.get("response_format")
    if not isinstance(response_format, dict) or response_format.get("type") != "json_object":
        return None
    if body.get("tool_choice") not in (None, "auto", "none"):
        return None
    names = {_tool_name(tool) for tool in body.get("tools") or ()}
    name = JSON_TOOL
    while name in names:
        name += "_"
    return name


def _tool_name(tool: Any) -> Any:
    function = tool.get("function") if isinstance(tool, dict) else None
    return function.get("name") if isinstance(function, dict) else None


def with_json_tool(request: Json, name: str, client_choice: Any) -> None:
    """Add the JSON mode tool to an Anthropic request and make the model call a tool."""
    declaration = {"name": name, "description": _DESCRIPTION, "input_schema": {"type": "object"}}
    tools = request.get("tools") or []
    choice = request.get("tool_choice") or {}
    serial = {"disable_parallel_tool_use": True} if choice.get("disable_parallel_tool_use") else {}
    if tools and client_choice != "none":
        request["tool_choice"] = {"type": "any", **serial}
    else:
        request["tool_choice"] = {"type": "tool", "name": name}
    request["tools"] = [*tools, declaration]
