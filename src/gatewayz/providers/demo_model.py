"""What the built-in demo model answers: deterministic text, tool calls and JSON, and the token
counts it reports. Pure functions; providers/demo.py serves them in the OpenAI wire format.

Tokens are counted the same way everywhere: one token per word or punctuation mark, plus
three per message (as chat templates add a few tokens around each message).
"""

import hashlib
import math
import re
import struct
from dataclasses import dataclass
from typing import Any

import orjson

_TOKEN = re.compile(r"\w+|[^\w\s]")
_PIECE = re.compile(r"\S+\s*")
_PER_MESSAGE = 3
_ECHO_WORDS = 30
GREETING = (
    "Hello! This is the Gatewayz demo model. It answers on the gateway itself, so this call "
    "went through your key, credits and request log without any upstream provider."
)


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def prompt_tokens(body: dict[str, Any]) -> int:
    """The tokens of every message, and of the declared tools' definitions."""
    messages = body.get("messages") or []
    total = sum(
        _PER_MESSAGE + count_tokens(text_of(message.get("content")))
        for message in messages
        if isinstance(message, dict)
    )
    for tool in body.get("tools") or ():
        total += count_tokens(str(tool))
    return total


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Answer:
    """One choice of the demo model: text or a tool call, and why it stopped."""

    text: str | None
    tool_call: ToolCall | None
    finish_reason: str

    @property
    def tokens(self) -> int:
        if self.tool_call is not None:
            return count_tokens(self.tool_call.name + " " + self.tool_call.arguments)
        return count_tokens(self.text or "")


def answer(body: dict[str, Any]) -> Answer:
    """The reply to a chat request: a tool call when tools are offered and the last message is
    not a tool result, JSON when JSON is asked for, else a greeting that echoes the user."""
    messages = [m for m in body.get("messages") or () if isinstance(m, dict)]
    last = messages[-1] if messages else {}
    tool = _tool_to_call(body) if last.get("role") != "tool" else None
    if tool is not None:
        arguments = _json_text(example(tool.get("parameters") or {}))
        call = ToolCall("call_demo_" + _digest(arguments)[:12], tool["name"], arguments)
        return Answer(None, call, "tool_calls")
    if last.get("role") == "tool":
        text = f"The tool answered: {_first_words(text_of(last.get('content')))}"
    elif (schema := _json_schema(body)) is not None:
        text = _json_text(example(schema))
    elif _wants_json_object(body):
        text = _json_text({"answer": "demo"})
    else:
        said = _first_words(_last_user_text(messages))
        text = GREETING + (f" You said: {said}" if said else "")
    return _limited(text, _output_limit(body))


def pieces(text: str) -> list[str]:
    """The text as streamed: one word (with the spaces after it) per piece."""
    return _PIECE.findall(text) or [text]


def embedding(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector for `text`."""
    seed = hashlib.sha256(text.encode()).digest()
    values: list[float] = []
    block = 0
    while len(values) < dimensions:
        chunk = hashlib.sha256(seed + block.to_bytes(4, "big")).digest()
        values.extend(v / 2**31 - 1.0 for v in struct.unpack(">8I", chunk))
        block += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def example(schema: Any, depth: int = 0) -> Any:
    """A small value that satisfies a JSON schema (its required properties, first choices)."""
    if not isinstance(schema, dict) or depth > 8:
        return None
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return example(schema[key][0], depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        names = schema.get("required") or list(properties)
        return {name: example(properties.get(name, {}), depth + 1) for name in names}
    if kind == "array":
        return [example(schema.get("items") or {}, depth + 1)]
    return {"string": "demo", "integer": 1, "number": 1, "boolean": True}.get(str(kind))


def _tool_to_call(body: dict[str, Any]) -> dict[str, Any] | None:
    """The function the reply calls: the forced one, else the first, unless choice is none."""
    choice = body.get("tool_choice")
    functions: list[dict[str, Any]] = [
        tool["function"]
        for tool in body.get("tools") or ()
        if isinstance(tool, dict) and isinstance(tool.get("function"), dict)
    ]
    if not functions or choice == "none":
        return None
    if isinstance(choice, dict):
        forced = (choice.get("function") or {}).get("name")
        return next((f for f in functions if f.get("name") == forced), functions[0])
    return functions[0]


def _json_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        return schema if isinstance(schema, dict) else {}
    return None


def _wants_json_object(body: dict[str, Any]) -> bool:
    response_format = body.get("response_format")
    return isinstance(response_format, dict) and response_format.get("type") == "json_object"


def _output_limit(body: dict[str, Any]) -> int | None:
    for field in ("max_completion_tokens", "max_tokens"):
        value = body.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _limited(text: str, limit: int | None) -> Answer:
    """The answer cut to `limit` tokens (finish reason `length`), or whole (`stop`)."""
    if limit is None or count_tokens(text) <= limit:
        return Answer(text, None, "stop")
    kept: list[str] = []
    used = 0
    for piece in pieces(text):
        used += count_tokens(piece)
        if used > limit:
            break
        kept.append(piece)
    return Answer("".join(kept).rstrip(), None, "length")


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return text_of(message.get("content"))
    return ""


def _first_words(text: str) -> str:
    words = text.split()
    return " ".join(words[:_ECHO_WORDS]) + (" ..." if len(words) > _ECHO_WORDS else "")


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
