"""The job queue, in the database: enqueue, claim, finish, retry with backoff, dead letter.

Claiming takes the oldest due job with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
workers never run the same job; on SQLite the claim runs inside the database's write lock. A
job whose worker died (its lease expired while ``running``) is claimed again; a live worker
renews the lease of the job it runs (:func:`renew`), however long the provider takes. Leases
count real time (they are about a process being alive); ``run_at`` counts the caller's clock.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meetbridge.db import utcnow
from meetbridge.models import Job, JobStatus

# A running job whose lease was not renewed for this long belongs to a dead worker. Workers
# renew it every third of it, so it only bounds how soon a dead worker's job is taken over;
# MEETBRIDGE_JOB_LEASE_SECONDS shortens it (tests that SIGKILL workers, impatient operators).
LEASE = timedelta(seconds=float(os.environ.get("MEETBRIDGE_JOB_LEASE_SECONDS") or 300))
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 3600.0


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    key: str | None = None,
    run_at: datetime | None = None,
    max_attempts: int = 8,
) -> Job:
    """Add a job; with ``key``, enqueueing the same work again returns the existing job."""
    if key is not None:
        existing = session.scalars(select(Job).where(Job.idempotency_key == key)).first()
        if existing is not None:
            return existing
    job = Job(
        kind=kind,
        payload=payload,
        idempotency_key=key,
        run_at=run_at or utcnow(),
        max_attempts=max_attempts,
    )
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:  # another process enqueued the same key just now
        existing = session.scalars(select(Job).where(Job.idempotency_key == key)).first()
        assert existing is not None
        return existing
    return job


def add_new(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    key: str,
    run_at: datetime | None = None,
    max_attempts: int = 8,
    claimed_by: str | None = None,
) -> Job:
    """Add a job whose ``key`` cannot exist yet, without :func:`enqueue`'s look-up and savepoint.

    For keys that name a row made in this same transaction (a new booking's first sync, a new
    message's delivery): no other transaction can know that row's id, so none can have used
    the key, and ids are never reused (bookings and messages are never deleted). With
    ``claimed_by`` the job is added already claimed by that worker (running, leased, one
    attempt), for a caller that runs it at once: a worker elsewhere sees a live lease and
    leaves it, and if this process dies the lease expires and the job is claimed again, as
    after any claim.
    """
    job = Job(
        kind=kind,
        payload=payload,
        idempotency_key=key,
        run_at=run_at or utcnow(),
        max_attempts=max_attempts,
        status=JobStatus.QUEUED,
        attempts=0,
    )
    if claimed_by is not None:
        job.status = JobStatus.RUNNING
        job.locked_at = utcnow()
        job.locked_by = claimed_by
        job.attempts = 1
    session.add(job)
    return job


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter, never sooner than the provider's ``retry_after``."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    delay = random.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


def claim(
    session: Session, worker_id: str, *, now: datetime | None = None, job_id: int | None = None
) -> Job | None:
    """Claim one due job (or the given one) for ``worker_id``; commit to make it visible."""
    now = now or utcnow()
    alive = utcnow()  # leases in real time, whatever clock ``now`` comes from
    due = or_(
        (Job.status == JobStatus.QUEUED) & (Job.run_at <= now),
        (Job.status == JobStatus.RUNNING) & (Job.locked_at < alive - LEASE),
    )
    stmt = select(Job).where(due).order_by(Job.run_at, Job.id).limit(1)
    if job_id is not None:
        stmt = select(Job).where(Job.id == job_id, Job.status == JobStatus.QUEUED)
    if session.get_bind().dialect.name == "sqlite":
        # Take the write lock first so two processes cannot both read the same job as free.
        session.execute(update(Job).where(Job.id == -1).values(attempts=Job.attempts))
    else:
        stmt = stmt.with_for_update(skip_locked=True)
    job = session.scalars(stmt).first()
    if job is None:
        return None
    job.status = JobStatus.RUNNING
    job.locked_at = alive
    job.locked_by = worker_id
    job.attempts += 1
    return job


def renew(session: Session, job_id: int, worker_id: str) -> bool:
    """Extend the lease of a job ``worker_id`` is running; False when it is not theirs any more."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING, Job.locked_by == worker_id)
        .values(locked_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass
class RunningJob:
    """The job the current task runs for a worker (see :func:`running_job`)."""

    job_id: int
    worker_id: str
    finished: bool = False  # marked done by its handler, in the handler's last transaction


_RUNNING: ContextVar[RunningJob | None] = ContextVar("meetbridge_running_job", default=None)


def running_job() -> RunningJob | None:
    """The job this task runs, when a worker runs it.

    A handler whose last change ends the job ("done") may mark it done in that change's own
    transaction, with :func:`finish_claimed`, and then set ``finished``: the change and the
    end of the job commit together, and the worker records nothing after (one transaction
    less per job). Set ``finished`` only once that transaction has committed.
    """
    return _RUNNING.get()


@contextmanager
def running(job_id: int, worker_id: str) -> Iterator[RunningJob]:
    """Make ``job_id`` this task's running job for the block (the worker's side)."""
    job = RunningJob(job_id, worker_id)
    token = _RUNNING.set(job)
    try:
        yield job
    finally:
        _RUNNING.reset(token)


def finish_claimed(session: Session, job_id: int, worker_id: str) -> bool:
    """Mark a job ``worker_id`` runs done in one statement; False when it is not theirs any
    more (its lease was lost) and nothing was changed."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING, Job.locked_by == worker_id)
        .values(status=JobStatus.DONE, locked_at=None, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def finish(job: Job) -> None:
    job.status = JobStatus.DONE
    job.locked_at = None
    job.last_error = None


def fail(
    job: Job,
    error: str,
    *,
    retry_after: float | None = None,
    run_at: datetime | None = None,
    retry: bool = True,
    now: datetime | None = None,
) -> None:
    """Record a failure: back to the queue with backoff, or dead after ``max_attempts``."""
    now = now or utcnow()
    job.last_error = error[:2000]
    job.locked_at = None
    if not retry or job.attempts >= job.max_attempts:
        job.status = JobStatus.DEAD
        return
    job.status = JobStatus.QUEUED
    job.run_at = run_at or now + timedelta(seconds=backoff_seconds(job.attempts, retry_after))


def release(job: Job, *, run_at: datetime | None = None) -> None:
    """Put a claimed job back untouched (e.g. the inline time budget ran out)."""
    job.status = JobStatus.QUEUED
    job.locked_at = None
    job.run_at = run_at or utcnow()


def retry_dead(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise LookupError(f"No job {job_id}.")
    if job.status != JobStatus.DEAD:
        raise ValueError(f"Job {job_id} is {job.status}, not dead; only dead jobs are retried.")
    job.status = JobStatus.QUEUED
    job.attempts = 0
    job.run_at = utcnow()
    return job
