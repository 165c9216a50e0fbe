"""Job leases and the worker's clock: what makes SIGKILLed workers and several workers safe.

A claimed job carries a lease. A worker that dies stops renewing it, so another worker picks
the job up once it runs out; a worker that is alive renews it while the job runs, however long
the provider takes, so nobody else runs the job at the same time. Leases count real time;
``run_at`` counts the services' clock (the one the plugins and token refreshes use).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest

from meetbridge.conferencing.lifecycle import SyncOutcome
from meetbridge.db import utcnow
from meetbridge.jobs import queue
from meetbridge.jobs.worker import Worker
from meetbridge.models import Job, JobStatus
from tests.world import World


def _add_job(world: World, kind: str, **values: Any) -> int:
    with world.services.sessions() as session, session.begin():
        job = Job(kind=kind, payload={}, **values)
        session.add(job)
        session.flush()
        return job.id


def _job(world: World, job_id: int) -> Job:
    with world.services.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


async def test_a_job_running_longer_than_its_lease_is_not_taken_by_another_worker(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue, "LEASE", timedelta(seconds=0.3))
    release = asyncio.Event()

    async def slow(_payload: dict[str, Any]) -> SyncOutcome:
        await release.wait()  # a provider that takes a while to answer
        return SyncOutcome(done=True)

    first, second = (
        Worker(world.services, worker_id="first"),
        Worker(world.services, worker_id="second"),
    )
    first.handlers["slow"] = slow
    job_id = _add_job(world, "slow")
    running = asyncio.create_task(first.run_once())
    for _ in range(8):  # 0.8 s: well past the lease, which the first worker keeps renewing
        await asyncio.sleep(0.1)
        assert second._claim() is None
    release.set()
    assert await running is True
    job = _job(world, job_id)
    assert job.status == JobStatus.DONE and job.locked_by == "first" and job.attempts == 1


async def test_a_dead_workers_job_is_taken_over_once_its_lease_runs_out(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue, "LEASE", timedelta(seconds=0.2))
    job_id = _add_job(world, "noop")
    with world.services.sessions() as session, session.begin():
        assert queue.claim(session, "killed") is not None  # then the process was SIGKILLed
    survivor = Worker(world.services, worker_id="survivor")
    survivor.handlers["noop"] = lambda _p: _done()
    assert survivor._claim() is None  # the lease still holds
    await asyncio.sleep(0.3)
    assert await survivor.run_once() is True
    job = _job(world, job_id)
    assert job.status == JobStatus.DONE and job.locked_by == "survivor" and job.attempts == 2


async def _done() -> SyncOutcome:
    return SyncOutcome(done=True)


async def test_a_worker_that_lost_its_lease_leaves_the_outcome_to_the_new_owner(
    world: World,
) -> None:
    job_id = _add_job(world, "stalled")
    stalled = Worker(world.services, worker_id="stalled")

    async def handler(_payload: dict[str, Any]) -> SyncOutcome:
        # While this worker was stalled, its lease ran out and another worker took the job.
        with world.services.sessions() as session, session.begin():
            job = session.get(Job, job_id)
            job.locked_by, job.locked_at, job.attempts = "new-owner", utcnow(), job.attempts + 1
        return SyncOutcome(done=False, error="stale outcome")

    stalled.handlers["stalled"] = handler
    assert await stalled.run_once() is True
    job = _job(world, job_id)
    assert job.status == JobStatus.RUNNING and job.locked_by == "new-owner"
    assert job.last_error is None


async def test_jobs_fall_due_on_the_services_clock(world: World) -> None:
    """The plugins, token refreshes and daily-limit deferrals use ``services.clock``; so do
    ``run_at`` and the backoff, or a deferral "until 00:00 UTC" means two different times."""
    ahead = timedelta(hours=30)
    world.services.clock = lambda: utcnow() + ahead
    job_id = _add_job(world, "later", run_at=utcnow() + timedelta(hours=29))
    worker = Worker(world.services)
    outcomes = iter([SyncOutcome(done=False, error="503"), SyncOutcome(done=True)])

    async def later(_payload: dict[str, Any]) -> SyncOutcome:
        return next(outcomes)

    worker.handlers["later"] = later
    assert await worker.drain() == 1  # due on the clock, although not yet in real time
    job = _job(world, job_id)
    assert job.status == JobStatus.QUEUED
    assert utcnow() + ahead < job.run_at <= utcnow() + ahead + timedelta(seconds=6)


def test_the_lease_is_set_by_environment_for_deployments_and_tests() -> None:
    code = "from meetbridge.jobs import queue; print(queue.LEASE.total_seconds())"
    env = {**os.environ, "MEETBRIDGE_JOB_LEASE_SECONDS": "7.5"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "7.5"
