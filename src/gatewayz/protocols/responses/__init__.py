"""OpenAI Responses API served by a chat completions upstream: request, response, stream.

The gateway stores nothing and runs no tools of its own, so whatever needs stored state
(previous_response_id, conversation, store, background, item references) or OpenAI's
built-in tools is refused with the field named, never dropped.
"""

from gatewayz.protocols.responses.request import parse_request, responses_to_chat_request
from gatewayz.protocols.responses.response import chat_to_response
from gatewayz.protocols.responses.stream import ChatStreamToResponses

__all__ = [
    "ChatStreamToResponses",
    "chat_to_response",
    "parse_request",
    "responses_to_chat_request",
]
