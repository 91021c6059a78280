"""A browser-like HTTP client for the dashboard's forms: keeps cookies, reads each page's
CSRF token and sends it back, as a browser submitting the page's form would."""

import re
from typing import Any

import httpx

_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


class FormClient:
    def __init__(self, base_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, follow_redirects=False, timeout=20)

    async def token(self, path: str = "/ui/signin") -> str:
        page = await self.http.get(path)
        found = _TOKEN.search(page.text)
        assert found is not None, f"no form on {path} ({page.status_code})"
        return found.group(1)

    async def submit(self, page: str, action: str, **fields: Any) -> httpx.Response:
        """Load `page`, then post `fields` with its CSRF token to `action`."""
        token = await self.token(page)
        return await self.http.post(action, data={"csrf_token": token, **fields})

    async def sign_in(self, email: str, password: str) -> httpx.Response:
        return await self.submit("/ui/signin", "/ui/signin", email=email, password=password)

    async def close(self) -> None:
        await self.http.aclose()
