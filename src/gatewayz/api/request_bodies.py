"""OpenAPI request bodies of the routes that read their JSON by hand (fast, and unknown fields
pass through), so /docs, SDK generators and schema fuzzers see what those routes take.

The schemas describe what the gateway reads. `required`, and bounds such as `minimum`, are
given only where the gateway itself refuses the request with a 400 naming the field; the
other fields are the public API's types, forwarded to (or translated for) the provider, which
has the last word on them. Every body may carry more fields than are listed here.
"""

from typing import Any

from gatewayz.protocols.openai_media import MAX_IMAGES

Schema = dict[str, Any]

_MODEL: Schema = {
    "type": "string",
    "minLength": 1,
    "description": "A model id (`provider/model`, a bare model id or an alias).",
}
_STREAM: Schema = {"type": "boolean", "description": "Answer as server-sent events."}
_POSITIVE: Schema = {"type": "integer", "minimum": 1}
_NUMBER: Schema = {"type": "number"}
_TEXT_OR_PARTS: Schema = {"anyOf": [{"type": "string"}, {"type": "array", "items": {}}]}
_STOP: Schema = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
_TOOLS: Schema = {"type": "array", "items": {"type": "object"}}
_HELLO = [{"role": "user", "content": "Hello!"}]
_ROUTING: dict[str, Schema] = {
    "models": {
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "description": "Models to fall back to, in order, after `model`.",
    },
    "provider": {
        "type": "object",
        "description": "Which providers may serve the call, and in what order.",
        "properties": {
            "order": {"type": "array", "items": {"type": "string", "minLength": 1}},
            "only": {"type": "array", "items": {"type": "string", "minLength": 1}},
            "ignore": {"type": "array", "items": {"type": "string", "minLength": 1}},
            "allow_fallbacks": {"type": "boolean"},
            "sort": {
                "type": "string",
                "enum": [
                    "price",
                    "latency",
                    "throughput",
                    "priority",
                    "weighted",
                    "lowest_price",
                    "lowest_latency",
                ],
            },
        },
        "additionalProperties": False,
    },
}

CHAT_COMPLETION: Schema = {
    "title": "CreateChatCompletionRequest",
    "type": "object",
    "examples": [{"model": "demo/demo-chat", "messages": _HELLO}],
    "required": ["model", "messages"],
    "properties": {
        "model": _MODEL,
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role"],
                "properties": {
                    "role": {
                        "type": "string",
                        "enum": ["system", "developer", "user", "assistant", "tool", "function"],
                    },
                    "content": {"anyOf": [_TEXT_OR_PARTS, {"type": "null"}]},
                    "name": {"type": "string"},
                    "tool_calls": {"type": "array", "items": {"type": "object"}},
                    "tool_call_id": {"type": "string"},
                },
            },
        },
        "stream": _STREAM,
        "stream_options": {
            "type": "object",
            "properties": {"include_usage": {"type": "boolean"}},
        },
        "max_tokens": _POSITIVE,
        "max_completion_tokens": _POSITIVE,
        "n": {"type": "integer", "description": "Choices to generate."},
        "stop": _STOP,
        "temperature": _NUMBER,
        "top_p": _NUMBER,
        "tools": _TOOLS,
        "tool_choice": {"anyOf": [{"type": "string"}, {"type": "object"}]},
        "response_format": {"type": "object"},
        "user": {"type": "string"},
        "session_id": {
            "type": "integer",
            "minimum": 1,
            "maximum": 2**31 - 1,
            "description": "A chat session (POST /v1/chat/sessions) to continue: its history "
            "is sent before `messages`, and the answer is stored in it.",
        },
        **_ROUTING,
    },
}

MESSAGE: Schema = {
    "title": "CreateMessageRequest",
    "type": "object",
    "examples": [{"model": "demo/demo-chat", "max_tokens": 200, "messages": _HELLO}],
    "required": ["model", "max_tokens", "messages"],
    "properties": {
        "model": _MODEL,
        "max_tokens": _POSITIVE,
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "role": {"type": "string", "enum": ["user", "assistant"]},
                    "content": _TEXT_OR_PARTS,
                },
            },
        },
        "system": _TEXT_OR_PARTS,
        "stream": _STREAM,
        "stop_sequences": {"type": "array", "items": {"type": "string"}},
        "temperature": _NUMBER,
        "top_p": _NUMBER,
        "top_k": {"type": "integer"},
        "tools": _TOOLS,
        "tool_choice": {"type": "object"},
        "metadata": {"type": "object", "properties": {"user_id": {"type": "string"}}},
        "thinking": {"type": "object"},
        **_ROUTING,
    },
}

RESPONSE: Schema = {
    "title": "CreateResponseRequest",
    "type": "object",
    "examples": [{"model": "demo/demo-chat", "input": "Hello!"}],
    "required": ["model"],
    "properties": {
        "model": _MODEL,
        "input": _TEXT_OR_PARTS,
        "instructions": {"type": "string"},
        "stream": _STREAM,
        "max_output_tokens": _POSITIVE,
        "temperature": _NUMBER,
        "top_p": _NUMBER,
        "tools": _TOOLS,
        "tool_choice": {"anyOf": [{"type": "string"}, {"type": "object"}]},
        "parallel_tool_calls": {"type": "boolean"},
        "text": {"type": "object"},
        "reasoning": {"type": "object"},
        "metadata": {"type": "object"},
        "user": {"type": "string"},
        "store": {
            "type": "boolean",
            "description": "The gateway stores no responses: only false is served, unless the "
            "provider row allows passing it through.",
        },
        **_ROUTING,
    },
}

_TOKENS: Schema = {"type": "array", "minItems": 1, "items": {"type": "integer"}}
EMBEDDINGS: Schema = {
    "title": "CreateEmbeddingRequest",
    "type": "object",
    "examples": [{"model": "demo/demo-embed", "input": ["Hello!", "Hi there."]}],
    "required": ["model", "input"],
    "properties": {
        "model": _MODEL,
        "input": {
            "anyOf": [
                {"type": "string", "minLength": 1},
                {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
                _TOKENS,
                {"type": "array", "minItems": 1, "items": _TOKENS},
            ],
        },
        "encoding_format": {"type": "string", "enum": ["float", "base64"]},
        "dimensions": {"type": "integer"},
        "user": {"type": "string"},
        **_ROUTING,
    },
}

IMAGES: Schema = {
    "title": "CreateImageRequest",
    "type": "object",
    "examples": [{"model": "openai/dall-e-3", "prompt": "A lighthouse at dawn", "n": 1}],
    "required": ["model", "prompt"],
    "properties": {
        "model": _MODEL,
        "prompt": {"type": "string", "minLength": 1, "pattern": r"\S"},
        "n": {"type": "integer", "minimum": 1, "maximum": MAX_IMAGES, "default": 1},
        "size": {"type": "string"},
        "quality": {"type": "string"},
        "response_format": {"type": "string", "enum": ["url", "b64_json"]},
        "stream": {"type": "boolean", "enum": [False], "description": "Not supported."},
        **_ROUTING,
    },
}

STRIPE_EVENT: Schema = {
    "title": "StripeEvent",
    "type": "object",
    "description": "An event as Stripe delivers it; the Stripe-Signature header signs it.",
    "properties": {
        "id": {"type": "string"},
        "type": {"type": "string"},
        "data": {"type": "object", "properties": {"object": {"type": "object"}}},
    },
}


def json_body(schema: Schema) -> dict[str, Any]:
    """The `openapi_extra` of a route whose JSON body `schema` describes."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def stripe_webhook_body() -> dict[str, Any]:
    """The `openapi_extra` of Stripe's webhook: the event and its signature header."""
    signature = {"name": "Stripe-Signature", "in": "header", "schema": {"type": "string"}}
    return {**json_body(STRIPE_EVENT), "parameters": [{**signature, "required": True}]}
