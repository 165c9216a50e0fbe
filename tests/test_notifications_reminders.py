"""Broken connections: the owner is told, then reminded after 1, 3 and 7 days until reconnected."""

from __future__ import annotations

from datetime import timedelta

import pytest

from meetbridge.models import Connection, ConnectionStatus, Job, JobStatus
from meetbridge.notifications.connection_notices import CONNECTION_NOTICE, CONNECTION_REMINDER
from meetbridge.providers import GrantRevoked
from tests.notifications_support import expire_tokens
from tests.world import World


async def _kill_grant(world: World, conn: Connection) -> Connection:
    """The provider refuses the refresh token: the connection needs a reconnect."""
    expire_tokens(world, conn.id)
    world.fakes[conn.provider].dead_grant = True
    with pytest.raises(GrantRevoked):
        await world.connections.credentials(conn).access_token()
    world.fakes[conn.provider].dead_grant = False
    stored = world.connection(conn.id)
    assert stored.status == ConnectionStatus.NEEDS_RECONNECT
    return stored


def _jobs(world: World, kind: str) -> list[Job]:
    return [j for j in world.jobs() if j.kind == kind]


async def _run(world: World, job: Job) -> None:
    """Run one job now, as the worker will when its ``run_at`` comes."""
    assert await world.bookings.worker.run_job_now(job.id, None)


def _reminders(world: World) -> list[str]:
    return [m.body_text for m in world.outbox("connection_reminder")]


async def test_reminders_come_after_1_and_3_days_and_stop_once_reconnected(
    world: World,
) -> None:
    conn = await _kill_grant(world, await world.connect("ann", "zoom"))
    episode = conn.status_changed_at
    [notice_job] = _jobs(world, CONNECTION_NOTICE)
    await _run(world, notice_job)
    [notice] = world.outbox("connection_needs_reconnect")
    assert notice.recipient == "ann@acme.test" and notice.subject == "Reconnect your Zoom account"

    [day1] = _jobs(world, CONNECTION_REMINDER)
    assert day1.run_at == episode + timedelta(days=1) and day1.status == JobStatus.QUEUED
    assert await world.bookings.worker.drain() == 1  # the notice is sent; not the reminder
    assert _jobs(world, CONNECTION_REMINDER)[0].status == JobStatus.QUEUED  # due in a day

    await _run(world, day1)
    assert len(_reminders(world)) == 1 and "It is a day since" in _reminders(world)[0]
    day3 = _jobs(world, CONNECTION_REMINDER)[-1]
    assert day3.run_at == episode + timedelta(days=3)
    await _run(world, day3)
    assert "It is 3 days since" in " ".join(_reminders(world)[1].split())
    day7 = _jobs(world, CONNECTION_REMINDER)[-1]
    assert day7.run_at == episode + timedelta(days=7)

    await world.connect("ann", "zoom")  # reconnected on day 5
    await _run(world, day7)
    assert len(_reminders(world)) == 2  # the day-7 reminder found it mended
    assert len(_jobs(world, CONNECTION_REMINDER)) == 3  # and scheduled nothing more
    assert {j.status for j in _jobs(world, CONNECTION_REMINDER)} == {JobStatus.DONE}


async def test_without_a_reconnect_the_third_reminder_is_the_last(world: World) -> None:
    await _kill_grant(world, await world.connect("ann", "zoom"))
    for _ in range(10):
        due = [
            j
            for j in world.jobs()
            if j.kind in (CONNECTION_NOTICE, CONNECTION_REMINDER) and j.status == JobStatus.QUEUED
        ]
        if not due:
            break
        await _run(world, due[0])
    reminders = _reminders(world)
    assert len(reminders) == 3
    assert "This is the last reminder." in reminders[-1]
    assert "This is the last reminder." not in reminders[0]
    assert "Reconnect Zoom" in reminders[0] and "/profile/integrations" in reminders[0]


async def test_the_schedule_is_a_setting(world: World) -> None:
    world.services.settings.email.reconnect_reminder_days = [2]
    conn = await _kill_grant(world, await world.connect("ann", "zoom"))
    await _run(world, _jobs(world, CONNECTION_NOTICE)[0])
    [notice] = world.outbox("connection_needs_reconnect")
    assert "after 2 days" in " ".join(notice.body_text.split())
    [only] = _jobs(world, CONNECTION_REMINDER)
    assert only.run_at == conn.status_changed_at + timedelta(days=2)
    await _run(world, only)
    assert "This is the last reminder." in _reminders(world)[0]
    assert len(_jobs(world, CONNECTION_REMINDER)) == 1


async def test_mended_before_the_worker_ran_nobody_is_bothered(world: World) -> None:
    await _kill_grant(world, await world.connect("ann", "zoom"))
    await world.connect("ann", "zoom")
    await world.bookings.worker.drain()
    assert world.outbox() == [] and _jobs(world, CONNECTION_REMINDER) == []


async def test_an_organisation_account_tells_every_admin(world: World) -> None:
    conn = await world.connect("admin", "zoom", account_level=True)
    await _kill_grant(world, conn)
    await _run(world, _jobs(world, CONNECTION_NOTICE)[0])
    [notice] = world.outbox("connection_needs_reconnect")
    assert notice.recipient == "admin@acme.test"
    assert notice.subject == "Reconnect Acme's Zoom account"
    assert "You receive this as an administrator of Acme." in notice.body_text


async def test_removal_at_the_provider_tells_the_owner_once(world: World) -> None:
    await world.connect("bob", "zoom")
    for delivery_id in ("d1", "d2"):  # the provider retries the same event
        headers = {"x-fake-signature": "good", "x-fake-id": delivery_id}
        result = await world.connections.handle_webhook("zoom", headers, b"user-bob-zoom")
        await world.connections.apply_webhook_events("zoom", result.events)
    await world.bookings.worker.drain()
    [notice] = world.outbox("connection_removed")
    assert notice.recipient == "bob@acme.test"
    assert notice.subject == "meetbridge was removed from your Zoom account"
    text = " ".join(notice.body_text.split())
    assert "(account details deleted)" in text  # the email was deleted with the rest
    assert "The app was removed from the account at the provider." in text
    assert len(_jobs(world, CONNECTION_REMINDER)) == 1


async def test_no_removal_notice_after_the_person_disconnected_here(world: World) -> None:
    conn = await world.connect("bob", "zoom")
    await world.connections.disconnect(conn.id, actor="bob@acme.test")
    # Revoking at Zoom makes it send app_deauthorized for the same account afterwards.
    headers = {"x-fake-signature": "good", "x-fake-id": "d1"}
    result = await world.connections.handle_webhook("zoom", headers, b"user-bob-zoom")
    assert await world.connections.apply_webhook_events("zoom", result.events) == 1
    await world.bookings.worker.drain()
    assert world.outbox("connection_removed") == [] and _jobs(world, CONNECTION_NOTICE) == []
