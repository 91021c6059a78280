"""CSRF tokens: an HMAC, under the server secret, of the browser's session token (or, before
sign-in, of a random visitor cookie). A cross-site page can make the browser send the
cookie but can neither read it nor compute the token, so a form post without the token (or
with another browser's) is refused."""

import hashlib
import hmac


def csrf_token(server_secret: bytes, anchor: str) -> str:
    return hmac.new(server_secret, f"csrf:{anchor}".encode(), hashlib.sha256).hexdigest()


def csrf_valid(server_secret: bytes, anchor: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(
        csrf_token(server_secret, anchor), presented or ""
    )
