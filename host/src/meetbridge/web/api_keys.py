"""API keys for ``/api/v1``: created by admins, shown once, stored hashed, scoped to one
organisation, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from meetbridge.db import utcnow
from meetbridge.models import ApiKey, User

KEY_PREFIX = "mb_"


@dataclass(frozen=True)
class ApiKeyRow:
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(session: Session, admin: User, name: str) -> tuple[ApiKey, str]:
    """A new key for the admin's organisation; returns the row and the key (shown once)."""
    if not admin.is_admin:
        raise PermissionError("Only admins create API keys.")
    name = name.strip()[:200]
    if not name:
        raise ValueError("Give the key a name (which platform uses it).")
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        organization_id=admin.organization_id,
        name=name,
        prefix=prefix,
        key_hash=_hash(key),
        created_by_user_id=admin.id,
    )
    session.add(row)
    session.flush()
    return row, key


def authenticate_api_key(session: Session, key: str) -> ApiKey | None:
    """The live key row for ``key`` (constant-time comparison), or None."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    prefix, _, rest = key[len(KEY_PREFIX) :].partition("_")
    if not prefix or not rest:
        return None
    row = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, _hash(key)):
        return None
    row.last_used_at = utcnow()
    return row


def list_api_keys(session: Session, organization_id: int) -> list[ApiKeyRow]:
    rows = session.scalars(
        select(ApiKey).where(ApiKey.organization_id == organization_id).order_by(ApiKey.id)
    )
    return [
        ApiKeyRow(r.id, r.name, r.prefix, r.created_at, r.last_used_at, r.revoked_at is not None)
        for r in rows
    ]


def revoke_api_key(session: Session, admin: User, key_id: int) -> None:
    row = session.get(ApiKey, key_id)
    if row is None or row.organization_id != admin.organization_id or not admin.is_admin:
        raise LookupError("No such API key.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
