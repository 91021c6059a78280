"""A Gemini client's request: the checks every route relies on, and what it asks of the
model (output limit, candidates, thoughts)."""

from typing import Any

import orjson

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.checks import Json
from gatewayz.protocols.field_sizes import check_field_sizes
from gatewayz.protocols.gemini.thinking import wants_thoughts
from gatewayz.protocols.json_body import MAX_CHOICES, MAX_OUTPUT_TOKENS, decode_object

_BOUNDS = {"maxOutputTokens": MAX_OUTPUT_TOKENS, "candidateCount": MAX_CHOICES}


def model_id(path_model: str) -> str:
    """The Gatewayz model id a Gemini path names, without the `models/` the SDKs put before
    it, checked like a body's `model`."""
    model = path_model.removeprefix("models/")
    if not model:
        raise InvalidRequest("The path must name a model: models/<id>:<method>.", param="model")
    check_field_sizes({"model": model})
    return model


def parse_generate_request(raw: bytes) -> Json:
    """Decode a GenerateContentRequest and check what every route relies on."""
    body = decode_object(raw, needs_model=False)
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise InvalidRequest("'contents' must be a non-empty array.", param="contents")
    config = body.get("generationConfig")
    if config is None:
        return body
    if not isinstance(config, dict):
        raise InvalidRequest("'generationConfig' must be an object.", param="generationConfig")
    for field, high in _BOUNDS.items():
        value = config.get(field)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= high
        ):
            path = f"generationConfig.{field}"
            raise InvalidRequest(f"'{path}' must be an integer from 1 to {high}.", param=path)
    return body


def _config(body: Json) -> Json:
    config = body.get("generationConfig")
    return config if isinstance(config, dict) else {}


def output_limit(body: Json) -> int | None:
    """The output limit the client asked for (`maxOutputTokens`), None when it set none."""
    value: Any = _config(body).get("maxOutputTokens")
    return value if isinstance(value, int) else None


def candidates(body: Json) -> int:
    """How many answers the client asked for (`candidateCount`, 1 unless set)."""
    value: Any = _config(body).get("candidateCount")
    return value if isinstance(value, int) else 1


def include_thoughts(body: Json) -> bool:
    """Whether the client asked for the model's thoughts (thinkingConfig.includeThoughts)."""
    return wants_thoughts(_config(body).get("thinkingConfig"))


MAX_EMBED_REQUESTS = 2048
# Tokens Gemini counts for one image at most at the default resolution of Gemini 2 (258 per
# 768x768 tile): the estimate's figure for every media part.
MEDIA_PART_TOKENS = 258


def parse_count_request(raw: bytes) -> Json:
    """Decode a CountTokensRequest: `contents`, or a whole `generateContentRequest`."""
    body = decode_object(raw, needs_model=False)
    inner = body.get("generateContentRequest")
    if inner is not None and not isinstance(inner, dict):
        raise InvalidRequest(
            "'generateContentRequest' must be an object.", param="generateContentRequest"
        )
    contents = (inner or body).get("contents")
    if not isinstance(contents, list):
        raise InvalidRequest("'contents' must be an array.", param="contents")
    return body


def estimate_tokens(body: Json) -> int:
    """The documented estimate of a request's input tokens for upstreams that count none:
    the UTF-8 bytes of its text parts, function calls and responses (as JSON), system
    instruction and tool declarations (as JSON) at four a token, rounded up, plus
    MEDIA_PART_TOKENS per image, audio or file part."""
    request = body.get("generateContentRequest") or body
    size = len(orjson.dumps(request["tools"])) if request.get("tools") else 0
    media = 0
    instruction = request.get("systemInstruction")
    contents = [*request.get("contents", ()), *([instruction] if instruction else ())]
    for content in contents:
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else ():
            if not isinstance(part, dict):
                continue
            if "inlineData" in part or "fileData" in part:
                media += 1
            elif isinstance(part.get("text"), str):
                size += len(part["text"].encode())
            for key in ("functionCall", "functionResponse"):
                if key in part:
                    size += len(orjson.dumps(part[key]))
    return -(-size // 4) + media * MEDIA_PART_TOKENS


def parse_embed_request(raw: bytes, batch: bool) -> Json:
    """Decode an EmbedContentRequest, or a BatchEmbedContentsRequest (`requests`)."""
    body = decode_object(raw, needs_model=False)
    if not batch:
        embed_text(body, "")
        return body
    requests = body.get("requests")
    if not isinstance(requests, list) or not 1 <= len(requests) <= MAX_EMBED_REQUESTS:
        raise InvalidRequest(
            f"'requests' must be an array of 1 to {MAX_EMBED_REQUESTS} requests.",
            param="requests",
        )
    for i, request in enumerate(requests):
        if not isinstance(request, dict):
            raise InvalidRequest(f"'requests.{i}' must be an object.", param=f"requests.{i}")
        embed_text(request, f"requests.{i}.")
    return body


def embed_text(request: Json, path: str) -> str:
    """The text an embed request's `content` holds (its text parts, joined)."""
    content = request.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list) or not parts:
        where = f"{path}content.parts"
        raise InvalidRequest(f"'{where}' must be a non-empty array.", param=where)
    texts = []
    for j, part in enumerate(parts):
        text = part.get("text") if isinstance(part, dict) else None
        if not isinstance(text, str):
            where = f"{path}content.parts.{j}"
            raise InvalidRequest(f"'{where}' must be a text part to embed.", param=where)
        texts.append(text)
    return " ".join(texts)
