"""Random tokens handed to a browser or mailed (sessions, resets, invitations): stored only
as their keyed hash, so the database alone never lets anyone use one."""

import secrets

from gatewayz.accounts.keys import hash_key


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(server_secret: bytes, token: str) -> str:
    return hash_key(server_secret, f"web-token:{token}")
