"""Encryption of stored secrets (users' provider keys) with Fernet keys derived from the
server secret, so rotating the server secret can re-encrypt them (previous secrets still
decrypt until then)."""

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_SALT = b"gatewayz"
_INFO = b"gatewayz provider keys v1"


class UndecryptableSecret(Exception):
    """Stored ciphertext that neither the current nor any previous server secret opens."""


def fernet_for(server_secret: bytes) -> Fernet:
    """The Fernet key for `server_secret`: HKDF-SHA256 of it, 32 bytes."""
    derived = HKDF(algorithm=SHA256(), length=32, salt=_SALT, info=_INFO).derive(server_secret)
    return Fernet(base64.urlsafe_b64encode(derived))


class SecretBox:
    """Encrypts under the current server secret; decrypts under it or any previous one."""

    def __init__(self, server_secret: bytes, previous_secrets: Sequence[bytes] = ()) -> None:
        self._fernet = MultiFernet(
            [fernet_for(server_secret), *(fernet_for(secret) for secret in previous_secrets)]
        )

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise UndecryptableSecret("not encrypted under any known server secret") from None

    def rotate(self, token: str) -> str:
        """The same plaintext, encrypted under the current server secret."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise UndecryptableSecret("not encrypted under any known server secret") from None
