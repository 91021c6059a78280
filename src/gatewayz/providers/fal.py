"""The adapter for Fal.ai's model API: image generation at `{base_url}/{model id}`."""

import time
from typing import Any

import aiohttp
import orjson

from gatewayz.errors import UpstreamError
from gatewayz.protocols import fal
from gatewayz.providers.base import UpstreamReply
from gatewayz.providers.http import post_json
from gatewayz.providers.table import Provider


class FalAdapter:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def images(self, provider: Provider, body: dict[str, Any]) -> UpstreamReply:
        payload = fal.images_request(body)
        _, data = await post_json(
            self._session, provider, f"{provider.base_url}/{body['model']}", payload
        )
        try:
            answer = fal.images_response(
                data, body.get("response_format") or "url", int(time.time())
            )
        except ValueError as exc:
            raise UpstreamError(provider.name, f"answered with {exc}") from None
        return UpstreamReply(orjson.dumps(answer), answer)
