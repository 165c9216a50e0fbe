"""Workers for the campaign: one that records what it runs, and worker processes to kill.

:class:`RecordingWorker` is the host's :class:`~meetbridge.jobs.worker.Worker` with one
addition: every job execution is written to a JSON-lines file (job, worker, pid, start and
end, in wall-clock seconds), so the campaign can prove that no job ran in two places at once.

:class:`WorkerPool` runs ``python -m tests.chaos.worker_process`` processes on the campaign's
database and clock, SIGKILLs them at random moments and starts replacements; the jobs a dead
worker had claimed come back when their lease runs out.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from meetbridge.jobs.worker import Worker
from meetbridge.models import Job, JobStatus
from meetbridge.services import Services

REPO = Path(__file__).resolve().parents[2]
HORIZON = timedelta(hours=36)  # the drain moves the clock at most this far ahead at once


class RecordingWorker(Worker):
    """A worker that logs each job execution (start and end) to ``log_path``."""

    def __init__(self, *args: Any, log_path: Path, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._log = open(log_path, "a", buffering=1)  # noqa: SIM115 - lives as long as we do
        self._lock = threading.Lock()

    def _write(self, job: Job, event: str) -> None:
        line = json.dumps(
            {
                "job": job.id,
                "kind": job.kind,
                "worker": self.worker_id,
                "pid": os.getpid(),
                "event": event,
                "t": time.time(),
            }
        )
        with self._lock:
            self._log.write(line + "\n")
            self._log.flush()

    async def _run(self, job: Job) -> None:
        self._write(job, "start")
        try:
            await super()._run(job)
        finally:
            self._write(job, "end")

    def close_log(self) -> None:
        self._log.close()


class DeferringWorker(Worker):
    """The booking side of a scaled deployment: every job is left to the worker processes
    (a booking is confirmed with its meeting pending, never made inline)."""

    async def run_job_now(self, job_id: int, budget: float | None) -> bool:
        return False


def read_executions(directory: Path) -> list[dict[str, Any]]:
    """Every execution record of every worker of a run."""
    records = []
    for path in sorted(directory.glob("executions-*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # the last line of a killed process may be cut short
    return records


@dataclass
class Kill:
    pid: int
    at: float  # wall-clock seconds
    jobs_running: list[int]  # jobs it had claimed when it died


@dataclass
class WorkerPool:
    """Worker processes on the campaign's database; kills and restarts them."""

    config_path: Path  # JSON: settings, clock file, lease (see worker_process.py)
    run_dir: Path
    size: int = 1
    concurrency: int = 4
    lease_seconds: float = 5.0  # how soon a killed worker's jobs are taken over
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    kills: list[Kill] = field(default_factory=list)
    started: int = 0

    def start(self) -> None:
        while len(self.procs) < self.size:
            self.procs.append(self._spawn())

    def _spawn(self) -> subprocess.Popen[bytes]:
        self.started += 1
        log = open(self.run_dir / f"worker-{self.started}.log", "ab")  # noqa: SIM115
        cmd = [
            sys.executable,
            "-m",
            "tests.chaos.worker_process",
            str(self.config_path),
            f"--concurrency={self.concurrency}",
        ]
        env = {**os.environ, "MEETBRIDGE_JOB_LEASE_SECONDS": str(self.lease_seconds)}
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return proc

    def kill_one(self, rng: random.Random, running_jobs: Any) -> Kill | None:
        """SIGKILL a random worker (no warning, no cleanup), start a replacement."""
        alive = [p for p in self.procs if p.poll() is None]
        if not alive:
            return None
        victim = rng.choice(alive)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        kill = Kill(victim.pid, time.time(), running_jobs(victim.pid))
        self.kills.append(kill)
        self.procs.remove(victim)
        self.procs.append(self._spawn())
        return kill

    def deaths(self) -> dict[int, float]:
        return {k.pid: k.at for k in self.kills}

    def check_alive(self) -> None:
        """Restart a worker that died by itself (and say so: that is a bug)."""
        for proc in list(self.procs):
            if proc.poll() is not None:
                raise RuntimeError(
                    f"worker process {proc.pid} exited with {proc.returncode} on its own;"
                    f" see {self.run_dir}/worker-*.log"
                )

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.procs.clear()


async def drain_queue(
    services: Services,
    clock: Any,
    *,
    worker: Worker | None = None,
    pool: WorkerPool | None = None,
    seconds: float = 120.0,
    on_tick: Callable[[int], None] | None = None,
) -> bool:
    """Run every job to its end, in ``worker`` (this process) or by ``pool``'s processes.

    Instead of waiting for backoffs, Retry-After hints and Zoom's daily reset, the clock is
    moved to the next job's ``run_at`` (at most :data:`HORIZON` ahead: a job scheduled
    further out, like a reminder a week later, is not stuck). False if ``seconds`` ran out.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if worker is not None:
            await worker.wait_background()
            await worker.drain()
        with services.sessions() as session:
            jobs = list(
                session.execute(
                    select(Job.status, Job.run_at).where(
                        Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING])
                    )
                )
            )
        now = clock()
        running = sum(1 for j in jobs if j.status == JobStatus.RUNNING)
        due = [j for j in jobs if j.status == JobStatus.QUEUED and j.run_at <= now]
        if on_tick is not None:
            on_tick(running)
        if running or due:
            if pool is not None:
                pool.check_alive()
            await asyncio.sleep(0.05)  # workers are on it (or a lease has to run out)
            continue
        later = [j.run_at for j in jobs if j.run_at - now <= HORIZON]
        if not later:
            return True
        clock.advance_to(min(later))
    return False
