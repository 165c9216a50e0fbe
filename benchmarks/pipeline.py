"""Pipeline throughput: meetbridge bookings against bare create-meeting requests.

What one *booking* is here: ``BookingService.book()`` exactly as the web page and the API call
it — validate, check the slot is free, insert the booking with its host and attendee, enqueue
the conferencing job, run it inline (claim it, resolve the connection, load and decrypt the
token, create the meeting at Zoom through the plugin, store it with the start link encrypted,
record the job done), queue the confirmation emails, and read the result back. The Zoom
sandbox runs in another process on 127.0.0.1 with a fixed added latency.

The *baseline* sends the same create-meeting requests (same body, same token, same sandbox,
same concurrency, same connection-pool limits) with a plain ``httpx.AsyncClient``: the most a
client can get from that provider. The ratio meetbridge/baseline is what the host keeps.

Run alone: ``uv run python benchmarks/pipeline.py --db sqlite --bookings 1000 --concurrency 10``
(prints one JSON object). ``benchmarks/run.py`` runs it in a child process per database so the
peak RSS (``ru_maxrss``) is the pipeline's own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from common import (
    SandboxProcess,
    bench_settings,
    build_services,
    connect_all,
    database,
    exit_cleanly_on_sigterm,
    first_slot,
    latency_summary,
    seed_org,
    slot_plan,
    workdir,
)
from sqlalchemy import func, select

# Zoom's rate limiter stays in the path but never binds here (the sandbox's QPS check is off
# for this benchmark): throughput is about what the host adds, saturation is measured apart.
UNBOUND_RATES = {"rate_limits": {"medium": 100_000, "light": 100_000}}


@dataclass
class Run:
    count: int = 0
    wall: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "wall_s": round(self.wall, 3),
            "per_s": round(self.count / self.wall, 1) if self.wall else 0.0,
            **latency_summary(self.latencies),
            "errors": len(self.errors),
            "first_error": self.errors[0] if self.errors else None,
        }


async def run_concurrently(items: list[Any], concurrency: int, one: Any) -> Run:
    """Run ``one(item)`` for every item with ``concurrency`` workers; time each and all."""
    run = Run(count=len(items))
    queue = iter(items)

    async def worker() -> None:
        for item in queue:  # a shared iterator: each item is taken once
            started = time.perf_counter()
            try:
                await one(item)
            except Exception as exc:  # counted and reported, never hidden
                run.errors.append(f"{type(exc).__name__}: {exc}"[:300])
            run.latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.wall = time.perf_counter() - started
    return run


# -- the two contenders -----------------------------------------------------------------------
async def book_all(
    bookings: Any, org: Any, plan: list[tuple[int, datetime]], concurrency: int, tag: str
) -> Run:
    from meetbridge.scheduling.bookings import BookingRequest

    async def one(item: tuple[int, tuple[int, datetime]]) -> None:
        n, (host, start) = item
        result = await bookings.book(
            BookingRequest(
                meeting_type=org.slugs[host],
                start=start,
                name=f"Client {tag}{n}",
                email=f"client-{tag}{n}@example.org",
                timezone="Europe/Paris",
            ),
            organization_id=org.org_id,
        )
        if result.conferencing != "provisioned":
            raise RuntimeError(f"booking {result.booking_id} conferencing {result.conferencing}")

    return await run_concurrently(list(enumerate(plan)), concurrency, one)


def baseline_requests(
    org: Any, plan: list[tuple[int, datetime]], tag: str
) -> list[tuple[str, dict[str, Any]]]:
    """(token, body) per request: the body the plugin would send, built before timing."""
    from meetbridge.models import Connection
    from meetbridge.providers import MeetingRequest
    from meetbridge_zoom.meetings import meeting_body

    services = org.services
    with services.sessions() as session:
        tokens = [
            services.vault.decrypt_tokens(session.get(Connection, cid).token_ciphertext)
            for cid in org.connection_ids
        ]
    out = []
    for n, (host, start) in enumerate(plan):
        request = MeetingRequest(
            idempotency_key=f"mb-baseline-{tag}{n}",
            topic=f"Call with host {host} with Client {tag}{n}",
            start=start,
            duration_minutes=30,
            timezone="UTC",
            attendees=(f"client-{tag}{n}@example.org",),
        )
        out.append((tokens[host].access_token.reveal(), meeting_body(request, "UTC")))
    return out


async def baseline_all(
    sandbox_url: str, requests: list[tuple[str, dict[str, Any]]], concurrency: int
) -> Run:
    url = f"{sandbox_url}/v2/users/me/meetings"
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)  # as Services.http
    async with httpx.AsyncClient(timeout=10.0, limits=limits) as client:

        async def one(item: tuple[str, dict[str, Any]]) -> None:
            token, body = item
            response = await client.post(
                url,
                json=body,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            )
            if response.status_code != 201:
                raise RuntimeError(f"create answered {response.status_code}")
            response.json()  # the client reads the meeting, as the plugin does

        return await run_concurrently(requests, concurrency, one)


# -- the benchmark ----------------------------------------------------------------------------
def outcome_counts(services: Any) -> dict[str, int]:
    from meetbridge.models import Booking, Meeting, MeetingStatus, OutboundMessage

    with services.sessions() as session:
        return {
            "bookings": session.scalar(select(func.count(Booking.id))) or 0,
            "meetings_provisioned": session.scalar(
                select(func.count(Meeting.id)).where(Meeting.status == MeetingStatus.PROVISIONED)
            )
            or 0,
            "confirmation_emails_queued": session.scalar(
                select(func.count(OutboundMessage.id)).where(
                    OutboundMessage.kind == "booking_confirmed"
                )
            )
            or 0,
        }


@dataclass
class SqlCount:
    statements: int = 0
    commits: int = 0
    checkouts: int = 0


@contextlib.contextmanager
def counting_sql(engine: Any) -> Iterator[SqlCount]:
    """Count the SQL statements, commits and pool checkouts of ``engine`` in the block."""
    from sqlalchemy import event

    count = SqlCount()

    def statement(*_args: Any) -> None:
        count.statements += 1

    def commit(*_args: Any) -> None:
        count.commits += 1

    def checkout(*_args: Any) -> None:
        count.checkouts += 1

    listeners = [
        (engine, "before_cursor_execute", statement),
        (engine, "commit", commit),
        (engine.pool, "checkout", checkout),
    ]
    for target, name, fn in listeners:
        event.listen(target, name, fn)
    try:
        yield count
    finally:
        for target, name, fn in listeners:
            event.remove(target, name, fn)


@contextlib.contextmanager
def profiling(path: str | None) -> Iterator[None]:
    """Profile the block with pyinstrument into ``path`` (text, wall clock, async-aware).

    pyinstrument is a development dependency of the workspace (``uv sync`` installs it).
    """
    if not path:
        yield
        return
    from pyinstrument import Profiler

    profiler = Profiler(async_mode="enabled", interval=0.0005)
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        with open(path, "w") as out:
            out.write(profiler.output_text(unicode=False, color=False, show_all=False))


async def measure(
    db_kind: str,
    bookings_n: int,
    concurrency: int,
    latency_ms: float,
    profile: str | None = None,
) -> dict:
    from meetbridge.scheduling.bookings import BookingService

    hosts = 20
    now = datetime.now(UTC).replace(microsecond=0)
    warm_n = concurrency * 2
    with (
        workdir() as tmp,
        SandboxProcess(members=hosts, latency_ms=latency_ms) as sandbox,
        database(db_kind, tmp) as db,
    ):
        # Bookings of baseline + meetbridge + warm-ups exceed Zoom's 100/host/day cap, which
        # is not what this measures (saturation does): lift it.
        sandbox.control("config", qps_enabled=False, daily_cap=10**9, latency_ms=0)
        services = build_services(
            bench_settings(db.url, tmp / "data", sandbox.url, **UNBOUND_RATES)
        )
        try:
            org = seed_org(services, hosts)
            await connect_all(org)
            sandbox.control("config", latency_ms=latency_ms)
            service = BookingService(services, clock=lambda: now)
            plan = slot_plan(warm_n + bookings_n, hosts, first_slot(now))
            warm, timed = plan[:warm_n], plan[warm_n:]

            # Warm both up (connections opened, code paths compiled), then time each.
            await baseline_all(sandbox.url, baseline_requests(org, warm, "bw"), concurrency)
            requests = baseline_requests(org, timed, "b")
            cpu = time.process_time()
            base = await baseline_all(sandbox.url, requests, concurrency)
            base_cpu = time.process_time() - cpu
            await book_all(service, org, warm, concurrency, "w")
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            cpu = time.process_time()
            with profiling(profile), counting_sql(services.engine) as sql:
                mb = await book_all(service, org, timed, concurrency, "m")
                mb_cpu = time.process_time() - cpu
                await service.worker.wait_background()
            rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            counts = outcome_counts(services)
        finally:
            await services.aclose()
            services.close()
    # CPU of this process per booking: what the host adds, and the least sensitive figure
    # when other programs share the machine (wall times are not).
    ratio = (mb.count / mb.wall) / (base.count / base.wall) if mb.wall and base.wall else 0.0
    return {
        "database": db_kind,
        "bookings": bookings_n,
        "concurrency": concurrency,
        "latency_ms": latency_ms,
        "hosts": hosts,
        "baseline": {**base.as_dict(), "cpu_ms_per_item": round(base_cpu / base.count * 1000, 2)},
        "meetbridge": {**mb.as_dict(), "cpu_ms_per_item": round(mb_cpu / mb.count * 1000, 2)},
        "ratio": round(ratio, 3),
        # What one booking costs the database, counted with SQLAlchemy events: statements sent
        # (SAVEPOINTs and BEGIN IMMEDIATE included), commits, connections taken from the pool.
        "sql_per_booking": {
            "statements": round(sql.statements / mb.count, 1),
            "commits": round(sql.commits / mb.count, 1),
            "pool_checkouts": round(sql.checkouts / mb.count, 1),
        },
        "outcome": counts,
        "peak_rss_mib": round(rss_peak / 1024, 1),
        "rss_before_timed_run_mib": round(rss_before / 1024, 1),
    }


def main(argv: list[str] | None = None) -> None:
    exit_cleanly_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--bookings", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--profile", help="write a pyinstrument profile of the timed run here")
    args = parser.parse_args(argv)
    result = asyncio.run(
        measure(args.db, args.bookings, args.concurrency, args.latency_ms, args.profile)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
