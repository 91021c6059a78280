"""An estimate of the input tokens of a Messages request, where no upstream counts them: what
`POST /v1/messages/count_tokens` answers for a model whose provider is not Anthropic, and the
`input_tokens` a translated stream's `message_start` reports before the upstream's usage.

The estimate is the UTF-8 bytes of the text the model reads, divided by four and rounded up
(about four characters a token in English prose and code; other scripts make more tokens per
byte, so they are estimated low), plus 4 tokens a message (its role and turn markers) and
1,600 an image or document block (Anthropic's figure for an image at its largest; a document's
pages are not counted one by one). The text the model reads: the system prompt, each
message's text, tool calls (name and input as JSON) and results, thinking, and each tool's
name, description and input schema (as JSON). It is not the credit hold's bound, which must
never be below the truth (one token per byte of the whole body); an estimate may be.
"""

from typing import Any

import orjson

from gatewayz.protocols.checks import Json

BYTES_PER_TOKEN = 4
MESSAGE_TOKENS = 4
MEDIA_TOKENS = 1_600
_MEDIA = frozenset({"image", "document"})
_TEXT_FIELDS = ("text", "thinking", "name", "description")


def estimate_input_tokens(body: Json) -> int:
    """The estimated input tokens of a Messages request (see the module docstring)."""
    tally = _Tally()
    tally.content(body.get("system"))
    messages = body.get("messages")
    messages = messages if isinstance(messages, list) else []
    for message in messages:
        tally.content(message.get("content") if isinstance(message, dict) else None)
    for tool in body.get("tools") or ():
        if isinstance(tool, dict):
            tally.block(tool)
            if tool.get("input_schema") is not None:
                tally.text_bytes += len(orjson.dumps(tool["input_schema"]))
    tokens = -(-tally.text_bytes // BYTES_PER_TOKEN) + tally.media * MEDIA_TOKENS
    return max(1, tokens + MESSAGE_TOKENS * len(messages))


class _Tally:
    def __init__(self) -> None:
        self.text_bytes = 0
        self.media = 0

    def text(self, value: Any) -> None:
        if isinstance(value, str):
            self.text_bytes += len(value) if value.isascii() else len(value.encode())

    def content(self, content: Any) -> None:
        """A string, or a list of content blocks."""
        if isinstance(content, str):
            self.text(content)
        elif isinstance(content, list):
            for block in content:
                if isinstance(block, dict):
                    self.block(block)

    def block(self, block: Json) -> None:
        if block.get("type") in _MEDIA:
            self.media += 1
            return
        for field in _TEXT_FIELDS:
            self.text(block.get(field))
        if block.get("type") == "tool_use" and block.get("input") is not None:
            self.text_bytes += len(orjson.dumps(block["input"]))
        if block.get("type") == "tool_result":
            self.content(block.get("content"))
