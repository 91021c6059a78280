"""OpenAI image generation requests to Fal.ai's model API and back."""

import re
from typing import Any

from gatewayz.errors import InvalidRequest

_SIZE = re.compile(r"^(\d{2,5})x(\d{2,5})$")
_PASSED = frozenset({"model", "prompt", "n", "size", "response_format", "user", "output_format"})
_DATA_URI = re.compile(r"^data:[^;,]+;base64,(.*)$", re.DOTALL)


def images_request(body: dict[str, Any]) -> dict[str, Any]:
    """The Fal input for an OpenAI `images/generations` body; refuses what Fal cannot do."""
    for field, value in body.items():
        if field not in _PASSED and value not in (None, "auto"):
            raise InvalidRequest(f"'{field}' is not supported for Fal image models.", param=field)
    payload: dict[str, Any] = {"prompt": body["prompt"], "num_images": body.get("n", 1)}
    size = body.get("size")
    if size not in (None, "auto"):
        match = _SIZE.match(str(size))
        if not match:
            raise InvalidRequest("'size' must look like 1024x768.", param="size")
        payload["image_size"] = {"width": int(match[1]), "height": int(match[2])}
    format_ = body.get("response_format") or "url"
    if format_ not in ("url", "b64_json"):
        raise InvalidRequest("'response_format' must be url or b64_json.", param="response_format")
    if format_ == "b64_json":
        payload["sync_mode"] = True
    if body.get("output_format") not in (None, "auto"):
        payload["output_format"] = body["output_format"]
    return payload


def images_response(data: dict[str, Any], response_format: str, created: int) -> dict[str, Any]:
    """Fal's `images` list as OpenAI's images response; ValueError if it has none usable."""
    images = data.get("images")
    if not isinstance(images, list) or not images:
        raise ValueError("no images in the answer")
    out = []
    for image in images:
        url = image.get("url") if isinstance(image, dict) else None
        if not isinstance(url, str):
            raise ValueError("an image without a url")
        if response_format == "b64_json":
            match = _DATA_URI.match(url)
            if not match:
                raise ValueError("an image that is not inline data")
            out.append({"b64_json": match[1]})
        else:
            out.append({"url": url})
    result: dict[str, Any] = {"created": created, "data": out}
    if isinstance(data.get("prompt"), str):
        result["data"][0]["revised_prompt"] = data["prompt"]
    return result
