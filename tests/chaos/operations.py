"""What people do during a campaign: book, reschedule, cancel; revoke, uninstall, reconnect.

Bookings go through :class:`~meetbridge.scheduling.bookings.BookingService` exactly as the web
pages and the API do: a free slot is picked from the slots the service lists, and two people
may race for the same one (one is refused). Reschedules move a booking to another free slot,
which reassigns round-robin bookings when their host is busy then.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from meetbridge.conferencing.connections import ConnectionService
from meetbridge.models import Connection, ConnectionStatus, User
from meetbridge.providers import ProviderError
from meetbridge.scheduling.bookings import BookingError, BookingRequest, BookingService
from tests.chaos import org
from tests.chaos.faults import Event
from tests.chaos.sandboxes import ZOOM_ADMIN, Sandboxes

BOOKER_ZONES = ("Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "UTC")


@dataclass
class People:
    """The people of the campaign and what they do."""

    bookings: BookingService
    connections: ConnectionService
    sandboxes: Sandboxes
    rng: random.Random
    slugs: list[str]
    counts: Counter[str] = field(default_factory=Counter)
    live: list[int] = field(default_factory=list)  # confirmed bookings
    pending: list[int] = field(default_factory=list)  # booked while their meeting was pending
    errors: list[str] = field(default_factory=list)
    broken: set[int] = field(default_factory=set)  # connections seen broken before a reconnect
    manage_tokens: dict[str, str] = field(default_factory=dict)  # booking uid -> token

    @property
    def clock(self) -> Any:
        return self.bookings.clock

    async def book(self) -> None:
        slug = self.rng.choice(self.slugs)
        day = self.clock() + timedelta(days=self.rng.uniform(2, 20))
        slots = self.bookings.slots(slug, day, day + timedelta(hours=12))
        if not slots:
            self.counts["no free slot found"] += 1
            return
        n = self.counts["bookings requested"] = self.counts["bookings requested"] + 1
        try:
            result = await self.bookings.book(
                BookingRequest(
                    meeting_type=slug,
                    start=self.rng.choice(slots).start,
                    name=f"Client {n}",
                    email=f"client{n}@example.org",
                    timezone=self.rng.choice(BOOKER_ZONES),
                )
            )
        except BookingError as exc:
            self.counts[f"refused: {type(exc).__name__}"] += 1
            return
        self.counts["bookings made"] += 1
        if result.manage_token:  # the client's link (the secrets scan opens their pages)
            self.manage_tokens[result.uid] = result.manage_token
        self.live.append(result.booking_id)
        if result.conferencing == "pending":
            self.pending.append(result.booking_id)

    def _pick(self) -> int:
        """A confirmed booking; often one whose meeting was still pending (its create failed
        or lost its answer): the moments where changing a booking is the most delicate."""
        while self.pending and self.rng.random() < 0.5:
            booking_id = self.pending.pop()
            if booking_id in self.live:
                return booking_id
        return self.rng.choice(self.live)

    async def reschedule(self) -> None:
        if not self.live:
            return await self.book()
        booking_id = self._pick()
        before = self.bookings.explain(booking_id)["booking"]
        day = self.clock() + timedelta(days=self.rng.uniform(2, 20))
        slots = self.bookings.slots(before["meeting_type"], day, day + timedelta(hours=12))
        if not slots:
            self.counts["no free slot found"] += 1
            return None
        try:
            after = await self.bookings.reschedule(
                booking_id, self.rng.choice(slots).start, actor="client"
            )
        except BookingError as exc:
            self.counts[f"refused: {type(exc).__name__}"] += 1
            return None
        self.counts["reschedules"] += 1
        if list(after.host_emails) != before["hosts"]:
            self.counts["reschedules reassigning the host"] += 1
        return None

    async def cancel(self) -> None:
        if not self.live:
            return await self.book()
        booking_id = self._pick()
        self.live.remove(booking_id)
        await self.bookings.cancel(booking_id, actor="client", reason="campaign")
        self.counts["cancellations"] += 1
        return None

    async def act(self, reschedule_share: float, cancel_share: float) -> None:
        """One random action; unexpected exceptions are recorded (they fail the campaign)."""
        roll = self.rng.random()
        try:
            if roll < cancel_share and len(self.live) > 5:
                await self.cancel()
            elif roll < cancel_share + reschedule_share and len(self.live) > 5:
                await self.reschedule()
            else:
                await self.book()
        except Exception as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")

    async def mend(self, chance: float) -> None:
        """Someone whose connection broke follows the email and reconnects (sometimes)."""
        if self.rng.random() >= chance:
            return
        with self.bookings.services.sessions() as session:
            broken = list(
                session.execute(
                    select(Connection.id, Connection.provider, User.email)
                    .outerjoin(User, User.id == Connection.owner_user_id)
                    .where(Connection.status != ConnectionStatus.ACTIVE)
                    .order_by(Connection.id)
                )
            )
        if broken:
            conn_id, provider, owner = self.rng.choice(broken)
            self.broken.add(conn_id)
            await self._reconnect(provider, owner or org.ADMIN, account_level=owner is None)
            self.counts["broken connections mended by their owner"] += 1

    async def _reconnect(self, provider: str, email: str, *, account_level: bool = False) -> None:
        login = ZOOM_ADMIN if account_level else email
        last: Exception | None = None
        for _attempt in range(10):  # an armed fault may hit the code exchange: click again
            try:
                await org.connect(
                    self.connections,
                    self.sandboxes,
                    self._user_id(email),
                    provider,
                    login,
                    account_level=account_level,
                )
                return
            except ProviderError as exc:
                self.counts["connect attempts failed, clicked again"] += 1
                last = exc
        self.errors.append(f"could not reconnect {email} to {provider}: {last}")

    # -- out-of-band events --------------------------------------------------------------------
    def _user_id(self, email: str) -> int:
        with self.bookings.services.sessions() as session:
            return session.scalars(select(User.id).where(User.email == email)).one()

    def _connection(self, email: str, provider: str) -> Connection | None:
        user_id = self._user_id(email)
        with self.bookings.services.sessions() as session:
            return session.scalars(
                select(Connection).where(
                    Connection.owner_user_id == user_id, Connection.provider == provider
                )
            ).first()

    async def happen(self, event: Event) -> None:
        login = ZOOM_ADMIN if event.host == org.ADMIN else event.host
        if event.action == "revoke":
            self.sandboxes.revoke(event.provider, login)
            self.counts[f"grants revoked at {event.provider}"] += 1
        elif event.action == "deauthorize":
            headers, body = self.sandboxes.zoom.deauthorize(login)
            result = await self.connections.handle_webhook("zoom", headers, body)
            if result.status_code >= 300:
                self.errors.append(f"deauthorization webhook refused: {result.status_code}")
            await self.connections.apply_webhook_events("zoom", result.events)
            self.counts["zoom deauthorization webhooks"] += 1
            replay = await self.connections.handle_webhook("zoom", headers, body)
            if replay.status_code != 409:
                self.errors.append(f"replayed webhook answered {replay.status_code}, not 409")
            self.counts["webhook replays refused"] += 1
        elif event.action == "reconnect":
            conn = self._connection(event.host, event.provider)
            if conn is not None and conn.status != ConnectionStatus.ACTIVE:
                self.broken.add(conn.id)
            await self._reconnect(event.provider, event.host)
            self.counts["reconnections"] += 1
        event.done = True
