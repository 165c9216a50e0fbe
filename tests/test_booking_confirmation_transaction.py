"""A new booking's confirmations are queued in the transaction that stores its meeting.

When the meeting is made within the inline budget, the confirmations (with the join link)
and the meeting commit together: one commit less per booking, and no moment when the
meeting is stored but nobody will be told. When the budget runs out, the booking confirms
on its own ("your link is on its way") and the late meeting sends the link, never a second
confirmation. Whatever goes wrong while staging the confirmations never costs the meeting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from meetbridge.models import MeetingStatus
from meetbridge.scheduling.bookings import BookingService
from tests.world import World


@contextmanager
def transactions(world: World) -> Iterator[list[list[str]]]:
    """The statements of each transaction committed in the block (first words of each)."""
    engine = world.services.engine
    done: list[list[str]] = []
    current: list[str] = []

    def statement(_conn, _cursor, sql, *_args) -> None:  # type: ignore[no-untyped-def]
        current.append(" ".join(sql.split()[:3]))

    def commit(_conn) -> None:  # type: ignore[no-untyped-def]
        done.append(list(current))
        current.clear()

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        yield done
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)


async def test_confirmations_commit_with_the_meeting_they_announce(world: World) -> None:
    await world.connect("ann", "zoom")
    slug = world.meeting_type(location="zoom")
    with transactions(world) as committed:
        result = await world.book(slug)
    assert result.conferencing == "provisioned" and result.join_url
    # The booking, the attempt prepared, then the meeting stored with its confirmations.
    assert len(committed) == 3, committed
    last = committed[-1]
    assert "UPDATE meetings SET" in last
    # The booker's and the host's (one statement or two, as the driver batches them).
    assert "INSERT INTO outbound_messages" in last
    assert not any("INSERT INTO outbound_messages" in s for t in committed[:-1] for s in t)
    confirmations = world.outbox("booking_confirmed")
    assert len(confirmations) == 2
    assert all(result.join_url in m.body_text for m in confirmations)


async def test_a_meeting_made_after_the_budget_sends_the_link_not_a_second_confirmation(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world.connect("ann", "zoom")
    gate = asyncio.Event()
    from meetbridge.conferencing import credentials as creds_module

    async def gated_access_token(self) -> str:  # type: ignore[no-untyped-def]
        await gate.wait()
        return "token"

    monkeypatch.setattr(creds_module.ConnectionCredentials, "access_token", gated_access_token)
    world.bookings.inline_budget = 0.05
    result = await world.book(world.meeting_type(location="zoom"))
    assert result.conferencing == "pending"
    told = world.outbox("booking_confirmed")
    assert len(told) == 2 and not any("fake.example/j/" in m.body_text for m in told)
    gate.set()
    await world.bookings.worker.wait_background()
    assert world.current(result.booking_id).status == MeetingStatus.PROVISIONED
    assert len(world.outbox("booking_confirmed")) == 2  # nobody is confirmed twice
    links = world.outbox("conferencing_provisioned")
    assert len(links) == 2
    join_url = world.current(result.booking_id).join_url
    assert join_url and all(join_url in m.body_text for m in links)


async def test_a_failure_staging_the_confirmations_never_costs_the_meeting(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world.connect("ann", "zoom")
    real = BookingService._queue_change
    calls = {"n": 0}

    def fails_once(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("staging broke")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(BookingService, "_queue_change", fails_once)
    result = await world.book(world.meeting_type(location="zoom"))
    # The meeting was stored; the confirmations were then queued in a transaction of their own.
    assert result.conferencing == "provisioned"
    assert world.current(result.booking_id).status == MeetingStatus.PROVISIONED
    assert calls["n"] == 2
    confirmations = world.outbox("booking_confirmed")
    assert len(confirmations) == 2
    assert all(result.join_url in m.body_text for m in confirmations)
