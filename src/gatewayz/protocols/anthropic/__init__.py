"""Anthropic Messages <-> OpenAI Chat Completions: requests, responses, streams and errors.

Pure translation on wire dicts, under the field rule (see protocols.fields): fields of
meaning are translated or refused with InvalidRequest naming them; hints are mapped where the
target has an equivalent (thinking and effort both ways, JSON mode, the user id) and otherwise
dropped and named in the `Dropped` record each entry point takes.
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
    parse_count_tokens_request,
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
    "parse_count_tokens_request",
    "parse_messages_request",
]
