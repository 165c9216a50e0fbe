"""Slots at scale: ``BookingService.slots()`` for a 30-day window as bookings pile up.

The organisation has 100 hosts; a round-robin meeting type (30 minutes, every half hour
around the clock) has 5 of them. The window is busy but not full: each of the 5 has 4
confirmed bookings a day in it (600 bookings). Everything else is history: bookings of all
100 hosts over the past three years, on the same meeting type (the worst case for any index
that starts from the type). The database holds 1,000, then 10,000, then 100,000 bookings in
all; each size is measured after the previous one's rows were topped up.

Figures: median and p95 milliseconds per call (a call computes 1,440 candidate starts per
host for 5 hosts) and the growth from the smallest to the largest size. Goal: under 50 ms and
flat, because history outside the window should cost nothing with the right index.

Run alone: ``uv run python benchmarks/slots.py --sizes 1000,10000,100000`` (prints JSON).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from common import database, exit_cleanly_on_sigterm, percentile, workdir

NOW = datetime(2026, 6, 1, tzinfo=UTC)
WINDOW_START = NOW + timedelta(days=1)
WINDOW = timedelta(days=30)
HOSTS, TYPE_HOSTS, PER_DAY_IN_WINDOW = 100, 5, 4
HISTORY = timedelta(days=3 * 365)


def seed(services: Any) -> tuple[str, list[int], int, int]:
    """Organisation, 100 hosts (all-day availability), one round-robin type with 5 of them."""
    from common import ALL_DAY

    from meetbridge.directory import create_user, get_or_create_organization
    from meetbridge.models import Assignment, Organization
    from meetbridge.scheduling.availability import set_weekly_availability
    from meetbridge.scheduling.meeting_types import MeetingTypeSpec, save_meeting_type
    from meetbridge.scheduling.slots import Window

    with services.sessions() as session, session.begin():
        org = get_or_create_organization(session, "Slots Co", timezone="UTC")
        ids = []
        for i in range(HOSTS):
            user = create_user(session, org, f"slots-host-{i}@example.com", timezone="UTC")
            set_weekly_availability(session, user, [Window(*w) for w in ALL_DAY])
            ids.append(user.id)
        mt = save_meeting_type(
            session,
            session.get(Organization, org.id),
            MeetingTypeSpec(
                name="Consultation",
                duration_minutes=30,
                hosts=[f"slots-host-{i}@example.com" for i in range(TYPE_HOSTS)],
                location="phone",
                location_value="+1 555 0100",
                assignment=Assignment.ROUND_ROBIN,
            ),
            installed=[],
        )
        return mt.slug, ids, mt.id, org.id


def insert_bookings(
    services: Any, rows: list[tuple[int, datetime]], mt_id: int, org_id: int
) -> None:
    """Insert ``(host id, start)`` bookings in bulk (Core executemany, 5,000 at a time)."""
    from meetbridge.models import Booking, BookingHost

    for offset in range(0, len(rows), 5000):
        chunk = rows[offset : offset + 5000]
        uids = [uuid.uuid4().hex for _ in chunk]
        with services.engine.begin() as conn:
            conn.execute(
                Booking.__table__.insert(),
                [
                    {
                        "uid": uid,
                        "organization_id": org_id,
                        "meeting_type_id": mt_id,
                        "start_at": start,
                        "end_at": start + timedelta(minutes=30),
                        "booker_timezone": "UTC",
                        "status": "confirmed",
                        "revision": 0,
                        "video": False,
                        "manage_token_hash": "",
                        "notes": "",
                        "created_at": start - timedelta(days=7),
                        "updated_at": start - timedelta(days=7),
                    }
                    for uid, (_, start) in zip(uids, chunk, strict=True)
                ],
            )
            ids = dict(
                conn.execute(
                    Booking.__table__.select()
                    .with_only_columns(Booking.__table__.c.uid, Booking.__table__.c.id)
                    .where(Booking.__table__.c.uid.in_(uids))
                ).all()
            )
            conn.execute(
                BookingHost.__table__.insert(),
                [
                    {"booking_id": ids[uid], "user_id": host, "position": 0}
                    for uid, (host, _) in zip(uids, chunk, strict=True)
                ],
            )


def window_load(host_ids: list[int]) -> list[tuple[int, datetime]]:
    """4 bookings a day per type host inside the window, at staggered hours."""
    rows = []
    for day in range(WINDOW.days):
        for h, host in enumerate(host_ids[:TYPE_HOSTS]):
            for k in range(PER_DAY_IN_WINDOW):
                hour = (3 * k + 2 * h + day) % 24
                rows.append((host, WINDOW_START + timedelta(days=day, hours=hour)))
    return rows


def history(host_ids: list[int], count: int, rng: random.Random) -> list[tuple[int, datetime]]:
    """``count`` bookings of any host at random half hours over the past three years."""
    slots = int(HISTORY.total_seconds() // 1800)
    return [
        (rng.choice(host_ids), NOW - HISTORY + timedelta(minutes=30 * rng.randrange(slots)))
        for _ in range(count)
    ]


def time_calls(service: Any, slug: str, calls: int) -> list[float]:
    times, found = [], 0
    for _ in range(calls):
        started = time.perf_counter()
        found = len(service.slots(slug, WINDOW_START, WINDOW_START + WINDOW))
        times.append(time.perf_counter() - started)
    if found == 0:
        raise RuntimeError("no slots found: the benchmark's data is wrong")
    return times


def measure(db_kind: str, sizes: list[int], calls: int) -> dict:
    from common import build_services

    from meetbridge.scheduling.bookings import BookingService
    from meetbridge.settings import Settings
    from meetbridge.vault import generate_key

    rng = random.Random(11)
    results = []
    with workdir() as tmp, database(db_kind, tmp) as db:
        settings = Settings(
            data_dir=tmp / "data", database_url=db.url, secret_keys=[generate_key()]
        )
        services = build_services(settings)
        try:
            slug, host_ids, mt_id, org_id = seed(services)
            window = window_load(host_ids)
            insert_bookings(services, window, mt_id, org_id)
            total = len(window)
            service = BookingService(services, clock=lambda: NOW)
            for size in sorted(sizes):
                if size > total:
                    insert_bookings(services, history(host_ids, size - total, rng), mt_id, org_id)
                    total = size
                if db_kind == "postgresql":
                    with services.engine.begin() as conn:  # as autovacuum would, after a load
                        conn.exec_driver_sql("ANALYZE")
                time_calls(service, slug, 2)  # warm caches
                ms = [t * 1000 for t in time_calls(service, slug, calls)]
                results.append(
                    {
                        "bookings": total,
                        "median_ms": round(statistics.median(ms), 2),
                        "p95_ms": round(percentile(ms, 95), 2),
                    }
                )
        finally:
            services.close()
    first, last = results[0]["median_ms"], results[-1]["median_ms"]
    return {
        "database": db_kind,
        "window_days": WINDOW.days,
        "type_hosts": TYPE_HOSTS,
        "bookings_in_window": len(window_load(list(range(TYPE_HOSTS)))),
        "calls_per_size": calls,
        "sizes": results,
        "growth_largest_over_smallest": round(last / first, 2) if first else 0.0,
    }


def main(argv: list[str] | None = None) -> None:
    exit_cleanly_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(json.dumps(measure(args.db, sizes, args.calls)))


if __name__ == "__main__":
    main()
