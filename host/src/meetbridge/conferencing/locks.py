"""Named locks that serialise work across tasks and processes without blocking the event loop.

Token refreshes (per connection) and conferencing syncs (per booking) hold their lock while a
provider call is awaited. Holding a *database* row lock across that await is a trap: any other
statement in the same process that touches the row (a foreign-key insert, an update) blocks the
event loop, and the task that holds the lock can never finish. So these locks are separate
from the data:

- in the process, an ``asyncio.Lock`` per name;
- across processes, a PostgreSQL advisory lock (on PostgreSQL) or an ``flock`` on a file in
  the data directory (SQLite: all processes are on one machine by definition);

and the cross-process part is taken with a *try* in a polling loop that sleeps with asyncio,
so a process waiting for another never stalls its own event loop.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from meetbridge.services import Services

POLL_SECONDS = 0.02
TIMEOUT_SECONDS = 120.0


class LockTimeout(TimeoutError):
    """Another process held the lock for too long."""


def _key(name: str) -> int:
    # A stable signed 64-bit key for pg_advisory_lock.
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class NamedLocks:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._local: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def hold(self, name: str, wait_limit: float = TIMEOUT_SECONDS) -> AsyncIterator[None]:
        lock = self._local.setdefault(name, asyncio.Lock())
        async with lock:
            engine = self.services.engine
            assert engine is not None
            if engine.dialect.name == "postgresql":
                async with self._advisory(name, wait_limit):
                    yield
            else:
                async with self._file(name, wait_limit):
                    yield

    @asynccontextmanager
    async def _advisory(self, name: str, wait_limit: float) -> AsyncIterator[None]:
        engine = self.services.engine
        assert engine is not None
        key = _key(name)
        conn = engine.connect()
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait_limit
            while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                conn.rollback()
                if loop.time() > deadline:
                    raise LockTimeout(f"lock {name!r} held elsewhere for over {wait_limit}s")
                await asyncio.sleep(POLL_SECONDS)
            conn.commit()  # the lock is session-level: it outlives this transaction
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        finally:
            conn.close()

    @asynccontextmanager
    async def _file(self, name: str, wait_limit: float) -> AsyncIterator[None]:
        # Next to the SQLite file: the processes sharing that file are the ones to serialise.
        database = self.services.engine.url.database if self.services.engine else None
        base = (
            Path(database).parent
            if database and database != ":memory:"
            else Path(self.services.settings.data_dir)
        )
        directory = base / "meetbridge-locks"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / (hashlib.sha256(name.encode()).hexdigest()[:32] + ".lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait_limit
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if loop.time() > deadline:
                        raise LockTimeout(
                            f"lock {name!r} held elsewhere for over {wait_limit}s"
                        ) from None
                    await asyncio.sleep(POLL_SECONDS)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
