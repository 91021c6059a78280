"""A fake Google OAuth 2.0 token endpoint for service accounts (the JWT-bearer grant, RFC 7523).

``POST /token`` with a form of ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` and
``assertion=<JWT>``. The assertion must be an RS256 JWT signed by the key of the service account
this fake made (``key_file``), with ``iss`` its email, ``aud`` the token URI, a ``scope`` and an
unexpired ``exp``; the answer is ``{"access_token", "expires_in", "token_type": "Bearer"}`` like
oauth2.googleapis.com. A bad grant is 400 ``{"error", "error_description"}``, as Google sends.
Each token is new (``ya29.fake-1``, ``-2``, ...) and added to ``valid_tokens``.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.server import FakeServer

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
EMAIL = "gateway@fake-project.iam.gserviceaccount.com"


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class FakeGoogleOAuth(FakeServer):
    """Token endpoint on an ephemeral 127.0.0.1 port, with its own service-account key pair."""

    def __init__(self, expires_in: int = 3599) -> None:
        super().__init__()
        self.expires_in = expires_in
        self.refuse = False  # answer every grant with 400 invalid_grant
        self.grants: list[dict[str, Any]] = []  # the claims of each accepted assertion
        self.valid_tokens: set[str] = set()
        self.token_uri = ""
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def configure(self, app: web.Application) -> None:
        app.router.add_post("/token", self._token)

    async def start(self) -> None:
        await super().start()
        self.token_uri = f"{self.base_url}/token"

    def key_file(self, directory: Path) -> Path:
        """Write a service-account JSON key file (as the Cloud console makes) and return it."""
        pem = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        info = {
            "type": "service_account",
            "project_id": "fake-project",
            "private_key_id": "fake-key-1",
            "private_key": pem,
            "client_email": EMAIL,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
        }
        path = directory / "service-account.json"
        path.write_bytes(orjson.dumps(info))
        return path

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != GRANT_TYPE:
            return _refusal("unsupported_grant_type", "Invalid grant_type.")
        claims = self._verified_claims(str(form.get("assertion", "")))
        if claims is None or self.refuse:
            return _refusal("invalid_grant", "Invalid JWT Signature.")
        self.grants.append(claims)
        token = f"ya29.fake-{len(self.grants)}"
        self.valid_tokens.add(token)
        body = {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"}
        return web.json_response(body)

    def _verified_claims(self, assertion: str) -> dict[str, Any] | None:
        """The JWT's claims when it is signed by this account's key and addressed here."""
        try:
            header, payload, signature = assertion.split(".")
            self._key.public_key().verify(
                _b64decode(signature),
                f"{header}.{payload}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
            alg = orjson.loads(_b64decode(header)).get("alg")
            claims: dict[str, Any] = orjson.loads(_b64decode(payload))
        except (ValueError, InvalidSignature, orjson.JSONDecodeError):
            return None
        iat, exp, now = claims.get("iat"), claims.get("exp"), time.time()
        timely = isinstance(iat, int) and isinstance(exp, int) and iat <= now + 5 < exp
        addressed = claims.get("iss") == EMAIL and claims.get("aud") == self.token_uri
        return claims if alg == "RS256" and addressed and claims.get("scope") and timely else None


def _refusal(error: str, description: str) -> web.Response:
    body = {"error": error, "error_description": description}
    return web.json_response(body, status=400)
