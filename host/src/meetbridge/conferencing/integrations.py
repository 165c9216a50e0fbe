"""What the Integrations page shows, and who may act on which connection.

Read-side helpers over connections: one card per installed provider for a person, the
organisation's account-level connections and each member's status for admins, Zoom Rooms,
and preflight warnings for a meeting type. The permission rule lives here too: people manage
their own connections; admins also manage the organisation's account-level ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from meetbridge.conferencing.connections import ConnectionService
from meetbridge.models import Connection, ConnectionStatus, LocationKind, MeetingType, User
from meetbridge.plugins import OperationNotSupported
from meetbridge.providers import Capability, ProviderError, ProviderInfo, Room

if TYPE_CHECKING:
    from meetbridge.services import Services


class ConnectionNotYours(PermissionError):
    """The connection belongs to someone else (or the organisation, for a non-admin)."""


@dataclass(frozen=True)
class ConnectionView:
    id: int
    provider: str
    status: str  # active / needs_reconnect / revoked
    email: str
    connected_at: datetime | None
    status_changed_at: datetime | None
    account_type: str
    account_level: bool
    last_error: str | None
    warnings: tuple[str, ...]
    owner_email: str = ""

    @property
    def active(self) -> bool:
        return self.status == ConnectionStatus.ACTIVE


@dataclass(frozen=True)
class ProviderCard:
    """One provider on a person's Integrations page."""

    name: str
    label: str
    needs_connection: bool
    account_level_possible: bool
    connection: ConnectionView | None  # the person's own, if they ever connected


@dataclass(frozen=True)
class MemberStatus:
    email: str
    name: str
    role: str
    statuses: dict[str, str] = field(default_factory=dict)  # provider -> status or "none"


def view(conn: Connection, owner_email: str = "") -> ConnectionView:
    return ConnectionView(
        id=conn.id,
        provider=conn.provider,
        status=str(conn.status),
        email=conn.email,
        connected_at=conn.connected_at,
        status_changed_at=conn.status_changed_at,
        account_type=conn.account_type,
        account_level=conn.is_account_level,
        last_error=conn.last_error,
        warnings=tuple(str(w.get("message", "")) for w in conn.warnings or [] if w),
        owner_email=owner_email,
    )


def _latest(conns: list[Connection]) -> Connection | None:
    """The row that describes the present: the active one, else the most recently changed."""
    if not conns:
        return None
    active = [c for c in conns if c.status == ConnectionStatus.ACTIVE]
    pool = active or conns
    return max(pool, key=lambda c: (c.status_changed_at or c.connected_at, c.id))


def provider_cards(services: Services, user_id: int) -> list[ProviderCard]:
    """A card per installed provider, with the person's own connection (if any)."""
    with services.sessions() as session:
        conns = list(session.scalars(select(Connection).where(Connection.owner_user_id == user_id)))
    cards = []
    for name, info in sorted(services.plugins.providers().items(), key=_provider_order):
        mine = _latest([c for c in conns if c.provider == name])
        cards.append(
            ProviderCard(
                name=name,
                label=info.label,
                needs_connection=info.supports(Capability.CONNECT),
                account_level_possible=info.supports(Capability.ACCOUNT_LEVEL),
                connection=view(mine) if mine else None,
            )
        )
    return cards


def _provider_order(item: tuple[str, ProviderInfo]) -> tuple[int, str]:
    # Zoom first, then the fallbacks, then third-party providers alphabetically.
    known = {"zoom": 0, "google_meet": 1, "teams": 2}
    return known.get(item[0], 9), item[0]


def organization_connections(services: Services, organization_id: int) -> list[ConnectionView]:
    """The organisation's account-level connections, newest state per provider."""
    with services.sessions() as session:
        conns = list(
            session.scalars(
                select(Connection).where(
                    Connection.organization_id == organization_id,
                    Connection.owner_user_id.is_(None),
                )
            )
        )
    out = []
    for provider in sorted({c.provider for c in conns}):
        latest = _latest([c for c in conns if c.provider == provider])
        if latest is not None:
            out.append(view(latest, owner_email="organisation"))
    return out


def member_statuses(services: Services, organization_id: int) -> list[MemberStatus]:
    """Every member with the status of their connection to each provider ("none")."""
    providers = [
        n for n, i in services.plugins.providers().items() if i.supports(Capability.CONNECT)
    ]
    with services.sessions() as session:
        users = list(
            session.scalars(
                select(User).where(User.organization_id == organization_id).order_by(User.email)
            )
        )
        conns = list(
            session.scalars(
                select(Connection).where(
                    Connection.organization_id == organization_id,
                    Connection.owner_user_id.is_not(None),
                )
            )
        )
    rows = []
    for user in users:
        statuses = {}
        for provider in providers:
            latest = _latest(
                [c for c in conns if c.owner_user_id == user.id and c.provider == provider]
            )
            statuses[provider] = str(latest.status) if latest else "none"
        rows.append(MemberStatus(user.email, user.name, str(user.role), statuses))
    return rows


def connection_for(session: Session, connection_id: int, user: User) -> Connection:
    """The connection, if ``user`` may manage it; raises ConnectionNotYours otherwise.

    A missing connection and someone else's look the same from outside (no probing ids).
    """
    conn = session.get(Connection, connection_id)
    allowed = conn is not None and (
        conn.owner_user_id == user.id
        or (
            conn.owner_user_id is None
            and user.is_admin
            and conn.organization_id == user.organization_id
        )
    )
    if not allowed or conn is None:
        raise ConnectionNotYours("That connection does not exist or is not yours to manage.")
    return conn


async def list_rooms(services: Services, connection_id: int) -> list[Room]:
    """Rooms visible to an active account-level connection (Zoom Rooms)."""
    with services.sessions() as session:
        conn = session.get(Connection, connection_id)
        if conn is None or not conn.is_active:
            return []
        provider = conn.provider
    info = services.plugins.provider(provider)
    if not info.supports(Capability.ROOMS):
        return []
    ctx = services.provider_context(provider)
    creds = ConnectionService(services).credentials(conn)
    try:
        return list(
            await services.plugins.call("list_rooms", provider, context=ctx, credentials=creds)
            or []
        )
    except (ProviderError, OperationNotSupported):
        return []


async def meeting_type_warnings(services: Services, meeting_type_id: int) -> list[str]:
    """Preflight warnings for a meeting type's hosts on its provider(s), e.g. a 45-minute
    type hosted on a free Zoom account whose meetings end after 40 minutes."""
    with services.sessions() as session:
        mt = session.get(MeetingType, meeting_type_id)
        if mt is None:
            return []
        providers = (
            list(mt.location_providers or [])
            if mt.location_kind == LocationKind.PROVIDER
            else list(services.plugins.providers())
            if mt.location_kind == LocationKind.HOST_DEFAULT_VIDEO
            else []
        )
        host_ids = [h.user_id for h in mt.hosts]
        duration = mt.duration_minutes
        conns = list(
            session.scalars(
                select(Connection).where(
                    Connection.owner_user_id.in_(host_ids),
                    Connection.provider.in_(providers),
                    Connection.status == ConnectionStatus.ACTIVE,
                )
            )
        )
        owners = {u.id: u.email for u in session.scalars(select(User).where(User.id.in_(host_ids)))}
    messages: list[str] = []
    for conn in conns:
        if not services.plugins.implements("preflight", conn.provider):
            continue
        found = await services.plugins.call(
            "preflight",
            conn.provider,
            context=services.provider_context(conn.provider),
            account=conn,
            duration_minutes=duration,
        )
        for warning in found or []:
            messages.append(f"{owners.get(conn.owner_user_id or 0, '')}: {warning.message}")
    return messages
