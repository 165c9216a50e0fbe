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
import contextlib
import fcntl
import hashlib
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

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
        # PostgreSQL: every advisory lock of this process is held on one connection of its
        # own, in autocommit. Advisory locks belong to a session, and the asyncio.Lock per
        # name already keeps one holder per name in the process, so one session suffices:
        # a lock costs one statement to take and one to release, no pool checkout, and
        # in-flight syncs never take connections from the sessions' pool (docs/performance.md).
        self._pg: Connection | None = None
        self._pg_guard = threading.Lock()  # statements on it, should two loops share this

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

    def _pg_execute(self, sql: str, key: int) -> bool:
        """Run ``sql`` (one advisory-lock call) on the lock connection; its boolean answer."""
        engine = self.services.engine
        assert engine is not None
        with self._pg_guard:
            for attempt in (1, 2):
                if self._pg is None or self._pg.closed or self._pg.invalidated:
                    self._pg = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                try:
                    return bool(self._pg.execute(text(sql), {"k": key}).scalar())
                except DBAPIError as exc:
                    # A lost connection took its locks with it (the server ends them with the
                    # session); open a new one for what comes next. Anything else is raised.
                    conn, self._pg = self._pg, None
                    with contextlib.suppress(Exception):
                        conn.close()
                    if attempt == 2 or not exc.connection_invalidated:
                        raise
        raise AssertionError("unreachable")

    @asynccontextmanager
    async def _advisory(self, name: str, wait_limit: float) -> AsyncIterator[None]:
        key = _key(name)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_limit
        while not self._pg_execute("SELECT pg_try_advisory_lock(:k)", key):
            if loop.time() > deadline:
                raise LockTimeout(f"lock {name!r} held elsewhere for over {wait_limit}s")
            await asyncio.sleep(POLL_SECONDS)
        try:
            yield
        finally:
            self._pg_execute("SELECT pg_advisory_unlock(:k)", key)

    def close(self) -> None:
        """Release every advisory lock of this process (closing their connection)."""
        with self._pg_guard:
            conn, self._pg = self._pg, None
        if conn is not None:
            with contextlib.suppress(Exception):
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
