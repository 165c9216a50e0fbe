"""Keeping a booking's meeting in step with the booking.

``ConferencingLifecycle.sync(booking_id)`` is a reconciler: it compares what the booking needs
(confirmed with video at this time, for these hosts; or cancelled) with the meeting it has, and
does what closes the gap: create, update, move to another host (delete with the old connection,
create with the new), delete, or record that a meeting was left at the provider because its
connection is gone. Running it twice does nothing the second time, which is what makes job
retries safe; a create that may have happened (timeout after sending) is retried with
``previous_attempt_ambiguous`` so the provider plugin looks before it creates, and that is
settled before anything else is decided (a cancel, a new host, a fallback), so a meeting whose
answer was lost is never left behind unrecorded nor made twice.

Updates and deletes always use the connection that created the meeting, never whoever is
connected now: that is how meetings stop being left behind.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload, object_session

from meetbridge.conferencing.connections import ConnectionService
from meetbridge.conferencing.credentials import ConnectionUnusable
from meetbridge.conferencing.resolution import ConnectionView, HostView, Resolution, resolve
from meetbridge.jobs import queue
from meetbridge.models import (
    Booking,
    BookingHost,
    BookingStatus,
    Connection,
    LocationKind,
    Meeting,
    MeetingStatus,
    VideoMode,
)
from meetbridge.notifications import messages as notifications
from meetbridge.providers import (
    Capability,
    DailyLimitReached,
    GrantRevoked,
    InsufficientScope,
    MeetingGone,
    MeetingRef,
    MeetingRequest,
    ProviderError,
    RateLimited,
    UnsupportedAccount,
    WrongCredential,
)
from meetbridge.providers import Meeting as ProviderMeeting

if TYPE_CHECKING:
    from meetbridge.services import Services

log = logging.getLogger("meetbridge.lifecycle")

# Errors that say "this connection cannot host meetings": try the next candidate instead.
CONNECTION_ERRORS = (GrantRevoked, InsufficientScope, UnsupportedAccount)
ACTIVE_MEETING = (MeetingStatus.PENDING, MeetingStatus.PROVISIONED, MeetingStatus.FAILED)
# A create refused by a per-second rate limit is sent again after the provider's Retry-After,
# up to this many times and only for waits this short (seconds); see _call_create.
QPS_RETRIES = 2
QPS_RETRY_MAX_WAIT = 2.0


@dataclass(frozen=True)
class SyncOutcome:
    """What the job runner should do next."""

    done: bool
    error: str = ""
    retry_after: float | None = None
    run_at: datetime | None = None


DONE = SyncOutcome(done=True)


class _Unread:
    """Not read yet (as opposed to read and absent, ``None``)."""


_UNREAD = _Unread()


@dataclass(frozen=True)
class _Attempt:
    """A create attempt prepared in a transaction, to be sent after it commits."""

    found: bool
    request: MeetingRequest | None = None
    meeting_id: int = 0
    provider: str | None = None
    conn: Connection | None = None
    revision: int = 0
    was_pending_notice: bool = False


def wants_video(booking: Booking) -> bool:
    mt = booking.meeting_type
    if mt.location_kind not in (LocationKind.PROVIDER, LocationKind.HOST_DEFAULT_VIDEO):
        return False
    if mt.video_mode == VideoMode.OFF:
        return False
    return booking.video if mt.video_mode == VideoMode.PER_BOOKING else True


@dataclass
class WhenCreated:
    """Work to do in the transaction that stores booking ``booking_id``'s new meeting.

    A new booking waits (within its inline budget) for its first meeting, then queues the
    confirmations with the join link. Staged here, they are queued in the same transaction
    as the meeting: one commit less per booking, and no moment when the meeting is stored but
    its confirmations are not. ``stage(session, meeting)`` runs inside that transaction and
    must not raise (it guards its own work); what it returns is kept in ``result`` once the
    transaction committed, and ``done`` says so. Closed (``open = False``) when the waiter
    stops waiting, so a sync that finishes later in the background stages nothing: the
    waiter has then queued its messages its own way.
    """

    booking_id: int
    stage: Callable[[Session, Meeting], Any]
    open: bool = True
    done: bool = False
    result: Any = None


_when_created: ContextVar[WhenCreated | None] = ContextVar("meetbridge_when_created", default=None)


@contextmanager
def when_created(hook: WhenCreated) -> Iterator[WhenCreated]:
    """Run ``hook`` with the meeting a sync started inside this block creates (the task the
    worker runs it in copies this context); closed when the block ends."""
    token = _when_created.set(hook)
    try:
        yield hook
    finally:
        hook.open = False
        _when_created.reset(token)


class ConferencingLifecycle:
    def __init__(
        self,
        services: Services,
        connections: ConnectionService | None = None,
    ) -> None:
        self.services = services
        self.connections = connections or ConnectionService(services)

    # -- entry point -------------------------------------------------------------------------
    async def sync(self, booking_id: int) -> SyncOutcome:
        # One sync per booking at a time, across tasks and worker processes.
        async with self.services.locks.hold(f"booking:{booking_id}"):
            try:
                return await self._sync(booking_id)
            except ProviderError as exc:
                return self._retry_or_fail(booking_id, exc)

    async def _sync(self, booking_id: int) -> SyncOutcome:
        exclude: set[int] = set()
        trail: list[dict] = []
        first: _Attempt | None = None
        with self.services.sessions() as session, session.begin():
            booking = self._load(session, booking_id)
            if booking is None:
                return DONE
            current = self._current_meeting(session, booking_id)
            want = booking.status == BookingStatus.CONFIRMED and wants_video(booking)
            host_ids = [h.user_id for h in booking.hosts]
            if _creates_first(current, want, booking.revision):
                # The usual case, a new booking: its first attempt is prepared with what this
                # transaction has loaded (decided below exactly as in _create's loop).
                first = self._prepare_create(session, booking, exclude, trail, current)
        if first is not None:
            return await self._create(booking_id, exclude, trail, first)

        if current is not None and _maybe_made(current):
            # An attempt's answer was lost: the meeting may exist. Find out before deciding
            # anything, or a cancel, a new host or a fallback leaves it at the provider.
            await self._settle(booking_id, current.id)
            return await self._sync(booking_id)
        if current is not None and current.external_id and current.status in ACTIVE_MEETING:
            if not want:
                return await self._delete(current.id, reason="booking cancelled or video off")
            if current.host_user_id not in host_ids:
                outcome = await self._delete(current.id, reason="host changed")
                if not outcome.done:
                    return outcome
                return await self._create(booking_id)
            if current.synced_revision < booking.revision:
                return await self._update(booking_id, current.id)
            return DONE
        if not want:
            if current is not None and current.status == MeetingStatus.PENDING:
                self._set_meeting(
                    current.id,
                    status=MeetingStatus.DELETED,
                    last_error="Not needed any more (booking cancelled).",
                )
            return DONE
        if (
            current is not None
            and current.status == MeetingStatus.NONE
            and current.synced_revision >= booking.revision
        ):
            return DONE  # already found nothing for this revision; `reprovision` retries
        return await self._create(booking_id)

    # -- loading -------------------------------------------------------------------------------
    @staticmethod
    def _load(session: Session, booking_id: int) -> Booking | None:
        # One query: the booking with its type, hosts (users) and attendees joined.
        return (
            session.scalars(
                select(Booking)
                .where(Booking.id == booking_id)
                .options(
                    joinedload(Booking.meeting_type),
                    joinedload(Booking.hosts).joinedload(BookingHost.user),
                    joinedload(Booking.attendees),
                )
            )
            .unique()
            .one_or_none()
        )

    @staticmethod
    def _current_meeting(session: Session, booking_id: int) -> Meeting | None:
        return session.scalars(
            select(Meeting)
            .where(
                Meeting.booking_id == booking_id,
                Meeting.status.not_in([MeetingStatus.DELETED, MeetingStatus.LEFT_AT_PROVIDER]),
            )
            .order_by(Meeting.id.desc())
            .limit(1)
        ).first()

    def _set_meeting(self, meeting_id: int, **values: object) -> None:
        with self.services.sessions() as session, session.begin():
            meeting = session.get(Meeting, meeting_id)
            assert meeting is not None
            for key, value in values.items():
                if key == "extra":
                    value = {**(meeting.extra or {}), **value}  # type: ignore[dict-item]
                setattr(meeting, key, value)

    def _request(
        self, booking: Booking, meeting: Meeting, host_email: str | None, account_level: bool
    ) -> MeetingRequest:
        mt = booking.meeting_type
        org_tz = self._org_timezone(booking)
        names = ", ".join(a.name for a in booking.attendees)
        return MeetingRequest(
            idempotency_key=meeting.idempotency_key,
            topic=f"{mt.name} with {names}" if names else mt.name,
            start=booking.start_at,
            duration_minutes=int((booking.end_at - booking.start_at).total_seconds() // 60),
            timezone=org_tz,
            agenda=mt.description,
            attendees=tuple(a.email for a in booking.attendees),
            host_user=host_email if account_level else None,
            settings=dict(mt.meeting_settings or {}),
            attempt=meeting.attempts + 1,
            previous_attempt_ambiguous=bool((meeting.extra or {}).get("in_flight")),
        )

    def _org_timezone(self, booking: Booking) -> str:
        from meetbridge.models import Organization

        # The booking's own session while it is open (every caller builds the request inside
        # it): the organisation is usually in its identity map already, so this costs neither
        # a query nor a second pooled connection per provider call.
        session = object_session(booking)
        if session is not None:
            org = session.get(Organization, booking.organization_id)
            return org.timezone if org else self.services.settings.organization.timezone
        with self.services.sessions() as session:
            org = session.get(Organization, booking.organization_id)
            return org.timezone if org else self.services.settings.organization.timezone

    # -- create -------------------------------------------------------------------------------
    def _resolve(
        self, session: Session, booking: Booking, exclude: set[int], keep: list[object]
    ) -> Resolution:
        """``keep`` receives the rows read here: held by the caller, they stay in the session's
        identity map (it only holds objects weakly), so reading them again costs no query."""
        from meetbridge.models import Organization

        org = session.get(Organization, booking.organization_id)
        mt = booking.meeting_type
        installed = {
            name: info.supports(Capability.CONNECT)
            for name, info in self.services.plugins.providers().items()
        }
        preferred = (
            list(mt.location_providers or []) if mt.location_kind == LocationKind.PROVIDER else []
        )
        hosts = [HostView(h.user_id, h.user.email) for h in booking.hosts]
        # Only the hosts' own connections and the organisation's account-level ones can be
        # chosen (see resolve): the others of a large organisation are not read.
        conns = session.scalars(
            select(Connection).where(
                Connection.organization_id == booking.organization_id,
                or_(
                    Connection.owner_user_id.in_([h.user_id for h in hosts]),
                    Connection.owner_user_id.is_(None),
                ),
            )
        ).all()
        resolution = resolve(
            preferred=preferred,
            fallback=list(org.fallback_order if org else [])
            or list(self.services.settings.organization.fallback_order),
            installed=installed,
            hosts=hosts,
            connections=[
                ConnectionView(
                    c.id,
                    c.provider,
                    c.owner_user_id,
                    c.status,
                    c.token_ciphertext is not None,
                    c.email,
                )
                for c in conns
            ],
            exclude_connections=exclude,
        )
        keep.extend([org, *conns])
        return resolution

    def _prepare_create(
        self,
        session: Session,
        booking: Booking,
        exclude: set[int],
        trail: list[dict],
        current: Meeting | _Unread | None = _UNREAD,
    ) -> _Attempt:
        """Resolve who hosts it and mark this attempt in flight, in the caller's transaction
        (``current``: the booking's current meeting when the caller has just read it)."""
        loaded: list[object] = []  # the organisation and connections, read once
        resolution = self._resolve(session, booking, exclude, loaded)
        trail.extend(s for s in resolution.trail if s not in trail)
        meeting = self._meeting_for(session, booking, resolution, trail, current)
        if not resolution.found:
            self._notify_no_video(session, booking, resolution)
            return _Attempt(found=False)
        # Built before this attempt is marked in flight: ``attempt`` is this attempt's
        # number and ``previous_attempt_ambiguous`` says whether the *last* one may
        # have acted. (Built after, every create looked like an ambiguous retry, and
        # Zoom listed the host's meetings before each create: one extra call per
        # booking, from the same per-second budget as the creates.)
        request = self._request(
            booking,
            meeting,
            resolution.host.email if resolution.host else None,
            resolution.account_level,
        )
        meeting.extra = {
            **(meeting.extra or {}),
            "in_flight": True,
            # What the oldest attempt that may have acted asked for: a meeting found
            # again later is brought up to date from there (see _settle).
            "in_flight_revision": (meeting.extra or {}).get("in_flight_revision")
            if request.previous_attempt_ambiguous
            else booking.revision,
        }
        meeting.attempts += 1
        if meeting.id is None:
            session.flush()  # a new row, inserted as it is now: its id goes with the attempt
        conn = (
            session.get(Connection, resolution.connection_id) if resolution.connection_id else None
        )
        return _Attempt(
            found=True,
            request=request,
            meeting_id=meeting.id,
            provider=resolution.provider,
            conn=conn,
            revision=booking.revision,
            was_pending_notice=bool((meeting.extra or {}).get("client_told_pending")),
        )

    async def _create(
        self,
        booking_id: int,
        exclude: set[int] | None = None,
        trail: list[dict] | None = None,
        first: _Attempt | None = None,
    ) -> SyncOutcome:
        exclude = set() if exclude is None else exclude
        trail = [] if trail is None else trail
        while True:
            if first is not None:
                attempt, first = first, None
            else:
                with self.services.sessions() as session, session.begin():
                    booking = self._load(session, booking_id)
                    assert booking is not None
                    attempt = self._prepare_create(session, booking, exclude, trail)
            if not attempt.found:
                return DONE
            request, meeting_id, provider = attempt.request, attempt.meeting_id, attempt.provider
            conn, revision = attempt.conn, attempt.revision
            was_pending_notice = attempt.was_pending_notice
            assert provider is not None and request is not None
            try:
                made = await self._call_create(provider, request, conn)
            except CONNECTION_ERRORS as exc:
                # This connection cannot host it; try the next candidate. Unless the plugin says
                # the meeting may exist (it failed after making it, ``ambiguous``) or an earlier
                # attempt's answer was lost, nothing was made; if it may exist, this connection
                # can no longer look for it: record that it may be left at the provider.
                self._set_meeting(
                    meeting_id,
                    status=MeetingStatus.LEFT_AT_PROVIDER
                    if request.previous_attempt_ambiguous or exc.ambiguous
                    else MeetingStatus.FAILED,
                    last_error=exc.message,
                    extra={"in_flight": False},
                )
                if conn is not None:
                    exclude.add(conn.id)
                trail.append(
                    {
                        "provider": provider,
                        "outcome": "failed",
                        "detail": f"{provider} refused: {exc.message}",
                        "connection_id": conn.id if conn else None,
                    }
                )
                continue
            except ProviderError as exc:
                # Still "may have been made" if this attempt or any earlier one may have acted.
                in_flight = exc.ambiguous or request.previous_attempt_ambiguous
                self._set_meeting(
                    meeting_id, last_error=exc.message, extra={"in_flight": in_flight}
                )
                raise
            # The sync ends here: its job is marked done with the meeting (one commit).
            self._store_created(meeting_id, made, revision, was_pending_notice, ends_job=True)
            return DONE

    def _meeting_for(
        self,
        session: Session,
        booking: Booking,
        resolution: Resolution,
        trail: list[dict],
        current: Meeting | _Unread | None = _UNREAD,
    ) -> Meeting:
        """The meeting row for this attempt: the pending one for the same connection (same
        idempotency key: a retry), else a new one."""
        if isinstance(current, _Unread):
            current = self._current_meeting(session, booking.id)
        reusable = (
            current is not None
            and current.external_id is None
            and current.status == MeetingStatus.PENDING
            and current.provider == resolution.provider
            and current.connection_id == resolution.connection_id
        )
        if reusable:
            meeting = current
        else:
            if current is not None and current.status in (
                MeetingStatus.PENDING,
                MeetingStatus.NONE,
            ):
                current.status = (
                    MeetingStatus.LEFT_AT_PROVIDER  # may exist: recorded, never forgotten
                    if _maybe_made(current)
                    else MeetingStatus.FAILED
                    if current.status == MeetingStatus.PENDING
                    else MeetingStatus.DELETED
                )
            # The key names this row for good (every retry of it sends the same key) and is
            # chosen here, not derived from the row's id: the row is then inserted whole by
            # one flush (in _prepare_create), not inserted to learn its id and updated.
            meeting = Meeting(
                booking_id=booking.id,
                attempts=0,
                extra={},
                idempotency_key=f"mb-{booking.uid}-{secrets.token_hex(6)}",
            )
            session.add(meeting)
        meeting.provider = resolution.provider
        meeting.connection_id = resolution.connection_id
        meeting.host_user_id = resolution.host.user_id if resolution.host else None
        meeting.host_user_external = (
            resolution.host.email if (resolution.host and resolution.account_level) else None
        )
        meeting.resolution = list(trail)
        meeting.status = MeetingStatus.PENDING if resolution.found else MeetingStatus.NONE
        if not resolution.found:
            meeting.last_error = resolution.reason
            meeting.synced_revision = booking.revision
        return meeting

    async def _call_create(
        self, provider: str, request: MeetingRequest, conn: Connection | None
    ) -> ProviderMeeting:
        ctx = self.services.provider_context(provider, request.timezone)
        # ``conn`` was read by the transaction that prepared this attempt, just now.
        creds = self.connections.credentials(conn, just_read=True) if conn is not None else None
        for retry in range(QPS_RETRIES + 1):
            try:
                return await self.services.plugins.call(
                    "create_meeting", provider, context=ctx, request=request, credentials=creds
                )
            except RateLimited as exc:
                # A per-second limit on a call that did nothing: wait its Retry-After here
                # rather than fail the attempt into a job retry (seconds of backoff, the booking
                # left pending with the 429 as its error). Daily caps, long waits, and a limit
                # hit after the provider acted (``ambiguous``: the retry must look first) go
                # back to the job queue as before.
                wait = exc.retry_after if exc.retry_after is not None else 1.0
                if (
                    isinstance(exc, DailyLimitReached)
                    or exc.ambiguous
                    or retry == QPS_RETRIES
                    or wait > QPS_RETRY_MAX_WAIT
                ):
                    raise
                log.info("%s asked to slow down; creating again in %.1fs", provider, wait)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _store_created(
        self,
        meeting_id: int,
        made: ProviderMeeting,
        revision: int,
        was_pending_notice: bool,
        *,
        ends_job: bool = False,
    ) -> None:
        """Record the meeting the provider made. ``ends_job``: the sync returns "done" right
        after, so the worker's job (if a worker runs it) is marked done in this transaction."""
        vault = self.services.vault
        assert vault is not None
        job = queue.running_job() if ends_job else None
        finished = False
        hook = _when_created.get()
        staged: Any = None
        with self.services.sessions() as session, session.begin():
            # The meeting with its booking and type, in one query, before anything changes:
            # the platform event of this change reads them (web/platform_events.py).
            meeting = session.scalars(
                select(Meeting)
                .where(Meeting.id == meeting_id)
                .options(joinedload(Meeting.booking).joinedload(Booking.meeting_type))
            ).one_or_none()
            assert meeting is not None
            booking = meeting.booking
            # Read from the row, not only from when the attempt began: a booking whose inline
            # budget ran out while the provider was answering told its people "your link is on
            # its way" after this attempt was prepared, and they must get the link.
            told_pending = was_pending_notice or bool(
                (meeting.extra or {}).get("client_told_pending")
            )
            meeting.external_id = made.external_id
            meeting.join_url = made.join_url
            meeting.start_url_ciphertext = (
                vault.encrypt_secret(made.host_start_url) if made.host_start_url else None
            )
            meeting.passcode = made.passcode
            meeting.dial_in = list(made.dial_in)
            meeting.extra = {
                **{k: v for k, v in made.extra.items() if _jsonable(v)},
                "in_flight": False,
            }
            meeting.status = MeetingStatus.PROVISIONED
            meeting.synced_revision = revision
            meeting.last_error = None
            assert booking is not None
            if hook is not None and not (hook.open and hook.booking_id == booking.id):
                hook = None
            if told_pending:
                # "Here is your link", to everyone who was told it was on its way.
                with notifications.guarded(session, f"link for booking {booking.id}"):
                    notifications.queue_provisioned(session, self.services, booking, meeting)
            elif hook is not None:
                try:
                    staged = hook.stage(session, meeting)  # e.g. the booking's confirmations
                except Exception:
                    # Never at the meeting's expense: the waiter does its work its own way.
                    log.exception("work staged for booking %s's meeting failed", booking.id)
                    hook = None
            if job is not None and not job.finished:
                finished = queue.finish_claimed(session, job.job_id, job.worker_id)
        if hook is not None and not told_pending:
            hook.result, hook.done, hook.open = staged, True, False
        if finished and job is not None:
            job.finished = True  # committed with the meeting: the worker records nothing more

    async def _settle(self, booking_id: int, meeting_id: int) -> None:
        """Find out whether an attempt whose answer was lost made the meeting.

        The create is asked again with the same key and ``previous_attempt_ambiguous``, so the
        plugin looks before it creates: afterwards the meeting exists exactly once and is
        recorded (then kept, moved or deleted like any other), or the row says it may be left
        at the provider because its connection can no longer look.
        """
        with self.services.sessions() as session, session.begin():
            booking = self._load(session, booking_id)
            meeting = session.get(Meeting, meeting_id)
            assert booking is not None and meeting is not None
            conn = session.get(Connection, meeting.connection_id) if meeting.connection_id else None
            provider = meeting.provider
            extra = dict(meeting.extra or {})
            # The oldest attempt that may have acted asked for this revision: a meeting found
            # again is brought up to date from there (Zoom hands it back as it was made).
            asked = extra.get("in_flight_revision")
            revision = int(asked) if asked is not None else -1  # unknown: update it anyway
            told = (
                bool(extra.get("client_told_pending"))
                and booking.status == BookingStatus.CONFIRMED
                and wants_video(booking)
            )
            if conn is not None and not conn.is_active:
                status = conn.status
            else:
                status = None
                request = self._request(
                    booking,
                    meeting,
                    meeting.host_user_external,
                    meeting.host_user_external is not None,
                )
                meeting.attempts += 1
        assert provider is not None
        unknown = f"An attempt at {provider} may have made this meeting (its answer was lost)"
        if status is not None:
            self._set_meeting(
                meeting_id,
                status=MeetingStatus.LEFT_AT_PROVIDER,
                last_error=f"{unknown}; its connection is {status}, so it cannot be looked for.",
                extra={"in_flight": False},
            )
            return
        try:
            made = await self._call_create(provider, request, conn)
        except CONNECTION_ERRORS as exc:
            self._set_meeting(
                meeting_id,
                status=MeetingStatus.LEFT_AT_PROVIDER,
                last_error=f"{unknown}; {exc.message}",
                extra={"in_flight": False},
            )
            return
        except ProviderError as exc:
            if exc.retryable:  # still unknown: the job is retried and settles it then
                self._set_meeting(meeting_id, last_error=exc.message)
                raise
            # A definite refusal: the plugin looked first, so nothing exists.
            self._set_meeting(
                meeting_id,
                status=MeetingStatus.FAILED,
                last_error=exc.message,
                extra={"in_flight": False},
            )
            return
        self._store_created(meeting_id, made, revision, told)

    # -- update -------------------------------------------------------------------------------
    async def _update(self, booking_id: int, meeting_id: int) -> SyncOutcome:
        with self.services.sessions() as session:
            booking = self._load(session, booking_id)
            meeting = session.get(Meeting, meeting_id)
            assert booking is not None and meeting is not None
            conn = session.get(Connection, meeting.connection_id) if meeting.connection_id else None
            request = self._request(
                booking, meeting, meeting.host_user_external, meeting.host_user_external is not None
            )
            ref = self._ref(meeting)
            provider, revision = meeting.provider, booking.revision
        assert provider is not None
        ctx = self.services.provider_context(provider, request.timezone)
        try:
            made = await self.services.plugins.call(
                "update_meeting",
                provider,
                context=ctx,
                meeting=ref,
                request=request,
                credentials=self.connections.credentials(conn) if conn else None,
            )
        except MeetingGone:
            self._set_meeting(
                meeting_id,
                status=MeetingStatus.DELETED,
                last_error="Gone at the provider; a new meeting was made.",
            )
            return await self._create(booking_id)
        except (ConnectionUnusable, *CONNECTION_ERRORS) as exc:
            # The creating connection is gone: that meeting cannot be moved or deleted by us.
            self._set_meeting(
                meeting_id,
                status=MeetingStatus.LEFT_AT_PROVIDER,
                last_error=f"Could not update: {exc.message}",
            )
            return await self._create(booking_id)
        self._store_updated(meeting_id, made, revision)
        return DONE

    def _store_updated(self, meeting_id: int, made: ProviderMeeting | None, revision: int) -> None:
        vault = self.services.vault
        assert vault is not None
        with self.services.sessions() as session, session.begin():
            meeting = session.get(Meeting, meeting_id)
            assert meeting is not None
            if made is not None:
                meeting.join_url = made.join_url or meeting.join_url
                if made.host_start_url:
                    meeting.start_url_ciphertext = vault.encrypt_secret(made.host_start_url)
                meeting.passcode = made.passcode or meeting.passcode
            meeting.synced_revision = revision
            meeting.last_error = None

    @staticmethod
    def _ref(meeting: Meeting) -> MeetingRef:
        return MeetingRef(
            external_id=meeting.external_id or "",
            join_url=meeting.join_url or "",
            host_user=meeting.host_user_external,
            extra={k: v for k, v in (meeting.extra or {}).items() if k != "in_flight"},
        )

    # -- delete -------------------------------------------------------------------------------
    async def _delete(self, meeting_id: int, *, reason: str) -> SyncOutcome:
        with self.services.sessions() as session:
            meeting = session.get(Meeting, meeting_id)
            assert meeting is not None
            conn = session.get(Connection, meeting.connection_id) if meeting.connection_id else None
            ref, provider = self._ref(meeting), meeting.provider
        assert provider is not None
        if conn is not None and not conn.is_active:
            self._set_meeting(
                meeting_id,
                status=MeetingStatus.LEFT_AT_PROVIDER,
                last_error=f"Left at {provider}: its connection is {conn.status}.",
            )
            return DONE
        ctx = self.services.provider_context(provider)
        try:
            outcome = await self.services.plugins.call(
                "delete_meeting",
                provider,
                context=ctx,
                meeting=ref,
                credentials=self.connections.credentials(conn) if conn else None,
            )
        except (ConnectionUnusable, GrantRevoked) as exc:
            self._set_meeting(
                meeting_id,
                status=MeetingStatus.LEFT_AT_PROVIDER,
                last_error=f"Left at {provider}: {exc.message}",
            )
            return DONE
        except WrongCredential as exc:
            self._set_meeting(
                meeting_id,
                status=MeetingStatus.LEFT_AT_PROVIDER,
                last_error=f"{provider} refused the delete: {exc.message}",
            )
            return DONE
        self._set_meeting(
            meeting_id,
            status=MeetingStatus.DELETED,
            last_error=None,
            extra={"deleted_because": reason, "delete_outcome": str(outcome)},
        )
        return DONE

    # -- failures -----------------------------------------------------------------------------
    def _retry_or_fail(self, booking_id: int, exc: ProviderError) -> SyncOutcome:
        if isinstance(exc, DailyLimitReached):
            self._notify_hosts(
                booking_id,
                "daily_limit_deferral",
                f"{exc.message} The meeting will be created after"
                f" {exc.resets_at:%Y-%m-%d %H:%M} UTC.",
            )
            return SyncOutcome(done=False, error=exc.message, run_at=exc.resets_at)
        if exc.retryable:
            return SyncOutcome(done=False, error=exc.message, retry_after=exc.retry_after)
        self.mark_failed(booking_id, exc.message)
        return DONE

    def mark_failed(self, booking_id: int, reason: str) -> None:
        """The last word on a booking's conferencing: visible, and the host and admins told."""
        with self.services.sessions() as session, session.begin():
            meeting = self._current_meeting(session, booking_id)
            if meeting is not None and meeting.status == MeetingStatus.PENDING:
                meeting.status = MeetingStatus.FAILED
                meeting.last_error = reason
                # "in_flight" stays: if a lost answer may have made it, the next sync of this
                # booking (a cancel, a reprovision) looks for it before anything else.
        self._notify_hosts(booking_id, "conferencing_failed", reason, admins=True)

    def _notify_hosts(self, booking_id: int, kind: str, text: str, admins: bool = False) -> None:
        """Tell the hosts (and admins) about a conferencing problem; ``text`` is the reason."""
        with self.services.sessions() as session, session.begin():
            booking = self._load(session, booking_id)
            if booking is None:
                return
            with notifications.guarded(session, f"{kind} for booking {booking_id}"):
                notifications.queue_host_alert(
                    session, self.services, booking, kind, reason=text, admins=admins
                )

    def _notify_no_video(self, session: Session, booking: Booking, resolution: Resolution) -> None:
        """No connection could host it: the hosts and admins learn why and how to fix it."""
        with notifications.guarded(session, f"no-video notice for booking {booking.id}"):
            notifications.queue_host_alert(
                session,
                self.services,
                booking,
                "conferencing_unavailable",
                reason=resolution.reason,
                admins=True,
                trail=notifications.trail_lines(resolution.trail),
                payload={"trail": list(resolution.trail)},
            )


def _creates_first(current: Meeting | None, want: bool, revision: int) -> bool:
    """Whether :meth:`ConferencingLifecycle._sync` goes straight to a create (its last branch):
    video wanted, and no current meeting that must be settled, kept, moved or updated, nor a
    "none found" already recorded for this revision."""
    if not want:
        return False
    if current is None:
        return True
    if _maybe_made(current):
        return False
    if current.external_id and current.status in ACTIVE_MEETING:
        return False
    return not (current.status == MeetingStatus.NONE and current.synced_revision >= revision)


def _maybe_made(meeting: Meeting) -> bool:
    """Whether an attempt whose answer was lost may have made this meeting at the provider."""
    return (
        meeting.external_id is None
        and meeting.status in (MeetingStatus.PENDING, MeetingStatus.FAILED)
        and bool((meeting.extra or {}).get("in_flight"))
    )


def _jsonable(value: object) -> bool:
    return isinstance(value, str | int | float | bool | type(None) | list | dict)
