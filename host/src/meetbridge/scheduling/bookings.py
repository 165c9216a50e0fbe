"""Bookings: book, reschedule, cancel, explain, reprovision.

The service layer that the CLI, the web pages and the REST API call; no business logic lives
in handlers. Every change is one transaction that also enqueues the conferencing job, so a
booking can never exist without the work that gives it a meeting; the job is then run at once
with a short time budget so the confirmation usually carries the link.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from meetbridge.conferencing.lifecycle import WhenCreated, wants_video, when_created
from meetbridge.db import utcnow
from meetbridge.jobs import queue
from meetbridge.jobs.worker import SYNC_CONFERENCING, Worker
from meetbridge.models import (
    Assignment,
    Attendee,
    Booking,
    BookingHost,
    BookingStatus,
    Connection,
    ConnectionStatus,
    LocationKind,
    Meeting,
    MeetingStatus,
    MeetingType,
    MeetingTypeHost,
)
from meetbridge.scheduling.assignment import Candidate, choose_hosts
from meetbridge.scheduling.availability import lock_hosts, slots_for
from meetbridge.scheduling.meeting_types import meeting_type_by_slug
from meetbridge.scheduling.slots import Slot
from meetbridge.settings import validate_timezone

if TYPE_CHECKING:
    from meetbridge.services import Services

INLINE_BUDGET_SECONDS = 5.0


class BookingError(ValueError):
    """The booking cannot be made or changed; the message says why and what to do."""


class SlotUnavailable(BookingError):
    """The slot is not (or no longer) free."""


@dataclass(frozen=True)
class BookingRequest:
    meeting_type: str  # slug
    start: datetime  # aware
    name: str
    email: str
    timezone: str  # the booker's IANA zone
    video: bool | None = None  # for per-booking video types
    notes: str = ""


@dataclass(frozen=True)
class BookingResult:
    booking_id: int
    uid: str
    status: str
    start: datetime
    end: datetime
    host_emails: tuple[str, ...]
    conferencing: str  # meeting status, or "none"/"not_requested"
    provider: str | None
    join_url: str | None
    manage_token: str | None = None  # only when just created: shown once, stored hashed


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _require_aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None:
        raise BookingError(f"{what} must include a UTC offset or zone (e.g. 2026-12-01T15:00Z).")
    return value.astimezone(UTC)


class BookingService:
    def __init__(
        self,
        services: Services,
        worker: Worker | None = None,
        *,
        inline_budget: float | None = INLINE_BUDGET_SECONDS,
        clock: Any = None,
    ) -> None:
        self.services = services
        self.worker = worker or Worker(services)
        self.inline_budget = inline_budget
        self.clock = clock or services.clock or (lambda: datetime.now(UTC))

    # -- slots ---------------------------------------------------------------------------------
    def slots(
        self, slug: str, start: datetime, end: datetime, organization_id: int | None = None
    ) -> list[Slot]:
        start, end = _require_aware(start, "start"), _require_aware(end, "end")
        with self.services.sessions() as session:
            mt = meeting_type_by_slug(session, slug, organization_id)
            return slots_for(session, mt, start, end, now=self.clock())

    # -- book ----------------------------------------------------------------------------------
    async def book(self, req: BookingRequest, organization_id: int | None = None) -> BookingResult:
        try:
            validate_timezone(req.timezone)
        except ValueError as exc:
            raise BookingError(str(exc)) from None
        start = _require_aware(req.start, "The start time")
        email = req.email.strip().lower()
        if "@" not in email or not req.name.strip():
            raise BookingError("A booking needs a name and a valid email address.")
        token = secrets.token_urlsafe(24)
        claim = self._claims_inline()
        with self.services.sessions() as session, session.begin():
            mt = meeting_type_by_slug(session, req.meeting_type, organization_id)
            if not mt.active:
                raise BookingError(f"{mt.name} is not open for booking.")
            host_ids = [h.user_id for h in mt.hosts]
            lock_hosts(session, host_ids)
            free = self._free_hosts(session, mt, start, exclude_booking_id=None)
            chosen = choose_hosts(
                mt.assignment,
                host_ids,
                free,
                self._candidates(session, mt),
                skip_broken_video=mt.skip_hosts_with_broken_video,
            )
            if not chosen:
                raise SlotUnavailable("That time is no longer available; pick another slot.")
            booking = Booking(
                uid=uuid.uuid4().hex,
                organization_id=mt.organization_id,
                meeting_type_id=mt.id,
                start_at=start,
                end_at=start + timedelta(minutes=mt.duration_minutes),
                booker_timezone=req.timezone,
                status=BookingStatus.CONFIRMED,
                revision=0,
                video=True if req.video is None else req.video,
                manage_token_hash=hash_token(token),
                notes=req.notes[:5000],
            )
            booking.meeting_type = mt
            users = {h.user_id: h.user for h in mt.hosts}  # loaded with the meeting type
            booking.hosts = [
                BookingHost(user_id=u, user=users[u], position=i) for i, u in enumerate(chosen)
            ]
            booking.attendees = [
                Attendee(name=req.name.strip()[:200], email=email, timezone=req.timezone)
            ]
            session.add(booking)
            session.flush()
            if claim:
                # The new booking's sync job, claimed for this process's worker in the same
                # transaction: run at once below without a second transaction to claim it.
                job = queue.add_new(
                    session,
                    SYNC_CONFERENCING,
                    {"booking_id": booking.id},
                    key=self._sync_key(booking),
                    claimed_by=self.worker.worker_id,
                )
            else:
                job_id = self._enqueue(session, booking)
            booking_id = booking.id
        # The booking as this transaction made it (sessions do not expire objects on commit):
        # with its type, hosts and attendee loaded, the messages and the result need no reload.
        if claim:
            # When the meeting is made in time, the confirmations (with its link) are queued
            # in the transaction that stores it (see WhenCreated); otherwise below.
            hook = WhenCreated(
                booking_id,
                lambda session, meeting: self._queue_change(
                    session, booking, meeting, "booking_confirmed", token
                ),
            )
            with when_created(hook):
                # The job was inserted by the commit, which gave it its id.
                await self.worker.run_job_now(job.id, self.inline_budget, claimed=job)
            if hook.done:
                return hook.result
        else:
            await self._run_inline(job_id)
        return self._confirm(booking_id, "booking_confirmed", manage_token=token, loaded=booking)

    def _claims_inline(self) -> bool:
        """Whether the booking transaction may claim its sync job for this worker.

        Only for the stock :meth:`Worker.run_job_now`: a worker that overrides it decides
        for itself what runs inline (e.g. one that leaves every job to worker processes).
        """
        return type(self.worker).run_job_now is Worker.run_job_now

    def _free_hosts(
        self, session: Session, mt: MeetingType, start: datetime, *, exclude_booking_id: int | None
    ) -> list[int]:
        if start < self.clock():
            raise BookingError("That time is in the past; pick a future slot.")
        slots = slots_for(
            session,
            mt,
            start,
            start + timedelta(seconds=1),
            now=self.clock(),
            exclude_booking_id=exclude_booking_id,
        )
        if not slots or slots[0].start != start:
            raise SlotUnavailable(
                "That time is not a bookable slot (outside availability, too soon, or taken);"
                " pick one of the listed slots."
            )
        return list(slots[0].free_hosts)

    def _candidates(self, session: Session, mt: MeetingType) -> dict[int, Candidate]:
        """What round-robin weighs (only it reads them: other modes get none, no queries)."""
        from sqlalchemy import func

        if mt.assignment != Assignment.ROUND_ROBIN:
            return {}
        last = dict(
            session.execute(
                select(BookingHost.user_id, func.max(Booking.created_at))
                .join(Booking, Booking.id == BookingHost.booking_id)
                .where(Booking.meeting_type_id == mt.id, Booking.status == BookingStatus.CONFIRMED)
                .group_by(BookingHost.user_id)
            ).all()
        )
        providers = (
            set(mt.location_providers or []) if mt.location_kind == LocationKind.PROVIDER else set()
        )
        healthy: set[int] = set()
        if providers:
            healthy = set(
                session.scalars(
                    select(Connection.owner_user_id).where(
                        Connection.provider.in_(providers),
                        Connection.status == ConnectionStatus.ACTIVE,
                        Connection.owner_user_id.is_not(None),
                    )
                )
            )
        return {
            h.user_id: Candidate(
                h.user_id,
                h.position,
                h.priority,
                last.get(h.user_id),
                video_ok=(not providers) or h.user_id in healthy,
            )
            for h in mt.hosts
        }

    @staticmethod
    def _sync_key(booking: Booking) -> str:
        return f"sync:{booking.id}:r{booking.revision}"

    def _enqueue(self, session: Session, booking: Booking) -> int:
        job = queue.enqueue(
            session, SYNC_CONFERENCING, {"booking_id": booking.id}, key=self._sync_key(booking)
        )
        session.flush()
        return job.id

    async def _run_inline(self, job_id: int) -> None:
        await self.worker.run_job_now(job_id, self.inline_budget)

    # -- reschedule / cancel -------------------------------------------------------------------
    async def reschedule(
        self, booking_id: int, new_start: datetime, *, actor: str
    ) -> BookingResult:
        new_start = _require_aware(new_start, "The new start time")
        with self.services.sessions() as session, session.begin():
            booking = self._booking(session, booking_id)
            if booking.status != BookingStatus.CONFIRMED:
                raise BookingError("A cancelled booking cannot be rescheduled; book again.")
            mt = booking.meeting_type
            host_ids = [h.user_id for h in mt.hosts]
            current = [h.user_id for h in booking.hosts]
            lock_hosts(session, [*host_ids, *current])
            free = self._free_hosts(session, mt, new_start, exclude_booking_id=booking.id)
            if mt.assignment == Assignment.ROUND_ROBIN and current and current[0] in free:
                chosen = current  # keep the host when they can still make it
            else:
                chosen = choose_hosts(
                    mt.assignment,
                    host_ids,
                    free,
                    self._candidates(session, mt),
                    skip_broken_video=mt.skip_hosts_with_broken_video,
                )
            if not chosen:
                raise SlotUnavailable("That time is no longer available; pick another slot.")
            duration = booking.end_at - booking.start_at
            booking.start_at, booking.end_at = new_start, new_start + duration
            if chosen != current:
                booking.hosts = [BookingHost(user_id=u, position=i) for i, u in enumerate(chosen)]
            booking.revision += 1
            self._audit(session, booking, actor, "booking.rescheduled")
            job_id = self._enqueue(session, booking)
        await self._run_inline(job_id)
        return self._confirm(booking_id, "booking_rescheduled")

    async def cancel(self, booking_id: int, *, actor: str, reason: str = "") -> BookingResult:
        with self.services.sessions() as session, session.begin():
            booking = self._booking(session, booking_id)
            if booking.status == BookingStatus.CANCELLED:
                return self.result(booking_id)  # cancelling twice is not an error
            booking.status = BookingStatus.CANCELLED
            booking.cancelled_at = utcnow()
            booking.revision += 1
            self._audit(session, booking, actor, "booking.cancelled", reason=reason)
            job_id = self._enqueue(session, booking)
        await self._run_inline(job_id)
        return self._confirm(booking_id, "booking_cancelled")

    def booking_for_token(self, uid: str, token: str) -> int:
        """The booking a private manage link opens; constant-time check of the token."""
        with self.services.sessions() as session:
            booking = session.scalars(select(Booking).where(Booking.uid == uid)).first()
            if booking is None or not hmac.compare_digest(
                booking.manage_token_hash, hash_token(token)
            ):
                raise BookingError("This manage link is not valid.")
            return booking.id

    # -- reprovision ---------------------------------------------------------------------------
    async def reprovision(self, booking_ids: list[int] | None = None) -> list[int]:
        """Give video again to future bookings that lack it (after someone reconnected)."""
        now = self.clock()
        with self.services.sessions() as session, session.begin():
            stmt = select(Booking).where(
                Booking.status == BookingStatus.CONFIRMED, Booking.start_at > now
            )
            if booking_ids:
                stmt = select(Booking).where(Booking.id.in_(booking_ids))
            todo: list[int] = []
            for booking in session.scalars(stmt.options(selectinload(Booking.meeting_type))):
                if not wants_video(booking):
                    continue
                meeting = session.scalars(
                    select(Meeting)
                    .where(Meeting.booking_id == booking.id)
                    .order_by(Meeting.id.desc())
                ).first()
                if meeting is not None and meeting.status in (
                    MeetingStatus.PROVISIONED,
                    MeetingStatus.PENDING,
                ):
                    continue
                if (
                    meeting is not None
                    and meeting.status in (MeetingStatus.NONE, MeetingStatus.FAILED)
                    # A failed attempt whose answer was lost may have made it: the sync looks
                    # for it first instead of making a second one.
                    and not (meeting.extra or {}).get("in_flight")
                ):
                    meeting.status = MeetingStatus.DELETED  # superseded by a new attempt
                    meeting.last_error = (meeting.last_error or "") + " (reprovisioned)"
                queue.enqueue(
                    session,
                    SYNC_CONFERENCING,
                    {"booking_id": booking.id},
                    key=f"reprovision:{booking.id}:{uuid.uuid4().hex[:8]}",
                )
                todo.append(booking.id)
        await self.worker.drain()
        return todo

    # -- reads ---------------------------------------------------------------------------------
    @staticmethod
    def _booking(session: Session, booking_id: int) -> Booking:
        booking = session.scalars(
            select(Booking)
            .where(Booking.id == booking_id)
            .options(
                selectinload(Booking.meeting_type)
                .selectinload(MeetingType.hosts)
                .selectinload(MeetingTypeHost.user),
                selectinload(Booking.hosts).selectinload(BookingHost.user),
                selectinload(Booking.attendees),
            )
        ).first()
        if booking is None:
            raise BookingError(f"No booking {booking_id}.")
        return booking

    @staticmethod
    def _audit(session: Session, booking: Booking, actor: str, action: str, **data: Any) -> None:
        from meetbridge.models import AuditEvent

        session.add(
            AuditEvent(
                organization_id=booking.organization_id,
                actor=actor,
                action=action,
                subject_type="booking",
                subject_id=str(booking.id),
                data=data,
            )
        )

    def result(self, booking_id: int, manage_token: str | None = None) -> BookingResult:
        with self.services.sessions() as session:
            booking = self._booking(session, booking_id)
            meeting = self._latest_meeting(session, booking_id)
            return self._result_of(booking, meeting, manage_token)

    @staticmethod
    def _result_of(
        booking: Booking, meeting: Meeting | None, manage_token: str | None = None
    ) -> BookingResult:
        if not wants_video(booking) and booking.status == BookingStatus.CONFIRMED:
            conferencing = "not_requested"
        else:
            conferencing = meeting.status if meeting else MeetingStatus.PENDING
        return BookingResult(
            booking_id=booking.id,
            uid=booking.uid,
            status=booking.status,
            start=booking.start_at,
            end=booking.end_at,
            host_emails=tuple(h.user.email for h in booking.hosts),
            conferencing=str(conferencing),
            provider=meeting.provider if meeting else None,
            join_url=meeting.join_url
            if meeting and meeting.status == MeetingStatus.PROVISIONED
            else None,
            manage_token=manage_token,
        )

    @staticmethod
    def _latest_meeting(session: Session, booking_id: int) -> Meeting | None:
        return session.scalars(
            select(Meeting)
            .where(Meeting.booking_id == booking_id)
            .order_by(Meeting.id.desc())
            .limit(1)
        ).first()

    def list_bookings(
        self, *, status: str | None = None, upcoming: bool = False, limit: int = 100
    ) -> list[BookingResult]:
        """Bookings, soonest first (upcoming) or newest first."""
        with self.services.sessions() as session:
            stmt = select(Booking.id)
            if status:
                stmt = stmt.where(Booking.status == status)
            if upcoming:
                stmt = stmt.where(Booking.start_at >= self.clock()).order_by(Booking.start_at)
            else:
                stmt = stmt.order_by(Booking.start_at.desc())
            ids = list(session.scalars(stmt.limit(limit)))
        return [self.result(i) for i in ids]

    def explain(self, booking_id: int) -> dict[str, Any]:
        """Everything about a booking's conferencing: the decision, its reasons, history."""
        with self.services.sessions() as session:
            booking = self._booking(session, booking_id)
            meetings = session.scalars(
                select(Meeting).where(Meeting.booking_id == booking_id).order_by(Meeting.id)
            ).all()
            conns = {
                c.id: c
                for c in session.scalars(
                    select(Connection).where(
                        Connection.id.in_([m.connection_id for m in meetings if m.connection_id])
                    )
                )
            }
            return {
                "booking": {
                    "id": booking.id,
                    "uid": booking.uid,
                    "status": booking.status,
                    "meeting_type": booking.meeting_type.slug,
                    "start": booking.start_at.isoformat(),
                    "end": booking.end_at.isoformat(),
                    "revision": booking.revision,
                    "hosts": [h.user.email for h in booking.hosts],
                    "video_requested": wants_video(booking),
                },
                "meetings": [
                    {
                        "id": m.id,
                        "status": m.status,
                        "provider": m.provider,
                        "connection": (
                            {
                                "id": m.connection_id,
                                "owner": "organisation"
                                if conns[m.connection_id].is_account_level
                                else conns[m.connection_id].email,
                                "status": conns[m.connection_id].status,
                            }
                            if m.connection_id in conns
                            else None
                        ),
                        "host": m.host_user_external or None,
                        "external_id": m.external_id,
                        "join_url": m.join_url,
                        "attempts": m.attempts,
                        "last_error": m.last_error,
                        "synced_revision": m.synced_revision,
                        "resolution": m.resolution,
                    }
                    for m in meetings
                ],
            }

    # -- messages ------------------------------------------------------------------------------
    def _confirm(
        self,
        booking_id: int,
        kind: str,
        manage_token: str | None = None,
        *,
        loaded: Booking | None = None,
    ) -> BookingResult:
        """Queue the messages about a change: attendees and every host, with the invitation;
        return the booking's result as the caller gets it.

        Runs after the change committed; a failure here is logged, never raised, so sending
        can never fail a booking (delivery itself happens later, in the worker). ``loaded``:
        the booking as the change's transaction left it (type, hosts with their users and
        attendees loaded), read instead of loading it again.
        """
        with self.services.sessions() as session, session.begin():
            booking = loaded if loaded is not None else self._booking(session, booking_id)
            meeting = self._latest_meeting(session, booking_id)
            return self._queue_change(session, booking, meeting, kind, manage_token)

    def _queue_change(
        self,
        session: Session,
        booking: Booking,
        meeting: Meeting | None,
        kind: str,
        manage_token: str | None = None,
    ) -> BookingResult:
        """Queue the messages about ``kind`` in ``session``'s transaction (never raises:
        a message that cannot be made is logged, not the change's failure); the result."""
        from meetbridge.notifications import messages

        pending = (
            wants_video(booking)
            and booking.status == BookingStatus.CONFIRMED
            and meeting is not None
            and meeting.status == MeetingStatus.PENDING
        )
        if pending and meeting is not None:
            # The client reads "your link is on its way": the link follows when it is made.
            meeting.extra = {**(meeting.extra or {}), "client_told_pending": True}
        with messages.guarded(session, f"{kind} messages for booking {booking.id}"):
            messages.queue_booking_change(
                session,
                self.services,
                booking,
                kind,
                manage_token=manage_token,
                meeting=meeting,
            )
        return self._result_of(booking, meeting, manage_token)
