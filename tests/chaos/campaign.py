"""The fault campaign: run it, and print the invariant table.

    uv run python -m tests.chaos.campaign [--bookings N] [--seed S] [--database-url URL]
        [--workers N --kills K] [--scan-secrets] [--json]

Real plugins talk over real HTTP to the three provider sandboxes (uvicorn threads on
127.0.0.1). Hosts connect Zoom, Google Meet and Teams through the real OAuth flow; clients
book, reschedule and cancel while faults are injected through the sandboxes' switches; grants
are revoked and Zoom uninstalls the app mid-run. The worker then drains (the campaign moves its
clock to the next due job instead of sleeping), and the invariants are checked against what
the providers really hold. With ``--workers N`` the conferencing work runs in N worker
processes instead, and ``--kills K`` SIGKILLs them K times at random moments. With
``--scan-secrets`` every token, code, start link and secret the sandboxes issued is looked for
in the database, the logs, the outbox, error messages and the client's pages afterwards
(tests/chaos/secrets.py).

Exit status: 0 when every invariant holds, 1 otherwise. See docs/reliability.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from meetbridge import db
from meetbridge.jobs.worker import Worker
from meetbridge.models import Job, JobStatus
from meetbridge.scheduling.bookings import BookingService
from meetbridge.services import Services
from tests.chaos import invariants, secrets
from tests.chaos.faults import FaultPlan, default_events
from tests.chaos.operations import People
from tests.chaos.stage import Stage, open_stage
from tests.chaos.workers import (
    DeferringWorker,
    RecordingWorker,
    WorkerPool,
    drain_queue,
    read_executions,
)

CLOCK_STEP = timedelta(minutes=5)  # simulated time per wave of operations


@dataclass
class CampaignConfig:
    bookings: int = 100  # booking attempts; reschedules and cancellations come on top
    seed: int = 1
    database_url: str | None = None  # None: a fresh SQLite file in the work directory
    fresh_database: bool = True  # create (and drop) a database on the given server
    fault_rate: float = 0.35
    parallel: int = 4  # operations in flight at once
    reschedule_share: float = 0.3
    cancel_share: float = 0.2
    workers: int = 0  # 0: the worker runs in this process; N: N killable processes
    kills: int = 0
    lease_seconds: float = 5.0  # a killed worker's jobs are taken over after this (real time)
    http_timeout: float = 1.0
    drain_seconds: float = 240.0  # wall-clock bound on draining
    workdir: Path | None = None
    # Look for every secret the sandboxes issued in the database, logs, outbox, pages and
    # error messages after the run (see tests/chaos/secrets.py).
    scan_secrets: bool = False


@dataclass
class CampaignReport:
    config: CampaignConfig
    counts: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    checks: list[invariants.Check] = field(default_factory=list)
    kills: int = 0
    recovery_seconds: list[float] = field(default_factory=list)
    seconds: float = 0.0
    secrets_scan: secrets.SecretScan | None = None  # what the secrets scan looked at

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def failures(self) -> list[invariants.Check]:
        return [c for c in self.checks if not c.ok]

    def table(self) -> str:
        rows: list[tuple[str, str, str]] = [("activity", "", "")]
        rows += [(k, str(v), "") for k, v in sorted(self.counts.items())]
        rows += [("faults injected (fired)", str(sum(self.faults.values())), "")]
        rows += [(f"  {k}", str(v), "") for k, v in sorted(self.faults.items())]
        rows += [("invariants", "", "")]
        for c in self.checks:
            rows.append((c.name, str(c.value), "ok" if c.ok else "FAILED"))
            if c.name == secrets.CHECK_NAME and self.secrets_scan is not None:
                rows.append((f"  ({self.secrets_scan.scanned()})", "", ""))
        width = max(len(r[0]) for r in rows if r[1]) + 2
        lines = [f"{name:<{width}}{value:>8}  {verdict}".rstrip() for name, value, verdict in rows]
        lines.append(f"{'wall-clock seconds':<{width}}{self.seconds:>8.1f}")
        for check in self.failures():
            lines += [f"  ! {check.name}: {d}" for d in check.detail[:10]]
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        config = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self.config).items()}
        config["database_url"] = "***" if self.config.database_url else None
        return {
            "ok": self.ok,
            "config": config,
            "counts": dict(self.counts),
            "faults": dict(self.faults),
            "checks": [
                {"name": c.name, "value": c.value, "ok": c.ok}
                | ({} if c.ok else {"detail": c.detail[:20]})
                for c in self.checks
            ],
            "secrets_scan": asdict(self.secrets_scan)
            | {"findings": len(self.secrets_scan.findings)}
            if self.secrets_scan
            else None,
            "kills": self.kills,
            "recovery_seconds": self.recovery_seconds,
            "seconds": round(self.seconds, 1),
        }


async def run_campaign(config: CampaignConfig) -> CampaignReport:
    report = CampaignReport(config)
    started = time.monotonic()
    if config.workdir is not None:  # one fresh directory per run: logs, clock, SQLite file
        config.workdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="meetbridge-chaos-", dir=config.workdir))
    capture = secrets.LogCapture()
    scan: secrets.SecretScan | None = None
    with (
        capture.attached() if config.scan_secrets else nullcontext(),
        _database(config, workdir) as url,
    ):
        async with open_stage(url, workdir, http_timeout=config.http_timeout) as stage:
            await _run(config, report, stage)
            if config.scan_secrets:
                scan = await secrets.scan_stage(stage, stage.ledger)
                ledger = stage.ledger
    if scan is not None:  # the logs last: they include the stage's own shutdown
        secrets.scan_logs(capture, ledger, scan)
        report.checks.append(scan.check())
        report.secrets_scan = scan
    report.seconds = time.monotonic() - started
    if config.workdir is None and report.ok:
        shutil.rmtree(workdir, ignore_errors=True)
    return report


async def _run(config: CampaignConfig, report: CampaignReport, stage: Stage) -> None:
    rng = random.Random(config.seed)
    services, sandboxes, clock, workdir = (
        stage.services,
        stage.sandboxes,
        stage.clock,
        stage.workdir,
    )

    log = workdir / f"executions-campaign-{uuid.uuid4().hex[:6]}.jsonl"
    pool: WorkerPool | None = None
    if config.workers:
        worker: Worker = DeferringWorker(services)
        pool = _pool(config, stage)
        pool.start()
    else:
        worker = RecordingWorker(services, log_path=log)
    bookings = BookingService(services, worker, inline_budget=1.0)
    people = People(bookings, stage.connections, sandboxes, rng, stage.slugs)
    plan = FaultPlan(rng, rate=config.fault_rate)
    events = default_events()
    stop = asyncio.Event()
    lanes = (
        None
        if pool
        else asyncio.create_task(worker.run_forever(stop, poll_seconds=0.05, concurrency=2))
    )

    # Half the operations book; reschedules and cancellations make up the rest.
    book_share = max(0.1, 1.0 - config.reschedule_share - config.cancel_share)
    waves = max(1, math.ceil(config.bookings / book_share / config.parallel))
    drained = False
    # Two thirds of the kills during the operations, the rest while the queue drains (retries).
    drain_kills = [0] * (config.kills // 3 if pool else 0)
    in_waves = min(config.kills - len(drain_kills), waves) if pool else 0
    kill_waves = sorted(rng.sample(range(1, waves + 1), in_waves))
    try:
        for wave in range(waves):
            for event in events:
                if not event.done and event.at <= wave / waves:
                    await people.happen(event)
            await people.mend(chance=0.05)
            for _ in range(config.parallel):
                plan.maybe_arm(sandboxes)
            await asyncio.gather(
                *(
                    people.act(config.reschedule_share, config.cancel_share)
                    for _ in range(config.parallel)
                )
            )
            clock.advance(CLOCK_STEP)
            while pool and kill_waves and kill_waves[0] <= wave:
                kill_waves.pop(0)
                _kill(pool, rng, services)
            if pool:
                pool.check_alive()
        stop.set()
        if lanes:
            await lanes
        drained = await drain_queue(
            services,
            clock,
            worker=None if pool else worker,
            pool=pool,
            seconds=config.drain_seconds,
            on_tick=(lambda running: _kill_during_drain(pool, rng, services, running, drain_kills))
            if pool
            else None,
        )
    finally:
        stop.set()
        if pool:
            pool.stop()
        if isinstance(worker, RecordingWorker):
            worker.close_log()
    sandboxes.clear_faults()  # what was armed and never fired does not count

    report.counts.update(people.counts)
    stage.manage_tokens.update(people.manage_tokens)
    report.faults.update(kind for _, kind in sandboxes.fired())
    report.checks = invariants.check_all(services, sandboxes, clock(), broken=people.broken)
    report.checks.append(invariants.no_double_booking(services))
    report.checks.append(
        invariants.Check(
            f"queue not drained within {config.drain_seconds:.0f} s", int(not drained), drained
        )
    )
    deaths = pool.deaths() if pool else {}
    executions = read_executions(workdir)
    report.checks.append(invariants.job_overlaps(executions, deaths))
    if people.errors:
        report.checks.append(
            invariants.Check(
                "unexpected errors in operations", len(people.errors), False, people.errors
            )
        )
    if pool:
        report.kills = len(pool.kills)
        report.faults["worker SIGKILLed"] = len(pool.kills)
        recovery = invariants.reclaimed(pool.kills, executions)
        report.checks.append(recovery)
        report.recovery_seconds = recovery.seconds
        report.counts["jobs held by a killed worker, taken over"] = len(recovery.seconds)
        if recovery.seconds:
            report.counts["seconds to take a killed worker's job over (max)"] = math.ceil(
                max(recovery.seconds)
            )


def _pool(config: CampaignConfig, stage: Stage) -> WorkerPool:
    return WorkerPool(
        stage.process_config(),
        stage.workdir,
        size=config.workers,
        lease_seconds=config.lease_seconds,
    )


def _kill_during_drain(
    pool: WorkerPool, rng: random.Random, services: Services, running: int, left: list[int]
) -> None:
    """The kills not spent during the operations hit the drain, while jobs are running."""
    since = time.time() - (pool.kills[-1].at if pool.kills else 0.0)
    if left and running and since > 1.0 and rng.random() < 0.2:
        left.pop(0)
        _kill(pool, rng, services)


def _kill(pool: WorkerPool, rng: random.Random, services: Services) -> None:
    def running(pid: int) -> list[int]:
        with services.sessions() as session:
            return list(
                session.scalars(
                    select(Job.id).where(
                        Job.status == JobStatus.RUNNING, Job.locked_by.like(f"%:{pid}:%")
                    )
                )
            )

    pool.kill_one(rng, running)


# -- the database ----------------------------------------------------------------------------------
class _database:
    """A migrated database for the run: SQLite in the work directory, or a fresh database
    created (and dropped afterwards) on the given PostgreSQL server."""

    def __init__(self, config: CampaignConfig, workdir: Path) -> None:
        self.config, self.workdir = config, workdir
        self.created: Any = None

    def __enter__(self) -> str:
        url = self.config.database_url
        if not url:
            url = f"sqlite:///{self.workdir / 'campaign.sqlite3'}"
        elif self.config.fresh_database and make_url(url).get_backend_name() == "postgresql":
            server = make_url(url)
            name = f"meetbridge_chaos_{uuid.uuid4().hex[:10]}"
            self.created = (server.set(database="postgres"), name)
            with create_engine(self.created[0], isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = server.set(database=name).render_as_string(hide_password=False)
        if self.config.fresh_database or not self.config.database_url:
            db.upgrade(url)
        return url

    def __exit__(self, *exc: object) -> None:
        if self.created is not None:
            admin, name = self.created
            engine = create_engine(admin, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.chaos.campaign", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--bookings", type=int, default=CampaignConfig.bookings)
    parser.add_argument("--seed", type=int, default=CampaignConfig.seed)
    parser.add_argument("--database-url", help="SQLite URL, or a PostgreSQL server URL")
    parser.add_argument("--workers", type=int, default=0, help="worker processes (0: in-process)")
    parser.add_argument("--kills", type=int, default=0, help="SIGKILLs of worker processes")
    parser.add_argument("--fault-rate", type=float, default=CampaignConfig.fault_rate)
    parser.add_argument("--parallel", type=int, default=CampaignConfig.parallel)
    parser.add_argument("--workdir", type=Path, help="keep logs and the SQLite file here")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--scan-secrets",
        action="store_true",
        help="look for the sandboxes' tokens and secrets everywhere meetbridge writes",
    )
    parser.add_argument("--verbose", action="store_true", help="show the host's warnings")
    args = parser.parse_args(argv)
    # Broken connections and retried calls are the point of the run: keep them out of the
    # table unless asked (errors, which would be bugs, always show).
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = CampaignConfig(
        bookings=args.bookings,
        seed=args.seed,
        database_url=args.database_url,
        workers=args.workers,
        kills=args.kills,
        fault_rate=args.fault_rate,
        parallel=args.parallel,
        workdir=args.workdir,
        drain_seconds=max(240.0, args.bookings * 0.5),
        scan_secrets=args.scan_secrets,
    )
    report = asyncio.run(run_campaign(config))
    print(json.dumps(report.as_json(), indent=2) if args.json else report.table())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
