"""Work done from another OS process, for the scale-out tests.

    python -m tests.chaos.process_tasks refresh CONFIG CONNECTION_ID CALLS --go FILE
    python -m tests.chaos.process_tasks book CONFIG SLUG@START [SLUG@START...] --go FILE

Both build the run's services from CONFIG (see ``Stage.process_config``), print "ready", wait
until FILE exists (so that every process starts its work at the same moment), and print one
JSON line.
``refresh`` asks for the connection's access token CALLS times at once and prints a digest of
each token it got (never a token). ``book`` books every START of its meeting type SLUG at
once and prints which ones it got.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from meetbridge.conferencing.connections import ConnectionService
from meetbridge.models import Connection
from meetbridge.scheduling.bookings import BookingError, BookingRequest, BookingService
from tests.chaos.processes import ready_then_wait, services_from_config
from tests.chaos.workers import DeferringWorker


async def refresh(config: Path, connection_id: int, calls: int, go: Path) -> dict[str, Any]:
    services, _ = services_from_config(config)
    try:
        with services.sessions() as session:
            conn = session.get(Connection, connection_id)
            assert conn is not None
        creds = ConnectionService(services).credentials(conn)
        ready_then_wait(go)
        tokens = await asyncio.gather(*(creds.access_token() for _ in range(calls)))
        return {"tokens": sorted({hashlib.sha256(t.encode()).hexdigest()[:16] for t in tokens})}
    finally:
        await services.aclose()
        services.close()


async def book(config: Path, wanted: list[str], go: Path) -> dict[str, Any]:
    services, _ = services_from_config(config)
    # The booking side only: conferencing is left to the worker processes.
    bookings = BookingService(services, DeferringWorker(services), inline_budget=0)
    try:
        ready_then_wait(go)

        async def one(item: str) -> str | None:
            slug, start = item.split("@", 1)
            try:
                await bookings.book(
                    BookingRequest(
                        meeting_type=slug,
                        start=datetime.fromisoformat(start),
                        name="Racing Client",
                        email="racer@example.org",
                        timezone="UTC",
                    )
                )
                return item
            except BookingError:
                return None

        got = await asyncio.gather(*(one(item) for item in wanted))
        return {"booked": [g for g in got if g], "refused": sum(1 for g in got if g is None)}
    finally:
        await services.aclose()
        services.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="task", required=True)
    r = sub.add_parser("refresh")
    r.add_argument("config", type=Path)
    r.add_argument("connection_id", type=int)
    r.add_argument("calls", type=int)
    b = sub.add_parser("book")
    b.add_argument("config", type=Path)
    b.add_argument("wanted", nargs="+", help="SLUG@START")
    for p in (r, b):
        p.add_argument("--go", type=Path, required=True)
    args = parser.parse_args()
    if args.task == "refresh":
        out = asyncio.run(refresh(args.config, args.connection_id, args.calls, args.go))
    else:
        out = asyncio.run(book(args.config, args.wanted, args.go))
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
