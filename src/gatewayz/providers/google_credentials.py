"""Google service-account key files, read once at start-up for providers with `auth: google`."""

from dataclasses import dataclass
from pathlib import Path

import orjson
from google.auth import crypt, jwt
from google.oauth2 import service_account

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
_ASSERTION_SECONDS = 3600


class CredentialsError(ValueError):
    """A configured service-account key file cannot be used; the message names the file."""


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """What the OAuth JWT-bearer grant needs: the account's email, signing key and token URI."""

    email: str
    token_uri: str
    signer: crypt.Signer

    def assertion(self, now: float) -> str:
        """A signed JWT asking `token_uri` for a cloud-platform access token (RFC 7523)."""
        payload = {
            "iss": self.email,
            "aud": self.token_uri,
            "scope": " ".join(SCOPES),
            "iat": int(now),
            "exp": int(now) + _ASSERTION_SECONDS,
        }
        assertion: bytes = jwt.encode(self.signer, payload)
        return assertion.decode("ascii")


def load_service_account(path: str) -> ServiceAccount:
    """The service account in the JSON key file at `path`, or CredentialsError."""
    try:
        info = orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise CredentialsError(f"cannot read {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError:
        raise CredentialsError(f"{path} is not JSON") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise CredentialsError(f"{path} is not a service-account key file") from None
    try:
        credentials = service_account.Credentials.from_service_account_info(
            info, scopes=list(SCOPES)
        )
    except ValueError as exc:
        raise CredentialsError(f"{path}: {exc}") from None
    return ServiceAccount(credentials.service_account_email, info["token_uri"], credentials.signer)
