"""Jobs and the worker: retries with backoff, dead letter, no duplicates, concurrency."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import update

from meetbridge.db import utcnow
from meetbridge.jobs import queue
from meetbridge.jobs.worker import SYNC_CONFERENCING, Worker
from meetbridge.models import Job, JobStatus, MeetingStatus
from meetbridge.providers import DailyLimitReached, ProviderUnavailable, RateLimited
from meetbridge.scheduling.bookings import SlotUnavailable
from tests.world import TUE_9, World


def _make_due(world: World) -> None:
    with world.services.sessions() as session, session.begin():
        session.execute(
            update(Job)
            .where(Job.status == JobStatus.QUEUED)
            .values(run_at=utcnow() - timedelta(seconds=1))
        )


async def test_retry_with_backoff_then_success(world: World) -> None:
    await world.connect("ann", "zoom")
    world.fakes["zoom"].failures.append(("create", ProviderUnavailable("502 Bad Gateway")))
    result = await world.book(world.meeting_type(location="zoom"))
    assert result.conferencing == "pending"
    [job] = world.jobs(SYNC_CONFERENCING)
    assert job.status == JobStatus.QUEUED and job.attempts == 1
    assert job.last_error == "502 Bad Gateway"
    delay = (job.run_at - utcnow()).total_seconds()
    assert 0 < delay <= queue.BACKOFF_BASE_SECONDS
    await world.bookings.worker.drain()  # delivers the confirmations (due now), not the job
    assert world.jobs(SYNC_CONFERENCING)[0].attempts == 1  # not due yet: backoff is honoured
    _make_due(world)
    await world.bookings.worker.drain()
    assert world.jobs(SYNC_CONFERENCING)[0].status == JobStatus.DONE
    assert world.bookings.result(result.booking_id).conferencing == "provisioned"
    # The client was told "on its way" and now gets the link.
    [later] = [
        m for m in world.outbox("conferencing_provisioned") if m.payload["role"] == "attendee"
    ]
    assert later.recipient == "cli@client.test" and "fake.example/j/" in later.body_text


async def test_provider_retry_after_is_honoured(world: World) -> None:
    await world.connect("ann", "zoom")
    world.fakes["zoom"].failures.append(("create", RateLimited("429", retry_after=600)))
    await world.book(world.meeting_type(location="zoom"))
    [job] = world.jobs(SYNC_CONFERENCING)
    assert (job.run_at - utcnow()).total_seconds() > 590


async def test_daily_limit_defers_to_the_reset_and_tells_the_host(world: World) -> None:
    await world.connect("ann", "zoom")
    resets = (utcnow() + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    world.fakes["zoom"].failures.append(
        (
            "create",
            DailyLimitReached(
                "Zoom's daily limit of 100 meetings for this host is reached.", resets_at=resets
            ),
        )
    )
    result = await world.book(world.meeting_type(location="zoom"))
    [job] = world.jobs(SYNC_CONFERENCING)
    assert job.run_at == resets and job.status == JobStatus.QUEUED
    [notice] = world.outbox("daily_limit_deferral")
    assert notice.recipient == "ann@acme.test" and "00:00 UTC" in notice.body_text
    assert world.bookings.result(result.booking_id).conferencing == "pending"


async def test_dead_letter_after_max_attempts_is_visible_and_retryable(world: World) -> None:
    await world.connect("ann", "zoom")
    world.fakes["zoom"].failures.extend(
        [("create", ProviderUnavailable("503 Service Unavailable"))] * 3
    )
    result = await world.book(world.meeting_type(location="zoom"))
    with world.services.sessions() as session, session.begin():
        session.execute(update(Job).values(max_attempts=3))
    for _ in range(2):
        _make_due(world)
        await world.bookings.worker.drain()
    [job] = world.jobs(SYNC_CONFERENCING)
    assert job.status == JobStatus.DEAD and job.attempts == 3
    assert world.current(result.booking_id).status == MeetingStatus.FAILED
    told = {m.recipient for m in world.outbox("conferencing_failed")}
    assert told == {"ann@acme.test", "admin@acme.test"}
    with world.services.sessions() as session, session.begin():
        queue.retry_dead(session, job.id)
    await world.bookings.worker.drain()
    # The failed meeting row is not reused blindly: retrying makes it again, exactly once.
    assert world.jobs(SYNC_CONFERENCING)[0].status == JobStatus.DONE
    assert len(world.fakes["zoom"].meetings) == 1


async def test_no_duplicate_when_the_provider_acted_before_failing(world: World) -> None:
    await world.connect("ann", "zoom")
    world.fakes["zoom"].failures.append(
        ("create_after_acting", ProviderUnavailable("read timeout", ambiguous=True))
    )
    result = await world.book(world.meeting_type(location="zoom"))
    assert result.conferencing == "pending"
    assert len(world.fakes["zoom"].meetings) == 1  # it was made, but we did not hear back
    _make_due(world)
    await world.bookings.worker.drain()
    assert len(world.fakes["zoom"].meetings) == 1  # the retry found it instead of re-creating
    final = world.bookings.result(result.booking_id)
    [mid] = world.fakes["zoom"].meetings
    assert final.join_url == f"https://fake.example/j/{mid}"


async def test_inline_budget_leaves_the_booking_pending_and_finishes_later(
    world: World,
) -> None:
    await world.connect("ann", "zoom")
    fake = world.fakes["zoom"]
    gate = asyncio.Event()

    async def gated_access_token() -> str:
        await gate.wait()
        return "token"

    world.bookings.inline_budget = 0.05
    slug = world.meeting_type(location="zoom")
    from meetbridge.conferencing import credentials as creds_module

    real = creds_module.ConnectionCredentials.access_token
    creds_module.ConnectionCredentials.access_token = lambda self: gated_access_token()
    try:
        result = await world.book(slug)
        assert result.conferencing == "pending"
        gate.set()
        await world.bookings.worker.wait_background()
    finally:
        creds_module.ConnectionCredentials.access_token = real
    assert world.bookings.result(result.booking_id).conferencing == "provisioned"
    assert len(fake.meetings) == 1


async def test_a_job_claimed_by_a_dead_worker_is_claimed_again(world: World) -> None:
    await world.connect("ann", "zoom")
    world.bookings.inline_budget = 0
    with world.services.sessions() as session, session.begin():
        session.add(Job(kind="sync_conferencing", payload={"booking_id": 999}))
    dead_worker = Worker(world.services, worker_id="dead")
    with world.services.sessions() as session, session.begin():
        job = queue.claim(session, "dead")
        job.locked_at = utcnow() - queue.LEASE - timedelta(seconds=1)
    assert await Worker(world.services, worker_id="alive").drain() == 1
    [job] = world.jobs()
    assert job.status == JobStatus.DONE and job.locked_by == "alive" and job.attempts == 2
    assert dead_worker.worker_id == "dead"


def test_enqueue_with_the_same_key_is_a_no_op(world: World) -> None:
    with world.services.sessions() as session, session.begin():
        a = queue.enqueue(session, "sync_conferencing", {"booking_id": 1}, key="k1")
        b = queue.enqueue(session, "sync_conferencing", {"booking_id": 1}, key="k1")
        assert a is b
    assert len(world.jobs()) == 1


def test_backoff_grows_and_is_capped() -> None:
    assert queue.backoff_seconds(1) <= 5
    assert 40 <= queue.backoff_seconds(5) <= 80
    assert queue.backoff_seconds(30) <= queue.BACKOFF_CAP_SECONDS
    assert queue.backoff_seconds(1, retry_after=120) == 120


def test_two_workers_never_claim_the_same_job(world: World) -> None:
    """Claims from many threads at once (separate connections): each job claimed once."""
    with world.services.sessions() as session, session.begin():
        for i in range(20):
            session.add(Job(kind="noop", payload={"i": i}))
    claimed: list[int] = []
    lock = threading.Lock()

    def claim_all(worker: str) -> None:
        while True:
            with world.services.sessions() as session, session.begin():
                job = queue.claim(session, worker)
                if job is None:
                    return
                with lock:
                    claimed.append(job.id)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(claim_all, ["w1", "w2", "w3", "w4"]))
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 20


def test_concurrent_bookings_of_the_last_slot_one_wins(world: World) -> None:
    slug = world.meeting_type(location="phone", location_value="+1 555 0100")

    def attempt(i: int) -> str:
        try:
            asyncio.run(world.book(slug, TUE_9, email=f"c{i}@client.test"))
            return "booked"
        except SlotUnavailable:
            return "refused"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert outcomes.count("booked") == 1 and outcomes.count("refused") == 7
    from sqlalchemy import func, select

    from meetbridge.models import Booking

    with world.services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Booking)) == 1


@pytest.mark.parametrize("stage", ["update", "delete"])
async def test_retryable_failures_on_update_and_delete_are_retried(
    world: World, stage: str
) -> None:
    await world.connect("ann", "zoom")
    result = await world.book(world.meeting_type(location="zoom"))
    world.fakes["zoom"].failures.append((stage, ProviderUnavailable("500")))
    if stage == "update":
        from tests.world import TUE_10

        await world.bookings.reschedule(result.booking_id, TUE_10, actor="x")
    else:
        await world.bookings.cancel(result.booking_id, actor="x")
    _make_due(world)
    await world.bookings.worker.drain()
    meetings = world.fakes["zoom"].meetings
    if stage == "update":
        from tests.world import TUE_10

        assert next(iter(meetings.values()))["start"] == TUE_10
    else:
        assert meetings == {}


async def test_a_first_create_is_attempt_one_and_not_ambiguous(world: World) -> None:
    """Regression: the attempt was marked in flight before the request was built, so every
    first create looked like an ambiguous retry and Zoom listed meetings before creating."""
    seen: list[tuple[int, bool]] = []
    fake = world.fakes["zoom"]
    original = fake._create

    def spy(request, token, credentials):
        seen.append((request.attempt, request.previous_attempt_ambiguous))
        return original(request, token, credentials)

    fake._create = spy
    await world.connect("ann", "zoom")
    await world.book(world.meeting_type(location="zoom"))
    assert seen == [(1, False)]


async def test_a_short_qps_limit_is_waited_out_inline(world: World) -> None:
    await world.connect("ann", "zoom")
    world.fakes["zoom"].failures.append(("create", RateLimited("429 QPS", retry_after=0.05)))
    result = await world.book(world.meeting_type(location="zoom"))
    assert result.conferencing == "provisioned"
    assert [j.status for j in world.jobs("sync_conferencing")] == [JobStatus.DONE]


async def test_an_ambiguous_qps_limit_goes_back_to_the_queue(world: World) -> None:
    await world.connect("ann", "zoom")
    world.fakes["zoom"].failures.append(
        ("create", RateLimited("429 after acting", retry_after=0.05, ambiguous=True))
    )
    result = await world.book(world.meeting_type(location="zoom"))
    assert result.conferencing == "pending"
    [job] = world.jobs("sync_conferencing")
    assert job.status == JobStatus.QUEUED and job.attempts == 1


async def test_a_booking_claims_its_sync_job_and_ends_it_with_the_meeting(world: World) -> None:
    """The inline sync is claimed in the booking's transaction and marked done in the one
    that stores the meeting: done, one attempt, released, whoever looks at the queue."""
    await world.connect("ann", "zoom")
    result = await world.book(world.meeting_type(location="zoom"))
    assert result.conferencing == "provisioned"
    [job] = world.jobs(SYNC_CONFERENCING)
    assert job.status == JobStatus.DONE and job.attempts == 1
    assert job.locked_at is None and job.last_error is None
    assert job.locked_by == world.bookings.worker.worker_id
    # Each confirmation has its delivery job, queued and unclaimed.
    deliveries = world.jobs("deliver_message")
    assert {j.payload["message_id"] for j in deliveries} == {m.id for m in world.outbox()}
    assert all(j.status == JobStatus.QUEUED and j.attempts == 0 for j in deliveries)


async def test_a_worker_that_runs_nothing_inline_gets_the_job_queued(world: World) -> None:
    """A worker overriding run_job_now (all work left to worker processes) is not bypassed by
    the claim at enqueue: the job stays queued for whoever claims it."""

    class Deferring(Worker):
        async def run_job_now(self, job_id: int, budget: float | None, **_: object) -> bool:
            return False

    world.bookings.worker = Deferring(world.services)
    await world.connect("ann", "zoom")
    result = await world.book(world.meeting_type(location="zoom"))
    assert result.conferencing == "pending"
    [job] = world.jobs(SYNC_CONFERENCING)
    assert job.status == JobStatus.QUEUED and job.attempts == 0 and job.locked_by is None
    await Worker(world.services).drain()
    assert world.jobs(SYNC_CONFERENCING)[0].status == JobStatus.DONE
    assert world.bookings.result(result.booking_id).conferencing == "provisioned"


async def test_a_lost_lease_leaves_the_outcome_to_the_new_holder(world: World) -> None:
    """The one-statement "done" changes nothing for a job another worker took over."""
    await world.connect("ann", "zoom")
    await world.book(world.meeting_type(location="zoom"))
    [job] = world.jobs(SYNC_CONFERENCING)
    with world.services.sessions() as session, session.begin():
        session.execute(
            update(Job).where(Job.id == job.id).values(status=JobStatus.RUNNING, locked_by="other")
        )
        assert not queue.finish_claimed(session, job.id, world.bookings.worker.worker_id)
    [job] = world.jobs(SYNC_CONFERENCING)
    assert job.status == JobStatus.RUNNING and job.locked_by == "other"
