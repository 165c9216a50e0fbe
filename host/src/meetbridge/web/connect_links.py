"""Connect links: how a platform (through the API) gets one of its users to connect a provider.

The platform asks for a link for a member and a provider, sends the person to it, and gets
them back at its ``return_url`` with ``?status=connected&provider=zoom`` or
``?error=access_denied&provider=zoom`` (any other failure: ``error=connect_failed`` and an
``error_description``). A link works once and for 30 minutes; only its hash is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from sqlalchemy import select

from meetbridge.db import utcnow
from meetbridge.models import ConnectLink, User
from meetbridge.providers import Capability

if TYPE_CHECKING:
    from meetbridge.services import Services

LINK_LIFETIME = timedelta(minutes=30)


class ConnectLinkError(ValueError):
    """The link cannot be made or used; the message says why."""


@dataclass(frozen=True)
class IssuedLink:
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class RedeemedLink:
    user_id: int
    provider: str
    account_level: bool
    return_url: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_return_url(url: str, *, production: bool) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ConnectLinkError("return_url must be an absolute http(s) URL.")
    if production and parts.scheme != "https":
        raise ConnectLinkError("return_url must use https.")
    return url


def issue_link(
    services: Services,
    organization_id: int,
    *,
    user_email: str,
    provider: str,
    return_url: str,
    account_level: bool = False,
) -> IssuedLink:
    info = services.plugins.provider(provider)  # raises UnknownProvider naming what exists
    if not info.supports(Capability.CONNECT):
        raise ConnectLinkError(f"{info.label} needs no account connection.")
    if account_level and not info.supports(Capability.ACCOUNT_LEVEL):
        raise ConnectLinkError(f"{info.label} has no organisation-wide connection.")
    check_return_url(return_url, production=services.settings.env == "production")
    token = secrets.token_urlsafe(32)
    with services.sessions() as session, session.begin():
        user = session.scalars(
            select(User).where(
                User.email == user_email.strip().lower(),
                User.organization_id == organization_id,
            )
        ).first()
        if user is None or not user.active:
            raise ConnectLinkError(f"{user_email} is not a member of this organisation.")
        if account_level and not user.is_admin:
            raise ConnectLinkError("Only an admin can connect an account for the organisation.")
        link = ConnectLink(
            organization_id=organization_id,
            user_id=user.id,
            provider=provider,
            account_level=account_level,
            return_url=return_url,
            token_hash=_hash(token),
            expires_at=utcnow() + LINK_LIFETIME,
        )
        session.add(link)
        session.flush()
        expires = link.expires_at
    base = services.settings.base_url.rstrip("/")
    return IssuedLink(url=f"{base}/connect/link/{token}", expires_at=expires)


def redeem_link(services: Services, token: str) -> RedeemedLink:
    """Use a link once; raises ConnectLinkError when unknown, used or expired."""
    with services.sessions() as session, session.begin():
        link = session.scalars(
            select(ConnectLink).where(ConnectLink.token_hash == _hash(token)).with_for_update()
        ).first()
        if link is None:
            raise ConnectLinkError("This connect link is not valid.")
        if link.used_at is not None or link.expires_at <= utcnow():
            raise ConnectLinkError(
                "This connect link was already used or has expired; ask for a new one."
            )
        link.used_at = utcnow()
        return RedeemedLink(link.user_id, link.provider, link.account_level, link.return_url)


def back_to_platform(return_url: str, provider: str, *, error: str = "", detail: str = "") -> str:
    """``return_url`` with the outcome appended to its query."""
    params = {"provider": provider}
    if error:
        params["error"] = error
        if detail:
            params["error_description"] = detail[:300]
    else:
        params["status"] = "connected"
    joiner = "&" if urlsplit(return_url).query else "?"
    return f"{return_url}{joiner}{urlencode(params)}"
