"""Noticing the changes platforms hear about, in the transaction that makes them.

:func:`install_event_capture` listens to the sessions of a ``sessionmaker``: before each flush
it notes the state changes that are platform events (a meeting provisioned, or given up on;
a connection needing reconnection, or revoked), and just before the transaction commits it
queues them with :func:`meetbridge.web.platform_webhooks.emit`, so an event is queued exactly
when its change commits, whichever code path made it (web request, worker, CLI). A rollback
forgets them.

"Given up on" is read from the lifecycle's own final word: a meeting that found no provider
(status ``none``), or the ``conferencing_failed`` alert the lifecycle sends when it stops
trying (``ConferencingLifecycle.mark_failed``); a failed attempt that is followed by another
candidate is not an event.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from meetbridge.models import (
    Booking,
    Connection,
    ConnectionStatus,
    Meeting,
    MeetingStatus,
    OutboundMessage,
    User,
)
from meetbridge.web.platform_webhooks import emit

# The lifecycle's "last word" on a booking's conferencing (see ConferencingLifecycle.mark_failed).
_FINAL_FAILURE_EMAIL = "conferencing_failed"


def _changed_to(obj: Any, attribute: str) -> Any:
    """The new value of ``attribute`` if this flush changes it, else None."""
    history = inspect(obj).attrs[attribute].history
    if not history.added:
        return None
    old = history.deleted[0] if history.deleted else None
    new = history.added[0]
    return new if new != old else None


def _booking_data(session: Session, meeting: Meeting) -> tuple[Booking | None, dict[str, Any]]:
    booking = session.get(Booking, meeting.booking_id)
    if booking is None:
        return None, {}
    return booking, {
        "booking": {
            "uid": booking.uid,
            "meeting_type": booking.meeting_type.slug,
            "start": booking.start_at.isoformat(),
            "end": booking.end_at.isoformat(),
            "status": str(booking.status),
        },
        "provider": meeting.provider,
    }


_PENDING = "meetbridge.platform_events"
Pending = list[tuple[int, str, dict[str, Any], "int | None"]]


def _meeting_event(session: Session, meeting: Meeting, pending: Pending, failed: set[int]) -> None:
    status = _changed_to(meeting, "status")
    if status not in (MeetingStatus.PROVISIONED, MeetingStatus.NONE):
        return
    booking, data = _booking_data(session, meeting)
    if booking is None:
        return
    if status == MeetingStatus.PROVISIONED:
        data.update(join_url=meeting.join_url, passcode=meeting.passcode)
        pending.append((booking.organization_id, "conferencing.provisioned", data, booking.id))
    else:
        data.update(reason="no_video_connection", message=meeting.last_error or "")
        failed.add(booking.id)
        pending.append((booking.organization_id, "conferencing.failed", data, booking.id))


def _connection_event(session: Session, conn: Connection, pending: Pending) -> None:
    status = _changed_to(conn, "status")
    kind = {
        ConnectionStatus.NEEDS_RECONNECT: "connection.needs_reconnect",
        ConnectionStatus.REVOKED: "connection.revoked",
    }.get(status)
    if kind is None:
        return
    owner = session.get(User, conn.owner_user_id) if conn.owner_user_id else None
    data = {
        "connection": {
            "id": conn.id,
            "provider": conn.provider,
            "owner": owner.email if owner else "organisation",
            "status": str(status),
        },
        "reason": conn.last_error or "",
    }
    pending.append((conn.organization_id, kind, data, None))


def _final_failure_event(session: Session, booking_id: int, pending: Pending) -> None:
    meeting = session.scalars(
        select(Meeting).where(Meeting.booking_id == booking_id).order_by(Meeting.id.desc())
    ).first()
    if meeting is None:
        return
    booking, data = _booking_data(session, meeting)
    if booking is not None:
        data.update(reason="provider_error", message=meeting.last_error or "")
        pending.append((booking.organization_id, "conferencing.failed", data, booking.id))


def _collect(session: Session, _context: Any, _instances: Any) -> None:
    """``before_flush``: note the state changes in this flush that platforms hear about.

    Nothing is written here (a flush cannot add to itself); :func:`_emit_collected` queues
    the events just before the transaction commits, and a rollback forgets them.
    """
    pending: Pending = session.info.setdefault(_PENDING, [])
    failed: set[int] = set()
    with session.no_autoflush:
        for obj in [*session.new, *session.dirty]:
            if isinstance(obj, Meeting):
                _meeting_event(session, obj, pending, failed)
            elif isinstance(obj, Connection) and obj in session.dirty:
                _connection_event(session, obj, pending)
            elif (
                isinstance(obj, OutboundMessage)
                and obj.channel == "email"
                and obj.kind == _FINAL_FAILURE_EMAIL
                and obj.booking_id is not None
                and obj.booking_id not in failed
            ):
                failed.add(obj.booking_id)
                _final_failure_event(session, obj.booking_id, pending)


def _emit_collected(session: Session) -> None:
    """``before_commit``: flush what is left (collecting its events), then queue them all."""
    session.flush()
    pending: Pending = session.info.pop(_PENDING, [])
    for organization_id, kind, data, booking_id in pending:
        emit(session, organization_id, kind, data, booking_id=booking_id)


def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


def install_event_capture(sessions: sessionmaker[Session]) -> None:
    """Queue platform events for every change committed through sessions from ``sessions``."""
    for name, listener in (
        ("before_flush", _collect),
        ("before_commit", _emit_collected),
        ("after_rollback", _forget),
    ):
        if not event.contains(sessions, name, listener):
            event.listen(sessions, name, listener)
