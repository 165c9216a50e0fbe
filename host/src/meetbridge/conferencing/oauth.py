"""OAuth helpers the host needs for every provider: ``state`` and PKCE (RFC 7636, S256)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


def new_state() -> str:
    return secrets.token_urlsafe(32)


def new_code_verifier() -> str:
    # 43-128 characters from the unreserved set; 64 random bytes give 86.
    return secrets.token_urlsafe(64)


def code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def same_state(expected: str, received: str | None) -> bool:
    return received is not None and hmac.compare_digest(expected.encode(), received.encode())
