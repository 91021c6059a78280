"""Anthropic Messages <-> OpenAI Chat Completions: requests, responses, streams and errors.

Pure translation on wire dicts. Whatever the target format cannot express is refused with
InvalidRequest naming the field. The only input dropped are hints that change cost, caching
or storage but not the answer: `cache_control`, `eager_input_streaming`, an image's `detail`,
OpenAI's `store`, `metadata`, `prompt_cache_key` and `stream_options` (read by the caller).
Malformed upstream data raises ValueError and a mid-stream upstream error raises
UpstreamStreamError, as the relay expects of a stream codec.
"""

from gatewayz.protocols.anthropic.chat_to_request import chat_to_messages_request
from gatewayz.protocols.anthropic.errors import anthropic_error_type, error_body
from gatewayz.protocols.anthropic.replies import (
    chat_to_messages_response,
    messages_to_chat_response,
)
from gatewayz.protocols.anthropic.request_to_chat import (
    messages_to_chat_request,
    parse_messages_request,
)
from gatewayz.protocols.anthropic.streams import ChatStreamToMessages, MessagesStreamToChat

__all__ = [
    "ChatStreamToMessages",
    "MessagesStreamToChat",
    "anthropic_error_type",
    "chat_to_messages_request",
    "chat_to_messages_response",
    "error_body",
    "messages_to_chat_request",
    "messages_to_chat_response",
    "parse_messages_request",
]
