"""What a request's input holds beyond plain text, in any wire format: media parts (an image,
a file or audio costs more tokens than its bytes suggest) and tool declarations (a provider
adds its own tool-use instructions to the prompt)."""

from typing import Any

# Content parts whose tokens their bytes do not bound: OpenAI chat `image_url`, `input_audio`
# and `file`; Responses `input_image`, `input_file` and `input_audio`; Anthropic `image` and
# `document`. Gemini parts carry theirs under `inlineData` or `fileData`.
_MEDIA_TYPES = frozenset(
    {"image_url", "input_image", "input_audio", "file", "input_file", "image", "document"}
)
_MEDIA_KEYS = ("inlineData", "fileData", "inline_data", "file_data")
# Top-level fields that hold schemas and settings, never input content.
_NOT_INPUT = frozenset({"tools", "tool_choice", "response_format", "text", "output_config"})


def media_parts(body: dict[str, Any]) -> int:
    """How many image, file and audio parts the request's input holds, wherever they are
    nested (in a tool result, for one)."""
    count = 0
    pending = [value for key, value in body.items() if key not in _NOT_INPUT]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(item for item in node if isinstance(item, dict | list))
        elif isinstance(node, dict):
            if node.get("type") in _MEDIA_TYPES or any(key in node for key in _MEDIA_KEYS):
                count += 1  # one part, however its source is spelled inside it
            else:
                pending.extend(item for item in node.values() if isinstance(item, dict | list))
    return count


def declares_tools(body: dict[str, Any]) -> bool:
    """Whether the request declares tools (`tools` in every wire format)."""
    tools = body.get("tools")
    return isinstance(tools, list) and bool(tools)
