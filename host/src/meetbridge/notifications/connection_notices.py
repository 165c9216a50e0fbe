"""Telling people their provider connection broke, and reminding them until it is mended.

The code that changes a connection's status calls :func:`connection_broke` in the same
transaction; that only enqueues a ``connection_notice`` job (it needs nothing but the session,
so the token manager and the webhook handler can call it from where they are). The job renders
the notice for the connection's owner (the organisation's admins for an account-level
connection) with a reconnect link, and schedules the first reminder.

Reminders go out ``email.reconnect_reminder_days`` after the break (1, 3 and 7 days by
default). Each is a ``connection_reminder`` job with ``run_at`` at its day; when it runs it
checks the connection first and stops (sending nothing, scheduling nothing) if it was
reconnected or changed since: the *episode* (the ``status_changed_at`` of the break) no longer
matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meetbridge.db import utcnow
from meetbridge.jobs import queue
from meetbridge.models import (
    Booking,
    BookingStatus,
    Connection,
    ConnectionStatus,
    Meeting,
    MeetingStatus,
    Organization,
    User,
)
from meetbridge.notifications import links, outbox
from meetbridge.notifications.catalogue import Translator
from meetbridge.notifications.messages import base_context, queue_rendered
from meetbridge.notifications.views import (
    Recipient,
    current_time,
    join_names,
    provider_label,
)
from meetbridge.notifications.when import format_moment

if TYPE_CHECKING:
    from meetbridge.conferencing.lifecycle import SyncOutcome
    from meetbridge.services import Services

CONNECTION_NOTICE = "connection_notice"
CONNECTION_REMINDER = "connection_reminder"
EVENTS = {"needs_reconnect": "connection_needs_reconnect", "removed": "connection_removed"}


@dataclass(frozen=True)
class ConnectionView:
    provider: str
    account: str
    account_level: bool
    since: str
    reason: str
    affected: int
    reconnect_url: str
    reminder_days: str = ""


def _episode(conn: Connection) -> str:
    changed = conn.status_changed_at or utcnow()
    return changed.astimezone(UTC).isoformat()


def connection_broke(session: Session, conn: Connection, event: str) -> None:
    """Queue the notice about ``conn`` (``event``: ``needs_reconnect`` or ``removed``).

    Call it in the transaction that changed the connection, after setting its status and
    ``status_changed_at``.
    """
    if event not in EVENTS:
        raise ValueError(f"Unknown connection event {event!r}; use one of {', '.join(EVENTS)}.")
    episode = _episode(conn)
    queue.enqueue(
        session,
        CONNECTION_NOTICE,
        {"connection_id": conn.id, "event": event, "episode": episode},
        key=f"connection-notice:{conn.id}:{episode}",
    )


def _still_broken(session: Session, connection_id: int, episode: str) -> Connection | None:
    conn = session.get(Connection, connection_id)
    if conn is None or conn.status == ConnectionStatus.ACTIVE:
        return None
    return conn if _episode(conn) == episode else None


def _owners(session: Session, conn: Connection) -> list[Recipient]:
    owner = session.get(User, conn.owner_user_id) if conn.owner_user_id else None
    if owner is not None and owner.active:
        return [Recipient(owner.email, owner.name or owner.email, "owner", owner.timezone)]
    return [
        Recipient(u.email, u.name or u.email, "admin", u.timezone)
        for u in outbox.admins(session, conn.organization_id)
    ]


def _affected(session: Session, conn: Connection, now: datetime) -> int:
    """Upcoming bookings whose meeting was made with this connection."""
    return int(
        session.scalar(
            select(func.count(func.distinct(Booking.id)))
            .join(Meeting, Meeting.booking_id == Booking.id)
            .where(
                Meeting.connection_id == conn.id,
                Meeting.status == MeetingStatus.PROVISIONED,
                Booking.status == BookingStatus.CONFIRMED,
                Booking.start_at > now,
            )
        )
        or 0
    )


def _view(
    services: Services, session: Session, conn: Connection, recipient: Recipient, t: Translator
) -> ConnectionView:
    if conn.is_account_level:
        account = conn.email or t("connection.org_account")
    else:
        account = conn.email or t("connection.account_unknown")
    return ConnectionView(
        provider=provider_label(services, conn.provider),
        account=account,
        account_level=conn.is_account_level,
        since=format_moment(conn.status_changed_at or utcnow(), recipient.timezone, t),
        reason=conn.last_error or "",
        affected=_affected(session, conn, current_time(services)),
        reconnect_url=links.integrations_page(services.settings),
    )


def _queue_for_owners(
    services: Services, session: Session, conn: Connection, kind: str, **values: Any
) -> int:
    t = Translator(services.settings.email.locale)
    org = session.get(Organization, conn.organization_id)
    days = values.pop("reminder_days", "")
    count = 0
    for recipient in _owners(session, conn):
        view = _view(services, session, conn, recipient, t)
        if days:
            view = ConnectionView(**{**view.__dict__, "reminder_days": days})
        context = base_context(org.name if org else "", recipient, t, c=view, **values)
        queue_rendered(
            session,
            services,
            kind=kind,
            recipient=recipient,
            context=context,
            t=t,
            booking_id=None,
            payload={"connection_id": conn.id, "auto": True},
        )
        count += 1
    return count


def _schedule_reminder(
    session: Session, services: Services, connection_id: int, episode: str, index: int
) -> None:
    days = services.settings.email.reconnect_reminder_days
    if index >= len(days):
        return
    queue.enqueue(
        session,
        CONNECTION_REMINDER,
        {"connection_id": connection_id, "episode": episode, "index": index},
        key=f"connection-reminder:{connection_id}:{episode}:{index}",
        run_at=datetime.fromisoformat(episode) + timedelta(days=days[index]),
    )


async def send_notice(services: Services, payload: dict[str, Any]) -> SyncOutcome:
    """Job handler: the first notice, then the first reminder is scheduled."""
    from meetbridge.conferencing.lifecycle import SyncOutcome

    episode = str(payload["episode"])
    with services.sessions() as session, session.begin():
        conn = _still_broken(session, int(payload["connection_id"]), episode)
        if conn is None:
            return SyncOutcome(done=True)  # mended (or changed) before we could say so
        t = Translator(services.settings.email.locale)
        days = services.settings.email.reconnect_reminder_days
        _queue_for_owners(
            services,
            session,
            conn,
            EVENTS[str(payload["event"])],
            reminder_days=join_names([str(d) for d in days], t),
        )
        _schedule_reminder(session, services, conn.id, episode, 0)
    return SyncOutcome(done=True)


async def send_reminder(services: Services, payload: dict[str, Any]) -> SyncOutcome:
    """Job handler: remind, and schedule the next reminder, unless it was reconnected."""
    from meetbridge.conferencing.lifecycle import SyncOutcome

    episode, index = str(payload["episode"]), int(payload["index"])
    days = services.settings.email.reconnect_reminder_days
    with services.sessions() as session, session.begin():
        conn = _still_broken(session, int(payload["connection_id"]), episode)
        if conn is None or index >= len(days):
            return SyncOutcome(done=True)  # reconnected: the reminders stop here
        _queue_for_owners(
            services,
            session,
            conn,
            "connection_reminder",
            days=days[index],
            last_reminder=index == len(days) - 1,
        )
        _schedule_reminder(session, services, conn.id, episode, index + 1)
    return SyncOutcome(done=True)
