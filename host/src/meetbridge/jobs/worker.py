"""The worker: claims due jobs and runs them.

``meetbridge worker`` runs one; ``meetbridge serve`` embeds one unless told not to. Jobs are
short transactions around provider calls: claim (commit), run, record the outcome (commit), so
a worker killed at any point leaves at worst a ``running`` job whose lease expires and is
claimed again — and the handlers are idempotent, so running it again is safe. While a job
runs, its worker renews the lease, so a slow provider never lets a second worker start the
same job; a worker that lost its lease anyway (stalled past it) leaves the outcome alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from meetbridge.conferencing.lifecycle import ConferencingLifecycle, SyncOutcome
from meetbridge.db import utcnow
from meetbridge.jobs import queue
from meetbridge.models import Job, JobStatus
from meetbridge.observability.logs import job_scoped

if TYPE_CHECKING:
    from meetbridge.services import Services

log = logging.getLogger("meetbridge.worker")

SYNC_CONFERENCING = "sync_conferencing"
Handler = Callable[[dict[str, Any]], Awaitable[SyncOutcome]]


class Worker:
    def __init__(
        self,
        services: Services,
        lifecycle: ConferencingLifecycle | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.services = services
        self.lifecycle = lifecycle or ConferencingLifecycle(services)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.handlers: dict[str, Handler] = {SYNC_CONFERENCING: self._sync_conferencing}
        from meetbridge.notifications.jobs import job_handlers  # delivery, connection notices

        self.handlers.update(job_handlers(services))
        self._background: set[asyncio.Task[None]] = set()

    async def _sync_conferencing(self, payload: dict[str, Any]) -> SyncOutcome:
        return await self.lifecycle.sync(int(payload["booking_id"]))

    # -- claiming and running ------------------------------------------------------------------
    def _now(self) -> datetime:
        # The clock the plugins and the token manager use, so that a deferral "until 00:00
        # UTC" computed by a plugin falls due at that time here too.
        clock = self.services.clock
        return clock() if clock is not None else utcnow()

    def _claim(self, job_id: int | None = None) -> Job | None:
        with self.services.sessions() as session, session.begin():
            return queue.claim(session, self.worker_id, now=self._now(), job_id=job_id)

    @job_scoped  # log lines written while the job runs carry its job_id
    async def _run(self, job: Job) -> None:
        handler = self.handlers.get(job.kind)
        lease = asyncio.create_task(self._keep_lease(job.id))
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            with queue.running(job.id, self.worker_id) as running:
                outcome = await handler(job.payload)
            if outcome.done and running.finished:
                return  # the handler marked it done with its last change (queue.running_job)
        except Exception as exc:  # a bug or an unexpected failure: retry, then dead-letter
            log.exception("job %s (%s) failed", job.id, job.kind)
            outcome = SyncOutcome(done=False, error=f"{type(exc).__name__}: {exc}")
        finally:
            lease.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lease
        self._record(job.id, outcome)

    async def _keep_lease(self, job_id: int) -> None:
        """Renew the job's lease three times per lease until the job is done."""
        while True:
            await asyncio.sleep(queue.LEASE.total_seconds() / 3)
            try:
                with self.services.sessions() as session, session.begin():
                    if not queue.renew(session, job_id, self.worker_id):
                        return
            except Exception:  # a missed renewal is retried; the lease has slack for it
                log.warning("could not renew the lease of job %s", job_id, exc_info=True)

    def _record(self, job_id: int, outcome: SyncOutcome) -> None:
        if outcome.done:
            # The common case in one UPDATE; when it changes nothing (the lease was lost) the
            # full path below finds out why and says so.
            with self.services.sessions() as session, session.begin():
                if queue.finish_claimed(session, job_id, self.worker_id):
                    return
        with self.services.sessions() as session, session.begin():
            job = session.get(Job, job_id)
            assert job is not None
            if job.status != JobStatus.RUNNING or job.locked_by != self.worker_id:
                # Stalled past the lease: another worker runs the job now and records it.
                log.warning("job %s: lease lost to %s; outcome left to it", job_id, job.locked_by)
                return
            if outcome.done:
                queue.finish(job)
                return
            queue.fail(
                job,
                outcome.error,
                retry_after=outcome.retry_after,
                run_at=outcome.run_at,
                now=self._now(),
            )
            dead = job.status == JobStatus.DEAD
            kind, payload, attempts = job.kind, dict(job.payload), job.attempts
        if dead:
            log.error("job %s dead after %s attempts: %s", job_id, attempts, outcome.error)
            if kind == SYNC_CONFERENCING:
                self.lifecycle.mark_failed(int(payload["booking_id"]), outcome.error)

    async def run_once(self) -> bool:
        """Claim and run one due job; False when there was none."""
        job = self._claim()
        if job is None:
            return False
        await self._run(job)
        return True

    async def run_job_now(
        self, job_id: int, budget: float | None, *, claimed: Job | None = None
    ) -> bool:
        """Run a specific job at once, waiting at most ``budget`` seconds for it.

        If the budget runs out the job keeps running in the background and finishes by
        itself (it is not cancelled: cancelling a provider call midway is what makes
        duplicates). Returns whether it finished within the budget. ``claimed``: the job,
        already claimed for this worker by the transaction that made it
        (:func:`meetbridge.jobs.queue.add_new`), so no second transaction claims it.
        """
        job = claimed if claimed is not None else self._claim(job_id)
        if job is None:
            return False  # another worker has it
        task = asyncio.create_task(self._run(job))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        done, _ = await asyncio.wait({task}, timeout=budget)
        return task in done

    async def drain(self, *, limit: int = 10_000) -> int:
        """Run due jobs until none is left (tests, `meetbridge worker --once`)."""
        ran = 0
        await self.wait_background()
        while ran < limit and await self.run_once():
            ran += 1
        return ran

    async def wait_background(self) -> None:
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def run_forever(
        self, stop: asyncio.Event, *, poll_seconds: float = 1.0, concurrency: int = 4
    ) -> None:
        async def lane() -> None:
            while not stop.is_set():
                try:
                    ran = await self.run_once()
                except Exception:
                    log.exception("worker lane error")
                    ran = False
                if not ran:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=poll_seconds)

        await asyncio.gather(*(lane() for _ in range(concurrency)))
        await self.wait_background()
