"""Anthropic Messages requests in: the checks every route relies on, and the OpenAI chat
request for one (served by an OpenAI-compatible or Gemini upstream).

Mapped: thinking and `output_config.effort` to `reasoning_effort` (see
protocols.anthropic.thinking), `metadata.user_id` to `user`, a structured output format to
`response_format`, thinking blocks the gateway signed back to the reasoning field of the
provider that wrote them (see protocols.anthropic.signature). Dropped and named: every
`cache_control`, `context_management`, other `metadata`, a `service_tier` above the default,
tools the model would not see on Anthropic either (`defer_loading`), Anthropic's own tool
types (server tools, and client tools whose schema only Anthropic knows) unless the tool
choice forces one (a 400), tool hints (`input_examples`, `eager_input_streaming`), and
thinking that cannot go back (Anthropic's own, redacted, or another provider's) as
`messages.*.content.*.thinking` and `.redacted_thinking`, one name for all of a request's.
"""

import json
from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.anthropic.common import at, only, text_block, typed
from gatewayz.protocols.anthropic.request_tools import chat_tool_choice, chat_tools
from gatewayz.protocols.anthropic.signature import read
from gatewayz.protocols.anthropic.thinking import chat_effort
from gatewayz.protocols.checks import Json, array, obj, refuse, string
from gatewayz.protocols.fields import Dropped
from gatewayz.protocols.json_body import MAX_OUTPUT_TOKENS, bounded_int, decode_object

_MESSAGES_FIELDS = frozenset(
    [
        "model",
        "messages",
        "max_tokens",
        "system",
        "stop_sequences",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "metadata",
        "tools",
        "tool_choice",
        "thinking",
        "output_config",
        "context_management",
        "service_tier",
    ]
)
_DEFAULT_TIERS = frozenset({"auto", "standard_only"})
_OLD_THINKING = "messages.*.content.*.thinking"
_OLD_REDACTED = "messages.*.content.*.redacted_thinking"
_CHAT = "OpenAI chat"


def parse_messages_request(raw: bytes) -> Json:
    """Decode a Messages request and check what every route relies on, native or not."""
    body = decode_object(raw)
    bounded_int(body, "max_tokens", MAX_OUTPUT_TOKENS, required=True)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: must be a non-empty array.", param="messages")
    if not isinstance(body.get("stream", False), bool):
        raise InvalidRequest("stream: must be a boolean.", param="stream")
    return body


def parse_count_tokens_request(raw: bytes) -> Json:
    """Decode a token count request (a Messages request without `max_tokens`)."""
    body = decode_object(raw)
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise InvalidRequest("model: must be a non-empty string.", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: must be a non-empty array.", param="messages")
    return body


def messages_to_chat_request(
    body: Json, dropped: Dropped | None = None, reasoning_for: str | None = None
) -> Json:
    """An Anthropic Messages request as an OpenAI chat completion request; `dropped` records
    the hints a translation leaves out (see protocols.fields). Thinking blocks the gateway
    signed for the provider `reasoning_for` go back as its reasoning field."""
    return _ToChat(dropped or Dropped(), reasoning_for).request(body)


class _ToChat:
    def __init__(self, dropped: Dropped, reasoning_for: str | None) -> None:
        self.dropped = dropped
        self.reasoning_for = reasoning_for

    def request(self, body: Json) -> Json:
        only(body, _MESSAGES_FIELDS, "", _CHAT, self.dropped)
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise refuse("max_tokens", "is required and must be a positive integer.")
        messages = array(body.get("messages"), "messages")
        if not messages:
            raise refuse("messages", "must not be empty.")
        chat: list[Json] = []
        if body.get("system") not in (None, "", []):
            chat.append({"role": "system", "content": self.text(body["system"], "system")})
        for i, message in enumerate(messages):
            chat.extend(self.messages(message, f"messages.{i}"))
        out: Json = {"model": string(body.get("model"), "model"), "messages": chat}
        out["max_tokens"] = max_tokens
        for key in ("temperature", "top_p", "top_k", "stream"):
            if body.get(key) is not None:
                out[key] = body[key]
        if body.get("stop_sequences"):
            stops = enumerate(array(body["stop_sequences"], "stop_sequences"))
            out["stop"] = [string(s, f"stop_sequences.{i}") for i, s in stops]
        self.hints(body, out)
        self.tools(body, out)
        effort = chat_effort(body, self.dropped)
        if effort is not None:
            out["reasoning_effort"] = effort
        if body.get("output_config") is not None:
            response_format = _chat_response_format(obj(body["output_config"], "output_config"))
            if response_format is not None:
                out["response_format"] = response_format
        return out

    def tools(self, body: Json, out: Json) -> None:
        """The function tools and the tool choice (none when no tool is left)."""
        tools = []
        if body.get("tools") is not None:
            tools = chat_tools(body["tools"], body.get("tool_choice"), self.dropped)
        if tools:
            out["tools"] = tools
        if body.get("tool_choice") is None:
            return
        choice, serial = chat_tool_choice(obj(body["tool_choice"], "tool_choice"))
        if body.get("tools") and not tools:  # every tool was left out
            if choice not in ("auto", "none"):
                raise refuse("tool_choice", "forces a tool, but no tool can be sent.")
            return
        out["tool_choice"] = choice
        if serial:
            out["parallel_tool_calls"] = False

    def hints(self, body: Json, out: Json) -> None:
        """The user id as `user`; the other hints are dropped."""
        if body.get("metadata") is not None:
            metadata = obj(body["metadata"], "metadata")
            for key, value in metadata.items():
                if key != "user_id" and value is not None:
                    self.dropped.drop(f"metadata.{key}", "OpenAI chat takes only a user id")
            if metadata.get("user_id") is not None:
                out["user"] = string(metadata["user_id"], "metadata.user_id")
        if body.get("context_management") is not None:
            self.dropped.drop("context_management", "the edits are not made: all is sent")
        if body.get("service_tier") not in (None, *_DEFAULT_TIERS):
            self.dropped.drop("service_tier", "the upstream's tier is the provider row's")

    def text(self, content: Any, path: str) -> str | list[Json]:
        """Anthropic text (a string or text blocks) as OpenAI message content."""
        if isinstance(content, str):
            return content
        parts = []
        for j, raw in enumerate(array(content, path)):
            block, kind = typed(raw, at(path, j))
            if kind != "text":
                raise refuse(at(at(path, j), "type"), f"'{kind}' has no OpenAI chat equivalent.")
            parts.append(self.text_part(block, at(path, j)))
        return _collapse(parts)

    def text_part(self, block: Json, path: str) -> Json:
        return {"type": "text", "text": text_block(block, path, _CHAT, self.dropped)}

    def messages(self, message: Any, path: str) -> list[Json]:
        """One Anthropic message as OpenAI messages (a user turn's tool results come first,
        images of tool results right after them)."""
        message = obj(message, path)
        only(message, frozenset({"role", "content"}), path, _CHAT, self.dropped)
        role, content = message.get("role"), message.get("content")
        content_path = at(path, "content")
        if role == "system":
            return [{"role": "system", "content": self.text(content, content_path)}]
        if role == "assistant":
            reply = self.assistant(content, content_path)
            return [] if reply is None else [reply]
        if role != "user":
            raise refuse(at(path, "role"), "must be 'user', 'assistant' or 'system'.")
        if isinstance(content, str):
            return [{"role": "user", "content": content}]
        results: list[Json] = []
        parts: list[Json] = []
        for j, raw in enumerate(array(content, content_path)):
            block_path = at(content_path, j)
            block, kind = typed(raw, block_path)
            if kind == "tool_result":
                result, images = self.tool_result(block, block_path)
                results.append(result)
                parts = images + parts
            elif kind == "text":
                parts.append(self.text_part(block, block_path))
            elif kind == "image":
                parts.append(self.image(block, block_path))
            else:
                raise refuse(at(block_path, "type"), f"'{kind}' has no OpenAI chat equivalent.")
        if not results and not parts:
            raise refuse(content_path, "must not be empty.")
        return results + ([{"role": "user", "content": _collapse(parts)}] if parts else [])

    def assistant(self, content: Any, path: str) -> Json | None:
        """An assistant message (None when all it held was thinking that was dropped)."""
        if isinstance(content, str):
            return {"role": "assistant", "content": content}
        texts: list[Json] = []
        calls: list[Json] = []
        reasoning: dict[str, list[str]] = {}
        for j, raw in enumerate(array(content, path)):
            block, kind = typed(raw, at(path, j))
            if kind == "text":
                texts.append(self.text_part(block, at(path, j)))
            elif kind == "tool_use":
                calls.append(self.tool_call(block, at(path, j)))
            elif kind == "thinking":
                self.thinking(block, reasoning)
            elif kind == "redacted_thinking":
                self.dropped.drop(_OLD_REDACTED, "only Anthropic can read redacted thinking")
            else:
                raise refuse(at(at(path, j), "type"), f"'{kind}' has no OpenAI chat equivalent.")
        if not texts and not calls and not reasoning:
            if content:
                return None
            raise refuse(path, "must not be empty.")
        message: Json = {"role": "assistant", "content": _collapse(texts) if texts else None}
        if not texts and not calls:
            message["content"] = ""
        message.update({field: "".join(parts) for field, parts in reasoning.items()})
        if calls:
            message["tool_calls"] = calls
        return message

    def thinking(self, block: Json, reasoning: dict[str, list[str]]) -> None:
        """A thinking block sent back: its provider's reasoning again, or dropped."""
        signed = read(block.get("signature"))
        if signed is None or self.reasoning_for is None or signed.provider != self.reasoning_for:
            why = "thinking goes back only to the provider that wrote it"
            self.dropped.drop(_OLD_THINKING, why)
            return
        reasoning.setdefault(signed.field, []).append(signed.text)

    def tool_call(self, block: Json, path: str) -> Json:
        only(block, frozenset({"type", "id", "name", "input"}), path, _CHAT, self.dropped)
        arguments = json.dumps(obj(block.get("input"), at(path, "input")), ensure_ascii=False)
        name = string(block.get("name"), at(path, "name"))
        return {
            "id": string(block.get("id"), at(path, "id")),
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }

    def tool_result(self, block: Json, path: str) -> tuple[Json, list[Json]]:
        """The tool message for a tool_result, and its images (a tool message takes only
        text: they follow in a user message)."""
        allowed = frozenset({"type", "tool_use_id", "content", "is_error"})
        only(block, allowed, path, _CHAT, self.dropped)
        raw = block.get("content", "")
        images: list[Json] = []
        if isinstance(raw, list):
            content_path = at(path, "content")
            kept = []
            for j, part in enumerate(raw):
                if isinstance(part, dict) and part.get("type") == "image":
                    images.append(self.image(part, at(content_path, j)))
                else:
                    kept.append(part)
            raw = kept or ""
        content = self.text(raw, at(path, "content"))
        if block.get("is_error"):
            if isinstance(content, str):
                content = f"Error: {content}"
            else:
                content = [{"type": "text", "text": "Error: "}, *content]
        tool_call_id = string(block.get("tool_use_id"), at(path, "tool_use_id"))
        return {"role": "tool", "tool_call_id": tool_call_id, "content": content}, images

    def image(self, block: Json, path: str) -> Json:
        only(block, frozenset({"type", "source"}), path, _CHAT, self.dropped)
        source, kind = typed(block.get("source"), at(path, "source"))
        if kind == "base64":
            media_type = string(source.get("media_type"), at(path, "source.media_type"))
            data = string(source.get("data"), at(path, "source.data"))
            url = f"data:{media_type};base64,{data}"
        elif kind == "url":
            url = string(source.get("url"), at(path, "source.url"))
        else:
            raise refuse(at(path, "source.type"), f"'{kind}' has no OpenAI chat equivalent.")
        return {"type": "image_url", "image_url": {"url": url}}


def _collapse(parts: list[Json]) -> str | list[Json]:
    """One text part as a plain string, anything else as the list of parts."""
    if len(parts) == 1 and parts[0]["type"] == "text":
        return str(parts[0]["text"])
    return parts


def _chat_response_format(config: Json) -> Json | None:
    only(config, frozenset({"format", "effort"}), "output_config", _CHAT)
    if config.get("format") is None:
        return None
    fmt = obj(config["format"], "output_config.format")
    if fmt.get("type") != "json_schema":
        raise refuse("output_config.format.type", "must be 'json_schema'.")
    schema = obj(fmt.get("schema"), "output_config.format.schema")
    return {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": True},
    }
