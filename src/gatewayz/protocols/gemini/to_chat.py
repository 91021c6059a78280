"""A Gemini GenerateContentRequest as an OpenAI chat completion request, for upstreams of
other formats.

Translated: contents, systemInstruction, function declarations and toolConfig, and in
generationConfig the sampling fields, candidateCount (`n`), maxOutputTokens, stopSequences,
seed, the penalties, JSON output (`responseMimeType`, `responseSchema`,
`responseJsonSchema` -> `response_format`) and thinkingConfig (-> `reasoning_effort`, see
protocols.gemini.thinking). Hints left out and named: safetySettings, labels, topK,
mediaResolution and the like; tools Gemini runs itself (Google Search, code execution, URL
context, ...) are capabilities other upstreams lack, left out and named too. What changes the
answer the client parses (logprobs, audio or image output, stored cachedContent) is refused.
"""

from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.checks import Json
from gatewayz.protocols.fields import Dropped
from gatewayz.protocols.gemini.json_schema import json_schema
from gatewayz.protocols.gemini.messages import chat_messages, system_text
from gatewayz.protocols.gemini.thinking import reasoning_effort

_SAME = {
    "temperature": "temperature",
    "topP": "top_p",
    "candidateCount": "n",
    "maxOutputTokens": "max_tokens",
    "seed": "seed",
    "presencePenalty": "presence_penalty",
    "frequencyPenalty": "frequency_penalty",
}
_CONFIG_HINTS = frozenset(
    {"topK", "mediaResolution", "audioTimestamp", "enableEnhancedCivicAnswers",
     "routingConfig", "modelSelectionConfig", "enableAffectiveDialog"}
)  # fmt: skip
_TOP_HINTS = {"safetySettings": "safety settings", "labels": "labels"}
_FIELDS = frozenset({"contents", "systemInstruction", "tools", "toolConfig", "generationConfig"})


def _refuse(path: str, why: str) -> InvalidRequest:
    return InvalidRequest(f"'{path}' {why}", param=path)


def gemini_to_chat_request(body: Json, model: str, dropped: Dropped) -> Json:
    """The chat request for a Gemini request to `model`; `dropped` records the hints left
    out (see protocols.fields)."""
    for key, value in body.items():
        if key in _TOP_HINTS:
            dropped.drop(key, f"the upstream has no {_TOP_HINTS[key]}")
        elif key == "cachedContent" and value:
            raise _refuse(key, "is content stored at Google, which other upstreams cannot read.")
        elif key not in _FIELDS and key != "cachedContent":
            raise _refuse(key, "is not a field of GenerateContentRequest this gateway knows.")
    messages = chat_messages(body.get("contents"), dropped)
    if body.get("systemInstruction") is not None:
        messages.insert(0, {"role": "system", "content": system_text(body["systemInstruction"])})
    out: Json = {"model": model, "messages": messages}
    names = _tools(body.get("tools"), out, dropped)
    choice = _tool_choice(body.get("toolConfig"), names, out, dropped)
    if choice is not None:
        out["tool_choice"] = choice
    config = body.get("generationConfig")
    if config is not None:
        if not isinstance(config, dict):
            raise _refuse("generationConfig", "must be an object.")
        out.update(_generation_config(config, dropped))
    return out


def _tools(tools: Any, out: Json, dropped: Dropped) -> list[str]:
    """Chat function tools for the function declarations; the names declared."""
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise _refuse("tools", "must be an array.")
    chat_tools: list[Json] = []
    for k, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise _refuse(f"tools.{k}", "must be an object.")
        for kind, value in tool.items():
            if kind != "functionDeclarations":
                dropped.drop(f"tools.{k}.{kind}", "a tool Gemini runs itself")
                continue
            if not isinstance(value, list):
                raise _refuse(f"tools.{k}.{kind}", "must be an array.")
            for j, declaration in enumerate(value):
                chat_tools.append(_function(declaration, f"tools.{k}.{kind}.{j}", dropped))
    if chat_tools:
        out["tools"] = chat_tools
    return [tool["function"]["name"] for tool in chat_tools]


def _function(declaration: Any, path: str, dropped: Dropped) -> Json:
    if not isinstance(declaration, dict) or not isinstance(declaration.get("name"), str):
        raise _refuse(f"{path}.name", "must be a function name.")
    function: Json = {"name": declaration["name"]}
    if isinstance(declaration.get("description"), str):
        function["description"] = declaration["description"]
    if declaration.get("parametersJsonSchema") is not None:
        function["parameters"] = declaration["parametersJsonSchema"]
    elif declaration.get("parameters") is not None:
        function["parameters"] = json_schema(declaration["parameters"], f"{path}.parameters")
    else:
        function["parameters"] = {"type": "object", "properties": {}}
    for key in ("response", "responseJsonSchema", "behavior"):
        if declaration.get(key) is not None:
            dropped.drop(f"{path}.{key}", "chat tools declare no result schema")
    return {"type": "function", "function": function}


def _tool_choice(config: Any, names: list[str], out: Json, dropped: Dropped) -> Any:
    """The chat tool_choice for toolConfig.functionCallingConfig (None: the default)."""
    if config is None:
        return None
    if not isinstance(config, dict):
        raise _refuse("toolConfig", "must be an object.")
    for key in config:
        if key != "functionCallingConfig":
            dropped.drop(f"toolConfig.{key}", "the upstream has no equivalent")
    calling = config.get("functionCallingConfig") or {}
    mode = calling.get("mode", "AUTO")
    allowed = calling.get("allowedFunctionNames")
    if mode in ("AUTO", "VALIDATED", "MODE_UNSPECIFIED"):
        return "auto" if names else None
    if mode == "NONE":
        return "none" if names else None
    if mode != "ANY":
        raise _refuse("toolConfig.functionCallingConfig.mode", "must be AUTO, ANY or NONE.")
    if not names:
        raise _refuse("toolConfig.functionCallingConfig.mode", "ANY needs function declarations.")
    if allowed:
        unknown = [name for name in allowed if name not in names]
        if unknown:
            where = "toolConfig.functionCallingConfig.allowedFunctionNames"
            raise _refuse(where, f"names {unknown[0]!r}, which is not a declared function.")
        if len(allowed) == 1:
            return {"type": "function", "function": {"name": allowed[0]}}
        out["tools"] = [t for t in out["tools"] if t["function"]["name"] in allowed]
    return "required"


def _generation_config(config: Json, dropped: Dropped) -> Json:
    out: Json = {}
    for key, value in config.items():
        path = f"generationConfig.{key}"
        if value is None:
            continue
        if key in _SAME:
            out[_SAME[key]] = value
        elif key == "stopSequences":
            out["stop"] = value
        elif key in _CONFIG_HINTS:
            dropped.drop(path, "the upstream has no equivalent")
        elif key == "thinkingConfig":
            effort = reasoning_effort(value, path, dropped)
            if effort is not None:
                out["reasoning_effort"] = effort
        elif key == "responseModalities":
            if value not in (["TEXT"], ["text"], []):
                raise _refuse(path, "may only ask for TEXT from this model.")
        elif key in ("responseLogprobs", "logprobs"):
            if value not in (False, 0):
                raise _refuse(path, "cannot be answered through this model's format.")
        elif key not in ("responseMimeType", "responseSchema", "responseJsonSchema"):
            raise _refuse(path, "cannot be sent to this model.")
    response_format = _response_format(config)
    if response_format is not None:
        out["response_format"] = response_format
    return out


def _response_format(config: Json) -> Json | None:
    """response_format for JSON output: a schema when one is given, else JSON mode."""
    mime = config.get("responseMimeType")
    if mime not in (None, "text/plain", "application/json"):
        where = "generationConfig.responseMimeType"
        raise _refuse(where, "must be text/plain or application/json.")
    schema = config.get("responseJsonSchema")
    if schema is None and config.get("responseSchema") is not None:
        schema = json_schema(config["responseSchema"], "generationConfig.responseSchema")
    if schema is not None:
        return {"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}
    return {"type": "json_object"} if mime == "application/json" else None
