"""One fault sequence at a time, on the campaign's stage: the deterministic counterpart of the
campaign, for the failures it found (and a test for each)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from meetbridge.models import Assignment, Meeting, Organization
from meetbridge.scheduling.bookings import BookingRequest, BookingResult, BookingService
from meetbridge.scheduling.meeting_types import MeetingTypeSpec, save_meeting_type
from tests.chaos import invariants
from tests.chaos.sandboxes import ProviderMeeting
from tests.chaos.stage import Stage
from tests.chaos.workers import RecordingWorker, drain_queue

# Where each provider's meetings are created (the path a fault is armed on).
CREATE_PATHS = {
    "zoom": ("/v2/users/", "POST"),
    "google_meet": ("/calendar/v3/calendars/primary/events", "POST"),
    "teams": ("/v1.0/me/onlineMeetings", "POST"),
}
# A host with their own account at each provider.
OWN_ACCOUNT = {
    "zoom": "zoe@chaos.test",
    "google_meet": "gail@chaos.test",
    "teams": "tara@chaos.test",
}


@dataclass
class Scenario:
    stage: Stage
    bookings: BookingService = field(init=False)
    worker: RecordingWorker = field(init=False)

    def __post_init__(self) -> None:
        self.worker = RecordingWorker(
            self.stage.services, log_path=self.stage.workdir / "executions-scenario.jsonl"
        )
        # The whole inline run is awaited: each step ends in a known state.
        self.bookings = BookingService(self.stage.services, self.worker, inline_budget=None)

    def close(self) -> None:
        self.worker.close_log()

    def meeting_type(self, provider: str, *hosts: str) -> str:
        """A meeting type at ``provider`` for ``hosts`` (round-robin when several)."""
        slug = f"{provider.replace('_', '-')}-{'-'.join(h.split('@')[0] for h in hosts)}"
        with self.stage.services.sessions() as session, session.begin():
            org = session.scalars(select(Organization)).one()
            save_meeting_type(
                session,
                org,
                MeetingTypeSpec(
                    name=slug,
                    slug=slug,
                    duration_minutes=30,
                    hosts=list(hosts),
                    location=provider,
                    assignment=Assignment.ROUND_ROBIN if len(hosts) > 1 else Assignment.ONE_PERSON,
                ),
                installed=list(self.stage.services.plugins.providers()),
            )
        return slug

    def slot(self, slug: str, days: int, nth: int = 0) -> datetime:
        """The ``nth`` free slot of ``slug`` on the day ``days`` from now."""
        start = self.stage.clock() + timedelta(days=days)
        return self.bookings.slots(slug, start, start + timedelta(days=1))[nth].start

    async def book(self, slug: str, start: datetime, **kw: Any) -> BookingResult:
        result = await self.bookings.book(
            BookingRequest(
                meeting_type=slug,
                start=start,
                name="Casey Client",
                email=kw.pop("email", "casey@example.org"),
                timezone="Europe/Paris",
            )
        )
        if result.manage_token:
            self.stage.manage_tokens[result.uid] = result.manage_token
        return result

    def fail_next_create(self, provider: str, kind: str) -> None:
        path, method = CREATE_PATHS[provider]
        self.stage.sandboxes.arm(provider, path, kind, method)

    async def drain(self) -> None:
        assert await drain_queue(
            self.stage.services, self.stage.clock, worker=self.worker, seconds=60
        ), "the queue did not drain"

    def live(self, provider: str | None = None) -> list[ProviderMeeting]:
        return [m for m in self.stage.sandboxes.live_meetings() if provider in (None, m.provider)]

    def meetings(self, booking_id: int) -> list[Meeting]:
        with self.stage.services.sessions() as session:
            return list(
                session.scalars(
                    select(Meeting).where(Meeting.booking_id == booking_id).order_by(Meeting.id)
                )
            )

    def broken_invariants(self) -> list[str]:
        checks = invariants.check_all(self.stage.services, self.stage.sandboxes, self.stage.clock())
        return [f"{c.name}: {c.detail}" for c in checks if not c.ok]
