"""An OpenAI chat completion request as a Gemini GenerateContentRequest."""

from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.checks import Json, array, obj, string
from gatewayz.protocols.fields import Dropped
from gatewayz.protocols.gemini.contents import to_contents
from gatewayz.protocols.gemini.schema import SchemaBudget, root_schema
from gatewayz.protocols.gemini.thinking import thinking_config

_NUMBERS = {
    "temperature": "temperature",
    "top_p": "topP",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}
# max_completion_tokens comes last so that it wins over max_tokens.
_INTEGERS = {
    "n": "candidateCount",
    "seed": "seed",
    "max_tokens": "maxOutputTokens",
    "max_completion_tokens": "maxOutputTokens",
}
_TRANSLATED = frozenset(
    {
        *_NUMBERS,
        *_INTEGERS,
        "messages",
        "tools",
        "tool_choice",
        "stop",
        "response_format",
        "reasoning_effort",
        # false: the adapter keeps the first function call of each answer (see
        # single_call in protocols.gemini.response); Gemini has no such setting to send.
        "parallel_tool_calls",
    }
)
_PASSIVE = frozenset({"model", "stream", "stream_options"})
# Hints and metadata Gemini has no field for: left out, and named (see protocols.fields).
_HINTS = frozenset(
    {
        "user",
        "store",
        "metadata",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "service_tier",
        "verbosity",
    }
)
_NEUTRAL = {"logprobs": False, "modalities": ["text"]}


def chat_to_gemini_request(body: Json, dropped: Dropped | None = None) -> Json:
    """The Gemini GenerateContentRequest for an OpenAI chat completion request;
    `dropped` records the hints a translation leaves out (see protocols.fields)."""
    dropped = dropped or Dropped()
    for field, value in body.items():
        if field in _TRANSLATED or field in _PASSIVE or value is None:
            continue
        if field in _HINTS:
            dropped.drop(field, "Gemini has no equivalent")
        elif field not in _NEUTRAL or _NEUTRAL[field] != value:
            raise InvalidRequest(f"'{field}' is not supported by Gemini models.", param=field)
    if not isinstance(body.get("parallel_tool_calls", True), bool):
        param = "parallel_tool_calls"
        raise InvalidRequest(f"'{param}' must be a boolean.", param=param)
    budget = SchemaBudget()  # for the $refs of every schema of the request together
    system, contents = to_contents(body.get("messages"))
    out: Json = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    names: list[str] = []
    if body.get("tools") is not None:
        declarations = _declarations(body["tools"], budget)
        names = [declaration["name"] for declaration in declarations]
        if declarations:
            out["tools"] = [{"functionDeclarations": declarations}]
    tool_config = _tool_config(body.get("tool_choice"), names)
    if tool_config:
        out["toolConfig"] = tool_config
    config = _generation_config(body, budget)
    if config:
        out["generationConfig"] = config
    return out


def _declarations(tools: Any, budget: SchemaBudget) -> list[Json]:
    """Gemini function declarations for OpenAI function tools."""
    declarations: list[Json] = []
    for k, tool in enumerate(array(tools, "tools")):
        where = f"tools.{k}"
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise InvalidRequest(
                "Only function tools are supported by Gemini models.", param=f"{where}.type"
            )
        function = obj(tool.get("function"), f"{where}.function")
        declaration: dict[str, Any] = {
            "name": string(function.get("name"), f"{where}.function.name")
        }
        if function.get("description") is not None:
            declaration["description"] = string(
                function["description"], f"{where}.function.description"
            )
        if function.get("parameters") is not None:
            path = f"{where}.function.parameters"
            schema = root_schema(function["parameters"], path, budget)
            # Gemini rejects an OBJECT without properties: a function without arguments.
            if schema.get("type") != "OBJECT" or schema.get("properties"):
                declaration["parameters"] = schema
        declarations.append(declaration)
    return declarations


def _tool_config(choice: Any, names: list[str]) -> Json | None:
    """toolConfig for an OpenAI tool_choice; None when there is nothing to say."""
    if choice is None or (choice in ("none", "auto") and not names):
        return None
    if choice in ("none", "auto", "required"):
        if not names:
            raise InvalidRequest("tool_choice 'required' needs tools.", param="tool_choice")
        mode = {"none": "NONE", "auto": "AUTO", "required": "ANY"}[choice]
        return {"functionCallingConfig": {"mode": mode}}
    function = choice.get("function") if isinstance(choice, dict) else None
    if not isinstance(function, dict) or choice.get("type") != "function":
        raise InvalidRequest(
            "tool_choice must be 'none', 'auto', 'required' or a named function for Gemini models.",
            param="tool_choice",
        )
    name = function.get("name")
    if name not in names:
        raise InvalidRequest(
            f"tool_choice names {name!r}, which is not one of the tools.",
            param="tool_choice.function.name",
        )
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}


def _generation_config(body: Json, budget: SchemaBudget) -> Json:
    """generationConfig from the sampling, length, stop and response_format fields."""
    config: Json = {}
    for field, key in _NUMBERS.items():
        value = body.get(field)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidRequest(f"'{field}' must be a number.", param=field)
            config[key] = value
    for field, key in _INTEGERS.items():
        value = body.get(field)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidRequest(f"'{field}' must be an integer.", param=field)
            config[key] = value
    if body.get("reasoning_effort") is not None:
        limit = config.get("maxOutputTokens")
        config["thinkingConfig"] = thinking_config(body["reasoning_effort"], limit)
    stop = body.get("stop")
    if stop is not None:
        stops = [stop] if isinstance(stop, str) else stop
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise InvalidRequest("'stop' must be a string or an array of strings.", param="stop")
        config["stopSequences"] = stops
    response_format = body.get("response_format")
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
    if kind == "json_schema" and isinstance(response_format, dict):
        spec = obj(response_format.get("json_schema"), "response_format.json_schema")
        if spec.get("schema") is not None:
            path = "response_format.json_schema.schema"
            config["responseSchema"] = root_schema(spec["schema"], path, budget)
    elif response_format is not None and kind not in ("text", "json_object"):
        raise InvalidRequest(
            "response_format.type must be text, json_object or json_schema.",
            param="response_format.type",
        )
    return config
