"""Refresh storm: C concurrent bookings for one host whose Zoom token has just expired.

Zoom rotates refresh tokens (the old one dies when a new one is issued), so two refreshes of
one connection racing each other break it. Three rounds of C concurrent bookings for the
same host, each round on fresh slots:

1. ``fresh``: a valid token (the reference latency);
2. ``expired``: the token expired at Zoom and meetbridge knows it (its stored expiry passed):
   the bookings must share one refresh;
3. ``rejected``: Zoom rejects a token meetbridge still believes valid (401 code 124): each
   booking is refused once, and the retries must still share one refresh.

Figures per round: refresh calls Zoom received (goal: exactly 1 for rounds 2 and 3), bookings
failed, p50/max booking latency, and the latency added over the fresh round.

Run alone: ``uv run python benchmarks/refresh_storm.py --concurrency 20`` (prints JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

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
    workdir,
)
from pipeline import run_concurrently


def expire_stored_token(services: Any, connection_id: int) -> None:
    """Make meetbridge's copy of the token expired (as if an hour had passed)."""
    from meetbridge.models import Connection

    past = datetime.now(UTC) - timedelta(seconds=1)
    with services.sessions() as session, session.begin():
        conn = session.get(Connection, connection_id)
        tokens = replace(services.vault.decrypt_tokens(conn.token_ciphertext), expires_at=past)
        conn.token_ciphertext = services.vault.encrypt_tokens(tokens)
        conn.token_expires_at = past


async def measure(concurrency: int, latency_ms: float, db_kind: str) -> dict:
    from meetbridge.scheduling.bookings import BookingRequest, BookingService

    now = datetime.now(UTC).replace(microsecond=0)
    rounds: dict[str, Any] = {}
    with (
        workdir() as tmp,
        SandboxProcess(members=1, latency_ms=latency_ms) as sandbox,
        database(db_kind, tmp) as db,
    ):
        sandbox.control("config", qps_enabled=False, daily_cap=10**9)
        services = build_services(bench_settings(db.url, tmp / "data", sandbox.url))
        try:
            org = seed_org(services, 1)
            await connect_all(org)
            service = BookingService(services, clock=lambda: now)
            start = first_slot(now)
            slots = iter(start + timedelta(minutes=30 * i) for i in range(4 * concurrency))

            async def one(n: int) -> None:
                result = await service.book(
                    BookingRequest(
                        meeting_type=org.slugs[0],
                        start=next(slots),
                        name=f"Client {n}",
                        email=f"client-{n}@example.org",
                        timezone="UTC",
                    ),
                    organization_id=org.org_id,
                )
                if result.conferencing != "provisioned":
                    raise RuntimeError(f"conferencing {result.conferencing}")

            await run_concurrently(list(range(concurrency)), concurrency, one)  # warm-up
            for name in ("fresh", "expired", "rejected"):
                if name != "fresh":
                    sandbox.control("expire")  # Zoom: every access token is dead now
                if name == "expired":
                    expire_stored_token(services, org.connection_ids[0])
                sandbox.control("reset")
                run = await run_concurrently(list(range(concurrency)), concurrency, one)
                await service.worker.wait_background()
                stats = sandbox.control("stats", method="GET")
                rounds[name] = {
                    "refresh_calls": stats["refresh_calls"],
                    "bookings_failed": len(run.errors),
                    "first_error": run.errors[0] if run.errors else None,
                    **latency_summary(run.latencies),
                }
        finally:
            await services.aclose()
            services.close()
    for name in ("expired", "rejected"):
        rounds[name]["added_p50_ms"] = round(rounds[name]["p50_ms"] - rounds["fresh"]["p50_ms"], 2)
        rounds[name]["added_max_ms"] = round(rounds[name]["max_ms"] - rounds["fresh"]["max_ms"], 2)
    return {"database": db_kind, "concurrency": concurrency, "latency_ms": latency_ms, **rounds}


def main(argv: list[str] | None = None) -> None:
    exit_cleanly_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(measure(args.concurrency, args.latency_ms, args.db))))


if __name__ == "__main__":
    main()
