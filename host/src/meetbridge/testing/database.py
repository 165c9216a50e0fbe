"""Test databases: a freshly migrated SQLite file per test, or PostgreSQL when configured.

With ``MEETBRIDGE_DATABASE_URL`` pointing at PostgreSQL, a dedicated database is created for
the test session, migrated once, and its tables are emptied between tests.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from meetbridge import db


def configured_url() -> str | None:
    url = os.environ.get("MEETBRIDGE_DATABASE_URL", "")
    return url or None


def is_postgres(url: str | None) -> bool:
    return bool(url) and make_url(url).get_backend_name() == "postgresql"


class SQLiteTemplate:
    """Migrate once into a template file, copy it for each test (migrating is the slow part)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "template.sqlite3"
        db.upgrade(f"sqlite:///{self.path}")

    def fresh(self, directory: Path) -> str:
        target = directory / "meetbridge.sqlite3"
        shutil.copyfile(self.path, target)
        return f"sqlite:///{target}"


class PostgresDatabase:
    """A throwaway database on the configured PostgreSQL server."""

    def __init__(self, server_url: str) -> None:
        base = make_url(server_url)
        self.name = f"meetbridge_test_{uuid.uuid4().hex[:10]}"
        self._admin_url = base.set(database="postgres")
        self.url = base.set(database=self.name).render_as_string(hide_password=False)
        admin = create_engine(self._admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        admin.dispose()
        db.upgrade(self.url)
        self._engine = create_engine(self.url)

    def truncate(self) -> None:
        import meetbridge.models  # noqa: F401

        tables = ", ".join(f'"{t.name}"' for t in db.Base.metadata.sorted_tables)
        with self._engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))

    def drop(self) -> None:
        self._engine.dispose()
        admin = create_engine(self._admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        admin.dispose()
