"""The things the Zoom sandbox's world is made of: accounts, users, apps, codes, grants, tokens."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class SandboxAccount:
    id: str
    name: str
    plan: str = "pro"  # free / pro / business: sets the QPS limits
    rooms: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SandboxUser:
    id: str
    email: str
    first_name: str
    last_name: str
    account_id: str
    type: int = 2  # 1 Basic (free), 2 Licensed
    role_name: str = "Member"
    role_id: str = "2"
    timezone: str = "America/New_York"

    @property
    def is_admin(self) -> bool:
        return self.role_name in {"Owner", "Admin"}

    def as_zoom(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "display_name": f"{self.first_name} {self.last_name}",
            "email": self.email,
            "type": self.type,
            "role_name": self.role_name,
            "role_id": self.role_id,
            "account_id": self.account_id,
            "timezone": self.timezone,
            "status": "active",
            "verified": 1,
            "language": "en-US",
            "pmi": int(hashlib.sha256(self.id.encode()).hexdigest()[:9], 16) % 9_000_000_000
            + 1_000_000_000,
        }


@dataclass
class OAuthApp:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    managed: str = "user"  # "user" or "admin" (account-level)


@dataclass
class AuthCode:
    code: str
    client_id: str
    user_id: str
    redirect_uri: str
    code_challenge: str
    code_challenge_method: str
    issued_at: datetime
    scopes: tuple[str, ...]
    used: bool = False


@dataclass
class Grant:
    id: int
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    revoked: bool = False


@dataclass
class IssuedToken:
    value: str
    grant_id: int
    kind: str  # "access" or "refresh"
    expires_at: datetime
    dead: bool = False


def granted_scopes(app: OAuthApp, user: SandboxUser) -> tuple[str, ...]:
    """What authorizing ``app`` gives ``user``: admin scopes only to owners and admins."""
    if user.is_admin:
        return app.scopes
    narrowed = (s.removesuffix(":admin") for s in app.scopes)
    return tuple(dict.fromkeys(narrowed))


def pkce_s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
