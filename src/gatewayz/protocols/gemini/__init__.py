"""Google Gemini generateContent: OpenAI chat requests in, chat completions and chunks out."""

from gatewayz.protocols.gemini.request import chat_to_gemini_request
from gatewayz.protocols.gemini.response import gemini_error_message, gemini_to_chat_response
from gatewayz.protocols.gemini.stream import GeminiStreamToChat

__all__ = [
    "GeminiStreamToChat",
    "chat_to_gemini_request",
    "gemini_error_message",
    "gemini_to_chat_response",
]
