"""SQLite shared by several processes (``serve`` + ``worker``, the embedded default).

A write that has to wait for another process's write must wait (``busy_timeout``), not fail.
The campaign's crash run found messages lost this way: the notifications layer queues them in
a savepoint, pysqlite starts no transaction before ``SAVEPOINT``, so the transaction begins
as a reader, and SQLite refuses at once to turn a reader into a writer while another process
writes ("database is locked"), without waiting.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from meetbridge.db import create_db_engine
from meetbridge.testing.database import configured_url, is_postgres

pytestmark = pytest.mark.skipif(
    is_postgres(configured_url()), reason="SQLite's file locking (PostgreSQL waits for locks)"
)


def _engines(path: Path) -> tuple[object, object]:
    url = f"sqlite:///{path}"
    here, other = create_db_engine(url), create_db_engine(url)
    with here.begin() as conn:
        conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    return here, other


def _other_process_writes(engine: object, started: threading.Event) -> None:
    # Another process holding the write lock for a moment (as a worker recording a job does).
    with engine.connect() as conn:  # type: ignore[attr-defined]
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        started.set()
        time.sleep(0.3)
        conn.exec_driver_sql("INSERT INTO notes (body) VALUES ('worker')")
        conn.exec_driver_sql("COMMIT")


def test_a_plain_write_waits_for_the_other_process(tmp_path: Path) -> None:
    here, other = _engines(tmp_path / "shared.sqlite3")
    started = threading.Event()
    writer = threading.Thread(target=_other_process_writes, args=(other, started))
    writer.start()
    started.wait(5)
    with Session(here) as session, session.begin():  # type: ignore[arg-type]
        session.execute(text("SELECT count(*) FROM notes")).scalar()
        session.execute(text("INSERT INTO notes (body) VALUES ('serve')"))
    writer.join()


def test_a_write_in_a_savepoint_waits_for_the_other_process(tmp_path: Path) -> None:
    here, other = _engines(tmp_path / "shared.sqlite3")
    started = threading.Event()
    writer = threading.Thread(target=_other_process_writes, args=(other, started))
    writer.start()
    started.wait(5)
    try:
        # A savepoint first: how messages are queued (so that they never fail a booking).
        with Session(here) as session, session.begin(), session.begin_nested():  # type: ignore[arg-type]
            session.execute(text("SELECT count(*) FROM notes")).scalar()
            session.execute(text("INSERT INTO notes (body) VALUES ('serve')"))
    finally:
        writer.join()
