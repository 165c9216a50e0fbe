"""Database plumbing: engine and sessions, the UTC datetime column type, migrations.

SQLite is the embedded default (one file, no server); any SQLAlchemy URL works through
``MEETBRIDGE_DATABASE_URL``, PostgreSQL included. Times are stored as UTC instants: the
:class:`UTCDateTime` column refuses naive datetimes so an offset bug cannot slip in silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Connection pool of a server database (PostgreSQL); see create_db_engine.
POSTGRES_POOL_SIZE = 20
POSTGRES_MAX_OVERFLOW = 40


class Base(DeclarativeBase):
    pass


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime in and out, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("Naive datetime given for a UTC column; pass an aware datetime.")
        value = value.astimezone(UTC)
        # SQLite has no timezone type; store the UTC wall time.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout so several
    processes (serve + worker) can share the file."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "savepoint")
        def _savepoint_begins_a_write_transaction(conn: Any, _name: Any) -> None:
            # A transaction whose first statement is SAVEPOINT starts as a reader; when it then
            # writes while another process writes, SQLite answers "database is locked" at
            # once instead of waiting (busy_timeout does not apply to a reader upgrading).
            # Messages are queued in savepoints, so they were lost that way with a separate
            # worker process. BEGIN IMMEDIATE takes the write lock up front, waiting its turn.
            if not conn.connection.dbapi_connection.in_transaction:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # Each conferencing sync holds a pooled connection for its advisory lock while the
    # provider answers (conferencing/locks.py), so in-flight bookings use one connection each
    # on top of their sessions. SQLAlchemy's default (5 + 10 overflow) made every booking past
    # the fifth open and close a new PostgreSQL connection, and past fifteen the event loop
    # blocked on the pool until it timed out (benchmarks/pipeline.py, docs/performance.md).
    # Connections are opened on demand; these only raise the ceiling.
    kwargs.setdefault("pool_size", POSTGRES_POOL_SIZE)
    kwargs.setdefault("max_overflow", POSTGRES_MAX_OVERFLOW)
    return create_engine(url, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in a transaction: committed on success, rolled back on error."""
    with factory() as session, session.begin():
        yield session


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Apply migrations up to ``revision`` (creates the SQLite file if needed)."""
    from alembic import command

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    """The applied revision(s), comma-separated when branches are applied side by side."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    return ",".join(sorted(heads)) or None


def head_revision() -> str:
    """The newest revision(s) available, in the same form as :func:`current_revision`."""
    from alembic.script import ScriptDirectory

    return ",".join(sorted(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()))
