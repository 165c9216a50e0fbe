"""Rate-limit saturation: does meetbridge use every create Zoom allows, and never trip a 429?

The sandbox enforces Zoom's per-account limit for its Pro account: R meeting creates per
second ("Medium" label, R = 20) and 100 creates+updates per host per day. The organisation's
hosts are members of that one Zoom account, each with their own connection, so their creates
share one budget (the plugin learns the account of each user at connect). N bookings are made
at a concurrency high enough to keep the budget busy.

Figures: the create rate the sandbox accepted (first to last accepted create, measured where
the limit is enforced) divided by R; bookings that failed or ended without a meeting; 429s the
sandbox answered; meetings whose last error came from a 429. Goal: rate/R >= 0.95, 0, 0, 0.

Run alone: ``uv run python benchmarks/saturation.py --bookings 1000`` (prints JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from common import (
    SandboxProcess,
    bench_settings,
    build_services,
    connect_all,
    database,
    exit_cleanly_on_sigterm,
    first_slot,
    seed_org,
    slot_plan,
    workdir,
)
from pipeline import run_concurrently
from sqlalchemy import func, select

RATE = 20  # Zoom Pro, "Medium" label (meeting create), per account per second
HOSTS = 20  # 1,000 bookings stay under 100 creates per host per day


def sliding_peak(times: list[float], window: float = 1.0) -> int:
    """The most events inside any ``window`` seconds."""
    best, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= window:
            first += 1
        best = max(best, last - first + 1)
    return best


async def measure(bookings_n: int, concurrency: int, latency_ms: float, db_kind: str) -> dict:
    from meetbridge.models import Meeting, MeetingStatus
    from meetbridge.scheduling.bookings import BookingRequest, BookingService

    now = datetime.now(UTC).replace(microsecond=0)
    with (
        workdir() as tmp,
        SandboxProcess(members=HOSTS, latency_ms=latency_ms) as sandbox,
        database(db_kind, tmp) as db,
    ):
        sandbox.control("config", qps_enabled=True, daily_cap=100, medium_qps=RATE, latency_ms=0)
        # The plugin's own limiter at its defaults: the Pro plan's 20 creates per second.
        services = build_services(bench_settings(db.url, tmp / "data", sandbox.url))
        pending_inline = 0
        try:
            org = seed_org(services, HOSTS)
            await connect_all(org)
            sandbox.control("reset")
            sandbox.control("config", latency_ms=latency_ms)
            service = BookingService(services, clock=lambda: now)

            async def one(item: tuple[int, tuple[int, datetime]]) -> None:
                nonlocal pending_inline
                n, (host, start) = item
                result = await service.book(
                    BookingRequest(
                        meeting_type=org.slugs[host],
                        start=start,
                        name=f"Client {n}",
                        email=f"client-{n}@example.org",
                        timezone="UTC",
                    ),
                    organization_id=org.org_id,
                )
                if result.conferencing != "provisioned":
                    pending_inline += 1  # not an error yet: the job may still finish it

            plan = slot_plan(bookings_n, HOSTS, first_slot(now))
            run = await run_concurrently(list(enumerate(plan)), concurrency, one)
            await service.worker.wait_background()
            stats = sandbox.control("stats", method="GET")
            with services.sessions() as session:
                provisioned = session.scalar(
                    select(func.count(Meeting.id)).where(
                        Meeting.status == MeetingStatus.PROVISIONED
                    )
                )
                rate_errors = session.scalar(
                    select(func.count(Meeting.id)).where(
                        Meeting.last_error.is_not(None),
                        Meeting.last_error.contains("slow down")
                        | Meeting.last_error.contains("daily allowance"),
                    )
                )
        finally:
            await services.aclose()
            services.close()
    times = sorted(stats["create_times"])
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    achieved = (len(times) - 1) / span if span else 0.0
    return {
        "database": db_kind,
        "bookings": bookings_n,
        "concurrency": concurrency,
        "latency_ms": latency_ms,
        "hosts": HOSTS,
        "limit_per_s": RATE,
        "creates_accepted": len(times),
        "achieved_per_s": round(achieved, 2),
        "achieved_over_limit": round(achieved / RATE, 3),
        "peak_creates_in_1s": sliding_peak(times),
        "bookings_per_s": round(run.count / run.wall, 2) if run.wall else 0.0,
        "bookings_failed": len(run.errors) + (bookings_n - (provisioned or 0)),
        "first_error": run.errors[0] if run.errors else None,
        "pending_after_inline_budget": pending_inline,
        "sandbox_429s": stats["rate_limited"],
        "bookings_with_429_error": rate_errors or 0,
    }


def main(argv: list[str] | None = None) -> None:
    exit_cleanly_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=40)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args(argv)
    result: Any = asyncio.run(measure(args.bookings, args.concurrency, args.latency_ms, args.db))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
