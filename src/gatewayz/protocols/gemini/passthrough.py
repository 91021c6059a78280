"""A Gemini client's GenerateContentRequest as it is passed through to a Gemini upstream.

Every field is one the gateway understands and bills (its cost is in the tokens of the
answer's usageMetadata, held before the call as the request's size, its media parts and the
output limit times candidateCount), one the provider row allows in `passthrough_fields`, or
refused with a 400 naming it. Refused unless allowed: `cachedContent` (content stored at the
upstream, whose size the hold cannot see), tools Gemini runs and bills itself (Google Search,
code execution, URL context, Maps, file search, computer use), output other than text
(`responseModalities`, `speechConfig`, `imageConfig`: priced apart), and `fileData` parts of
other than images (a stored video, audio or document is billed by its length, which the hold
cannot see; images are held at a fixed bound). `maxOutputTokens` is always the limit held.
"""

from typing import Any

from gatewayz.protocols.checks import Json
from gatewayz.protocols.passthrough import refuse

_BILLED = frozenset(
    {"contents", "systemInstruction", "tools", "toolConfig", "safetySettings",
     "generationConfig", "labels"}
)  # fmt: skip
_CONFIG_BILLED = frozenset(
    {
        "temperature", "topP", "topK", "candidateCount", "maxOutputTokens", "stopSequences",
        "seed", "presencePenalty", "frequencyPenalty", "responseMimeType", "responseSchema",
        "responseJsonSchema", "thinkingConfig", "mediaResolution", "responseLogprobs",
        "logprobs", "audioTimestamp", "enableEnhancedCivicAnswers", "responseModalities",
    }
)  # fmt: skip
_STORED = "it uses content cached at the upstream, whose size the credit hold cannot see"


def native_request(body: Json, provider: str, allowed: frozenset[str], limit: int) -> Json:
    """The body to send `provider`, its maxOutputTokens the held `limit`, or InvalidRequest
    naming the first field that cannot be passed through."""
    for key, value in body.items():
        if value is None or key in allowed:
            continue
        if key == "cachedContent":
            raise refuse(key, provider, _STORED)
        if key not in _BILLED:
            raise refuse(key, provider, "it is not a field the gateway can bill")
    _check_tools(body.get("tools"), provider, allowed)
    _check_files(body.get("contents"), provider, allowed)
    config = dict(body.get("generationConfig") or {})
    for key, value in config.items():
        path = f"generationConfig.{key}"
        if value is None or path in allowed:
            continue
        if key not in _CONFIG_BILLED:
            raise refuse(path, provider, "output of this kind is not billed at the model's price")
        if key == "responseModalities" and value not in (["TEXT"], ["text"], []):
            raise refuse(path, provider, "output other than text is not billed at its price")
    config["maxOutputTokens"] = limit
    return {**body, "generationConfig": config}


def _check_tools(tools: Any, provider: str, allowed: frozenset[str]) -> None:
    for k, tool in enumerate(tools if isinstance(tools, list) else ()):
        for kind in tool if isinstance(tool, dict) else ():
            if kind != "functionDeclarations" and f"tools.{kind}" not in allowed:
                why = f"'{kind}' runs at the upstream, which bills its use itself"
                raise refuse(f"tools.{k}.{kind}", provider, why)


def _check_files(contents: Any, provider: str, allowed: frozenset[str]) -> None:
    if "contents.fileData" in allowed:
        return
    for i, content in enumerate(contents if isinstance(contents, list) else ()):
        parts = content.get("parts") if isinstance(content, dict) else None
        for j, part in enumerate(parts if isinstance(parts, list) else ()):
            stored = part.get("fileData") if isinstance(part, dict) else None
            mime = stored.get("mimeType") if isinstance(stored, dict) else None
            if stored is not None and not (isinstance(mime, str) and mime.startswith("image/")):
                why = "a file billed by its length, which the credit hold cannot see"
                raise refuse(f"contents.{i}.parts.{j}.fileData", provider, why)
