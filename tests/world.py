"""A small organisation for scheduling tests: hosts, availability, fake providers, a clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from meetbridge.conferencing.connections import ConnectionService
from meetbridge.directory import create_user, get_or_create_organization
from meetbridge.models import Booking, Connection, Job, Meeting, OutboundMessage, Role, User
from meetbridge.plugins import build_plugin_host
from meetbridge.scheduling.availability import OFFICE_HOURS, set_weekly_availability
from meetbridge.scheduling.bookings import BookingRequest, BookingService
from meetbridge.scheduling.meeting_types import MeetingTypeSpec, save_meeting_type
from meetbridge.services import Services
from tests.fakes import FakeProvider

# Monday 2026-11-30, 12:00 UTC (07:00 in New York): "now" for every scheduling test.
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# Tuesday 2026-12-01 at 09:00, 10:00 and 11:00 New York time (EST, UTC-5).
TUE_9 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
TUE_10 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
TUE_11 = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
PROVIDERS = ("zoom", "google_meet", "teams")


@dataclass
class World:
    services: Services
    fakes: dict[str, FakeProvider]
    connections: ConnectionService
    bookings: BookingService
    org_id: int
    users: dict[str, int] = field(default_factory=dict)

    # -- set-up helpers ----------------------------------------------------------------------
    async def connect(self, who: str, provider: str, *, account_level: bool = False) -> Connection:
        pending = await self.connections.start_connect(
            user_id=self.users[who], provider=provider, account_level=account_level
        )
        return await self.connections.complete_connect(
            pending, state=pending.state, code=f"{who}-{provider}"
        )

    def meeting_type(self, **spec: Any) -> str:
        defaults: dict[str, Any] = dict(
            name="Interview", duration_minutes=30, hosts=["ann@acme.test"]
        )
        defaults.update(spec)
        with self.services.sessions() as session, session.begin():
            from meetbridge.models import Organization

            org = session.get(Organization, self.org_id)
            mt = save_meeting_type(
                session,
                org,
                MeetingTypeSpec(**defaults),
                installed=list(self.services.plugins.providers()),
            )
            return mt.slug

    async def book(
        self, slug: str, start: datetime = TUE_9, email: str = "cli@client.test", **kw: Any
    ) -> Any:
        return await self.bookings.book(
            BookingRequest(
                meeting_type=slug,
                start=start,
                name=kw.pop("name", "Casey Client"),
                email=email,
                timezone=kw.pop("timezone", "Europe/Paris"),
                **kw,
            )
        )

    # -- inspection ----------------------------------------------------------------------------
    def meetings(self, booking_id: int) -> list[Meeting]:
        with self.services.sessions() as session:
            return list(
                session.scalars(
                    select(Meeting).where(Meeting.booking_id == booking_id).order_by(Meeting.id)
                )
            )

    def current(self, booking_id: int) -> Meeting:
        return self.meetings(booking_id)[-1]

    def outbox(self, kind: str | None = None) -> list[OutboundMessage]:
        with self.services.sessions() as session:
            stmt = select(OutboundMessage).order_by(OutboundMessage.id)
            if kind:
                stmt = stmt.where(OutboundMessage.kind == kind)
            return list(session.scalars(stmt))

    def jobs(self, kind: str | None = None) -> list[Job]:
        """Jobs in creation order; ``kind`` keeps one kind (e.g. "sync_conferencing": every
        message queued also has a "deliver_message" job)."""
        with self.services.sessions() as session:
            stmt = select(Job).order_by(Job.id)
            if kind:
                stmt = stmt.where(Job.kind == kind)
            return list(session.scalars(stmt))

    def booking(self, booking_id: int) -> Booking:
        with self.services.sessions() as session:
            return session.get(Booking, booking_id)

    def connection(self, connection_id: int) -> Connection:
        with self.services.sessions() as session:
            return session.get(Connection, connection_id)


def build_world(settings: Any, *, hosts: tuple[str, ...] = ("ann", "bob", "cara")) -> World:
    fakes = {name: FakeProvider(name) for name in PROVIDERS}
    plugin_host = build_plugin_host(
        env={"MEETBRIDGE_BLOCK_PLUGINS": ",".join(PROVIDERS)},
        plugins=[(f"fake-{name}", fake) for name, fake in fakes.items()],
    )
    services = Services(settings=settings, plugins=plugin_host)
    users: dict[str, int] = {}
    with services.sessions() as session, session.begin():
        org = get_or_create_organization(session, "Acme")
        admin = create_user(session, org, "admin@acme.test", role=Role.ADMIN)
        users["admin"] = admin.id
        for name in hosts:
            user = create_user(session, org, f"{name}@acme.test")
            set_weekly_availability(session, user, OFFICE_HOURS)
            users[name] = user.id
        org_id = org.id
    connections = ConnectionService(services)
    bookings = BookingService(services, clock=lambda: NOW)
    return World(services, fakes, connections, bookings, org_id, users)


def user_email(world: World, user_id: int) -> str:
    with world.services.sessions() as session:
        return session.scalar(select(User.email).where(User.id == user_id))
