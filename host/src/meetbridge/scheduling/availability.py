"""Availability in the database: weekly windows, busy time, and slots for a meeting type."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, inspect, select, update
from sqlalchemy.orm import Session

from meetbridge.models import (
    Assignment,
    AvailabilityWindow,
    Booking,
    BookingHost,
    BookingStatus,
    MeetingType,
    User,
)
from meetbridge.scheduling.slots import Interval, Slot, Window, combine, host_slots

WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
OFFICE_HOURS = [Window(d, time(9), time(17)) for d in range(5)]
MAX_RANGE = timedelta(days=62)
# The longest a booking can last: a meeting type's duration is at most 24 hours (see
# MeetingType._check_duration) and a booking keeps its length when it moves.
MAX_BOOKING_LENGTH = timedelta(hours=24)


class AvailabilityError(ValueError):
    """Bad availability input; the message says what to change."""


def parse_windows(spec: str) -> list[Window]:
    """Parse ``"mon-fri 09:00-17:00; sat 10:00-12:00"`` into windows."""
    windows: list[Window] = []
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        try:
            days, hours = part.split()
            start_s, end_s = hours.split("-")
            start, end = time.fromisoformat(start_s), time.fromisoformat(end_s)
            if "-" in days:
                first, last = (WEEKDAYS[d] for d in days.lower().split("-"))
                day_list = list(range(first, last + 1))
            else:
                day_list = [WEEKDAYS[d] for d in days.lower().split(",")]
        except (ValueError, KeyError):
            raise AvailabilityError(
                f"Cannot read {part!r}: write e.g. 'mon-fri 09:00-17:00; sat 10:00-12:00'."
            ) from None
        if end != time(0) and end <= start:
            raise AvailabilityError(f"{part!r}: the end must be after the start.")
        windows += [Window(d, start, end) for d in day_list]
    return windows


def set_weekly_availability(session: Session, user: User, windows: Iterable[Window]) -> None:
    session.execute(delete(AvailabilityWindow).where(AvailabilityWindow.user_id == user.id))
    for w in windows:
        session.add(
            AvailabilityWindow(
                user_id=user.id, weekday=w.weekday, start_time=w.start, end_time=w.end
            )
        )
    session.flush()


def windows_of(session: Session, user_id: int) -> list[Window]:
    rows = session.scalars(
        select(AvailabilityWindow).where(AvailabilityWindow.user_id == user_id)
    ).all()
    return [Window(r.weekday, r.start_time, r.end_time) for r in rows]


def windows_by_user(session: Session, user_ids: Sequence[int]) -> dict[int, list[Window]]:
    """The weekly windows of several people in one query (``windows_of`` for each)."""
    found: dict[int, list[Window]] = {u: [] for u in user_ids}
    w = AvailabilityWindow
    rows = session.execute(  # plain rows, not ORM objects: they are only read
        select(w.user_id, w.weekday, w.start_time, w.end_time)
        .where(w.user_id.in_(list(found)))
        .order_by(w.id)
    )
    for user_id, weekday, start, end in rows:
        found[user_id].append(Window(weekday, start, end))
    return found


def _host_users(session: Session, mt: MeetingType) -> dict[int, User]:
    """The type's hosts as users: those loaded with it, else one query."""
    hosts = list(mt.hosts)
    if all("user" not in inspect(h).unloaded for h in hosts):
        return {h.user_id: h.user for h in hosts}
    ids = [h.user_id for h in hosts]
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))}


def busy_intervals(
    session: Session,
    user_ids: Sequence[int],
    start: datetime,
    end: datetime,
    *,
    exclude_booking_id: int | None = None,
) -> dict[int, list[Interval]]:
    """Confirmed bookings of these hosts overlapping [start, end).

    The query is shaped so its cost follows the bookings *in the range*, not a host's whole
    history (docs/performance.md, "Slots at scale"): a booking lasts at most
    ``MAX_BOOKING_LENGTH``, so one that overlaps the range starts after ``start`` minus that,
    which bounds ``start_at`` on both sides for the ``ix_bookings_start`` index; the bookings
    found are joined to their hosts through ``ix_booking_hosts_booking``. ``user_id + 0``
    keeps the planners (SQLite's above all, which has no statistics) from walking every past
    booking of each host through ``ix_booking_hosts_user`` instead.
    """
    stmt = (
        select(BookingHost.user_id, Booking.start_at, Booking.end_at)
        .join(Booking, Booking.id == BookingHost.booking_id)
        .where(
            (BookingHost.user_id + 0).in_(user_ids),
            Booking.status == BookingStatus.CONFIRMED,
            Booking.start_at < end,
            Booking.start_at > start - MAX_BOOKING_LENGTH,
            Booking.end_at > start,
        )
    )
    if exclude_booking_id is not None:
        stmt = stmt.where(Booking.id != exclude_booking_id)
    busy: dict[int, list[Interval]] = {u: [] for u in user_ids}
    for user_id, b_start, b_end in session.execute(stmt):
        busy[user_id].append(Interval(b_start, b_end))
    return busy


def lock_hosts(session: Session, user_ids: Sequence[int]) -> None:
    """Serialise bookings touching these hosts: row locks on PostgreSQL (in id order, so two
    bookings never deadlock), the database write lock on SQLite."""
    ids = sorted(set(user_ids))
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(User).where(User.id.in_(ids)).values(active=User.active))
    else:
        session.execute(select(User.id).where(User.id.in_(ids)).order_by(User.id).with_for_update())


def slots_for(
    session: Session,
    mt: MeetingType,
    range_start: datetime,
    range_end: datetime,
    *,
    now: datetime,
    exclude_booking_id: int | None = None,
) -> list[Slot]:
    """Bookable slots of ``mt`` starting in [range_start, range_end)."""
    if range_end <= range_start:
        raise AvailabilityError("The end of the range must be after its start.")
    if range_end - range_start > MAX_RANGE:
        raise AvailabilityError("Ask for at most 62 days of slots at a time.")
    host_ids = [h.user_id for h in mt.hosts]
    duration = timedelta(minutes=mt.duration_minutes)
    buffer = timedelta(minutes=mt.buffer_minutes)
    step = timedelta(minutes=mt.slot_interval_minutes or mt.duration_minutes)
    earliest = now + timedelta(minutes=mt.min_notice_minutes)
    busy = busy_intervals(
        session,
        host_ids,
        range_start - duration - buffer,
        range_end + duration + buffer,
        exclude_booking_id=exclude_booking_id,
    )
    users = _host_users(session, mt)
    windows = windows_by_user(session, host_ids)
    per_host = {
        host_id: host_slots(
            windows=windows[host_id],
            zone=ZoneInfo(users[host_id].timezone),
            busy=busy[host_id],
            range_start=range_start,
            range_end=range_end,
            duration=duration,
            step=step,
            buffer=buffer,
            earliest=earliest,
        )
        for host_id in host_ids
        if users[host_id].active
    }
    return combine(
        per_host,
        hosts=host_ids,
        collective=mt.assignment == Assignment.COLLECTIVE,
        duration=duration,
    )
