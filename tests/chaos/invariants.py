"""The invariants a campaign must end with, checked against the providers' own state.

Each check returns a :class:`Check`: what was counted, the value, and whether it holds. The
provider side is read from the sandboxes (the meetings that really exist, with the booking key
each carries); the host side from the database.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from meetbridge.conferencing.lifecycle import wants_video
from meetbridge.models import (
    Booking,
    BookingHost,
    BookingStatus,
    Connection,
    ConnectionStatus,
    Job,
    JobStatus,
    Meeting,
    MeetingStatus,
    OutboundMessage,
)
from meetbridge.services import Services
from tests.chaos.sandboxes import ProviderMeeting, Sandboxes

FINAL_WANTED = {MeetingStatus.PROVISIONED, MeetingStatus.NONE, MeetingStatus.FAILED}
FINAL_CANCELLED = {
    MeetingStatus.DELETED,
    MeetingStatus.LEFT_AT_PROVIDER,
    MeetingStatus.NONE,
    MeetingStatus.FAILED,
}
CONNECTION_NOTICES = {"connection_needs_reconnect", "connection_removed"}
CONFERENCING_JOB = "sync_conferencing"
CONNECTION_NOTICE = "connection_notice"


@dataclass
class Check:
    name: str
    value: int | float | str
    ok: bool = True
    detail: list[str] = field(default_factory=list)


@dataclass
class Snapshot:
    """Everything the checks read, loaded once after the run."""

    bookings: list[Booking]
    meetings: list[Meeting]
    connections: dict[int, Connection]
    messages: list[OutboundMessage]
    jobs: list[Job]
    live: list[ProviderMeeting]

    @classmethod
    def load(cls, services: Services, sandboxes: Sandboxes) -> Snapshot:
        with services.sessions() as session:
            bookings = list(
                session.scalars(
                    select(Booking).options(
                        selectinload(Booking.meeting_type),
                        selectinload(Booking.hosts).selectinload(BookingHost.user),
                        selectinload(Booking.attendees),
                    )
                )
            )
            return cls(
                bookings=bookings,
                meetings=list(session.scalars(select(Meeting).order_by(Meeting.id))),
                connections={
                    c.id: c
                    for c in session.scalars(
                        select(Connection).options(selectinload(Connection.owner))
                    )
                },
                messages=list(session.scalars(select(OutboundMessage))),
                jobs=list(session.scalars(select(Job))),
                live=sandboxes.live_meetings(),
            )


def _latest(meetings: list[Meeting]) -> dict[int, Meeting]:
    latest: dict[int, Meeting] = {}
    for m in meetings:  # ordered by id: the last one wins, as on the booking page
        latest[m.booking_id] = m
    return latest


def final_states(snap: Snapshot) -> Check:
    """Every booking shows a final conferencing state (nothing left "pending")."""
    latest = _latest(snap.meetings)
    bad = []
    for b in snap.bookings:
        m = latest.get(b.id)
        if b.status == BookingStatus.CONFIRMED and wants_video(b):
            if m is None or m.status not in FINAL_WANTED:
                bad.append(f"booking {b.id} confirmed, meeting {m.status if m else 'missing'}")
            elif m.status == MeetingStatus.PROVISIONED and not m.join_url:
                bad.append(f"booking {b.id} provisioned without a join link")
        elif (
            b.status == BookingStatus.CANCELLED
            and m is not None
            and m.status not in FINAL_CANCELLED
        ):
            bad.append(f"booking {b.id} cancelled, meeting {m.status}")
    return Check("bookings not in a final visible state", len(bad), not bad, bad)


def provider_side(snap: Snapshot) -> list[Check]:
    """Duplicates, orphans, lost links, wrong times and wrong accounts, at the providers."""
    by_key: dict[tuple[str, str], list[ProviderMeeting]] = defaultdict(list)
    for pm in snap.live:
        by_key[(pm.provider, pm.key)].append(pm)
    bookings = {b.id: b for b in snap.bookings}
    latest = _latest(snap.meetings)
    claimed: set[tuple[str, str]] = set()
    duplicates, orphans, lost, wrong_time, wrong_account, left = [], [], [], [], [], 0
    live_per_booking: dict[int, int] = defaultdict(int)
    for m in snap.meetings:
        if not m.provider or not m.idempotency_key:
            continue
        key = (m.provider, Sandboxes.key_seen_at(m.provider, m.idempotency_key))
        claimed.add(key)
        found = by_key.get(key, [])
        booking = bookings[m.booking_id]
        if len(found) > 1:
            duplicates.append(f"booking {m.booking_id}: {len(found)} {m.provider} meetings")
        if m.status == MeetingStatus.LEFT_AT_PROVIDER:
            left += len(found)
            continue
        live_per_booking[m.booking_id] += len(found)
        if m.status != MeetingStatus.PROVISIONED:
            if found:
                orphans.append(f"booking {m.booking_id}: {m.provider} meeting, row {m.status}")
            continue
        if booking.status == BookingStatus.CANCELLED:
            orphans.append(f"booking {m.booking_id} cancelled but its meeting is provisioned")
        if not any(pm.external_id == m.external_id for pm in found):
            lost.append(f"booking {m.booking_id}: {m.provider} {m.external_id} not at provider")
            continue
        if latest.get(m.booking_id) is m and booking.status == BookingStatus.CONFIRMED:
            pm = next(pm for pm in found if pm.external_id == m.external_id)
            if (pm.start, pm.end) != (booking.start_at, booking.end_at):
                wrong_time.append(
                    f"booking {m.booking_id}: {m.provider} has {pm.start:%m-%d %H:%M},"
                    f" booking {booking.start_at:%m-%d %H:%M}"
                )
            expected = _expected_owner(m, snap.connections)
            if expected and pm.owner.lower() != expected.lower():
                wrong_account.append(f"booking {m.booking_id}: on {pm.owner}, not {expected}")
    for booking_id, count in live_per_booking.items():
        if count > 1:
            duplicates.append(f"booking {booking_id}: {count} live meetings across providers")
    unknown = [
        f"{pm.provider} {pm.external_id} ({pm.key})"
        for k, pms in by_key.items()
        if k not in claimed
        for pm in pms
    ]
    orphans += [f"unrecorded meeting {u}" for u in unknown]
    return [
        Check("duplicate meetings at providers", len(duplicates), not duplicates, duplicates),
        Check("meetings left at a provider without a record", len(orphans), not orphans, orphans),
        Check("meetings recorded as left at the provider", left),
        Check("links lost (provisioned, not at the provider)", len(lost), not lost, lost),
        Check("meetings at the wrong time", len(wrong_time), not wrong_time, wrong_time),
        Check(
            "meetings on the wrong account", len(wrong_account), not wrong_account, wrong_account
        ),
    ]


def _expected_owner(m: Meeting, connections: dict[int, Connection]) -> str:
    if m.host_user_external:  # account-level: made for the member, on their Zoom user
        return m.host_user_external
    conn = connections.get(m.connection_id or -1)
    return conn.email if conn is not None else ""


def failures_notified(snap: Snapshot, broken: set[int] = frozenset()) -> Check:  # type: ignore[assignment]
    """Every failure reached someone: no video, failed meetings, dead jobs, broken connections
    (those broken now, and ``broken``: those seen broken before their owner reconnected)."""
    told: dict[int | None, set[str]] = defaultdict(set)
    recipients: dict[str, set[str]] = defaultdict(set)
    for msg in snap.messages:
        told[msg.booking_id].add(msg.kind)
        recipients[msg.kind].add(msg.recipient.lower())
    latest = _latest(snap.meetings)
    bad = []
    for b in snap.bookings:
        m = latest.get(b.id)
        if m is None or b.status != BookingStatus.CONFIRMED:
            continue
        if m.status == MeetingStatus.FAILED and "conferencing_failed" not in told[b.id]:
            bad.append(f"booking {b.id}: meeting failed, nobody told")
        if m.status == MeetingStatus.NONE and "conferencing_unavailable" not in told[b.id]:
            bad.append(f"booking {b.id}: no video, nobody told")
    for job in snap.jobs:
        if job.kind == CONFERENCING_JOB and job.status == JobStatus.DEAD:
            booking_id = int(job.payload["booking_id"])
            if "conferencing_failed" not in told[booking_id]:
                bad.append(f"booking {booking_id}: job {job.id} dead, nobody told")
    noticed = recipients["connection_needs_reconnect"] | recipients["connection_removed"]
    notice_jobs = {
        int(j.payload.get("connection_id", 0)) for j in snap.jobs if j.kind == CONNECTION_NOTICE
    }
    for conn in snap.connections.values():
        if conn.status == ConnectionStatus.ACTIVE:
            # Mended since: its notice was due (it is skipped if the owner was quicker).
            if conn.id in broken and conn.id not in notice_jobs:
                bad.append(f"connection {conn.id} ({conn.provider}) broke, no notice was due")
            continue
        owner = conn.owner.email if conn.owner is not None else None
        if owner is not None and owner.lower() not in noticed:
            bad.append(f"connection {conn.id} ({conn.provider}) {conn.status}, owner not told")
    return Check("failures nobody was told about", len(bad), not bad, bad)


def changes_told(snap: Snapshot) -> Check:
    """Every committed booking change has its message to the client in the outbox (queued in
    the same transaction as the change, so it can never be lost)."""
    sent: dict[tuple[int | None, str], int] = defaultdict(int)
    for msg in snap.messages:
        sent[(msg.booking_id, msg.kind)] += 1
    bad = []
    for b in snap.bookings:
        cancelled = b.status == BookingStatus.CANCELLED
        wanted = {
            "booking_confirmed": 1,
            # every revision is a reschedule, except the last one of a cancelled booking
            "booking_rescheduled": b.revision - (1 if cancelled else 0),
            "booking_cancelled": 1 if cancelled else 0,
        }
        for kind, count in wanted.items():
            have = sent[(b.id, kind)] // max(1, len(b.attendees))
            if have < count:
                bad.append(f"booking {b.id}: {count - have} {kind} message(s) missing")
    return Check("booking changes whose client message was lost", len(bad), not bad, bad)


def jobs_settled(snap: Snapshot, now: datetime) -> list[Check]:
    stuck = [
        f"job {j.id} ({j.kind}) {j.status}"
        for j in snap.jobs
        if j.status == JobStatus.RUNNING or (j.status == JobStatus.QUEUED and j.run_at <= now)
    ]
    pending_conferencing = [
        f"job {j.id} queued until {j.run_at:%Y-%m-%d %H:%M}"
        for j in snap.jobs
        if j.kind == CONFERENCING_JOB and j.status == JobStatus.QUEUED
    ]
    dead = [j for j in snap.jobs if j.status == JobStatus.DEAD]
    return [
        Check("jobs stuck (running, or queued past due)", len(stuck), not stuck, stuck),
        Check(
            "conferencing jobs still waiting",
            len(pending_conferencing),
            not pending_conferencing,
            pending_conferencing,
        ),
        Check("jobs dead-lettered (visible, retryable)", len(dead)),
    ]


def job_overlaps(executions: list[dict[str, Any]], deaths: dict[int, float]) -> Check:
    """No job ran in two places at once: per job, execution intervals never overlap.

    ``executions`` are start/end records (job, worker, pid, t); a start without an end belongs
    to a worker that was killed, and lasted until its process died (``deaths``: pid -> time).
    """
    open_runs: dict[tuple[int, str], tuple[float, int]] = {}
    intervals: dict[int, list[tuple[float, float, str]]] = defaultdict(list)
    for rec in sorted(executions, key=lambda r: r["t"]):
        key = (rec["job"], rec["worker"])
        if rec["event"] == "start":
            open_runs[key] = (rec["t"], rec["pid"])
        elif key in open_runs:
            start, _ = open_runs.pop(key)
            intervals[rec["job"]].append((start, rec["t"], rec["worker"]))
    for (job, worker), (start, pid) in open_runs.items():
        intervals[job].append((start, deaths.get(pid, float("inf")), worker))
    bad = []
    for job, runs in intervals.items():
        runs.sort()
        for (_s1, e1, w1), (s2, _e2, w2) in pairwise(runs):
            if s2 < e1:
                bad.append(f"job {job}: {w1} and {w2} overlapped by {e1 - s2:.3f}s")
    return Check("jobs run twice at the same time", len(bad), not bad, bad)


def no_double_booking(services: Services) -> Check:
    """No host has two confirmed bookings at overlapping times."""
    with services.sessions() as session:
        rows = session.execute(
            select(BookingHost.user_id, Booking.id, Booking.start_at, Booking.end_at)
            .join(Booking, Booking.id == BookingHost.booking_id)
            .where(Booking.status == BookingStatus.CONFIRMED)
            .order_by(BookingHost.user_id, Booking.start_at)
        ).all()
    bad = [
        f"host {a.user_id}: bookings {a.id} and {b.id} overlap"
        for a, b in pairwise(rows)
        if a.user_id == b.user_id and b.start_at < a.end_at
    ]
    return Check("hosts booked twice at the same time", len(bad), not bad, bad)


@dataclass
class Recovery(Check):
    seconds: list[float] = field(default_factory=list)


def reclaimed(kills: list[Any], executions: list[dict[str, Any]]) -> Recovery:
    """Every job a killed worker held was started again by another worker; how soon."""
    starts: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for rec in executions:
        if rec["event"] == "start":
            starts[rec["job"]].append((rec["t"], rec["pid"]))
    seconds, bad = [], []
    for kill in kills:
        for job in kill.jobs_running:
            later = [t for t, pid in starts[job] if t > kill.at and pid != kill.pid]
            if later:
                seconds.append(round(min(later) - kill.at, 2))
            else:
                bad.append(f"job {job} of killed worker {kill.pid} never picked up again")
    held = sum(len(k.jobs_running) for k in kills)
    check = Recovery("jobs of killed workers not picked up again", len(bad), not bad, bad)
    check.seconds = sorted(seconds)
    check.detail = bad or [f"{held} jobs held by killed workers, all taken over"]
    return check


def check_all(
    services: Services,
    sandboxes: Sandboxes,
    now: datetime,
    *,
    broken: set[int] = frozenset(),  # type: ignore[assignment]
) -> list[Check]:
    snap = Snapshot.load(services, sandboxes)
    return [
        final_states(snap),
        *provider_side(snap),
        failures_notified(snap, broken),
        changes_told(snap),
        *jobs_settled(snap, now),
    ]
