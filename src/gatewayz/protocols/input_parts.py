"""What a request's input holds beyond plain text, in any wire format: media parts (an image,
a file or audio costs more tokens than its bytes suggest) and tool declarations (a provider
adds its own tool-use instructions to the prompt)."""

from typing import Any

# Content parts whose tokens their bytes do not bound: OpenAI chat `image_url`, `input_audio`
# and `file`; Responses `input_image`, `input_file`, `input_audio` and `computer_screenshot`;
# Anthropic `image` and `document`. Gemini parts carry theirs under `inlineData`/`fileData`.
_MEDIA_TYPES = frozenset(
    {
        "image_url",
        "input_image",
        "input_audio",
        "computer_screenshot",
        "file",
        "input_file",
        "image",
        "document",
    }
)
_MEDIA_KEYS = ("inlineData", "fileData", "inline_data", "file_data")
# Where input content lives: at the top of a request in each format, then inside messages,
# items and blocks (a tool result's content, a function call's output, Gemini's parts).
_INPUT = ("messages", "input", "system", "contents", "systemInstruction", "system_instruction")
_NESTED = ("content", "parts", "output")


def media_parts(body: dict[str, Any]) -> int:
    """How many image, file and audio parts the request's input holds, wherever they are
    nested (in a tool result, for one)."""
    count = 0
    pending = [body.get(key) for key in _INPUT]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, dict):
            kind = node.get("type")
            if (isinstance(kind, str) and kind in _MEDIA_TYPES) or any(
                key in node for key in _MEDIA_KEYS
            ):
                count += 1  # one part, however its source is spelled inside it
            else:
                pending.extend(node.get(key) for key in _NESTED)
    return count


def declares_tools(body: dict[str, Any]) -> bool:
    """Whether the request declares tools (`tools` in every wire format), or asks for JSON
    mode (`response_format: json_object`), which Anthropic models answer with a tool."""
    tools = body.get("tools")
    response_format = body.get("response_format")
    json_mode = isinstance(response_format, dict) and response_format.get("type") == "json_object"
    return (isinstance(tools, list) and bool(tools)) or json_mode
