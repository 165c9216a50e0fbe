"""Migrations: from empty to head on the configured database, and in step with the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import meetbridge.models  # noqa: F401
from meetbridge import db


def test_upgrade_from_empty_reaches_head_with_every_table(meetbridge_database_url: str) -> None:
    engine = db.create_db_engine(meetbridge_database_url)
    try:
        assert db.current_revision(engine) == db.head_revision()
        tables = set(inspect(engine).get_table_names())
        assert set(db.Base.metadata.tables) <= tables
    finally:
        engine.dispose()


def test_models_and_migrations_agree(meetbridge_database_url: str) -> None:
    """A model change without a migration fails here (run alembic revision --autogenerate)."""
    engine = db.create_db_engine(meetbridge_database_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_fresh_sqlite_file_is_created_and_migrated(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'dir' / 'mb.sqlite3'}"
    db.upgrade(url)
    engine = db.create_db_engine(url)
    try:
        assert db.current_revision(engine) == db.head_revision()
    finally:
        engine.dispose()
    db.upgrade(url)  # idempotent


def test_downgrade_to_base_and_back(tmp_path) -> None:
    from alembic import command

    url = f"sqlite:///{tmp_path / 'mb.sqlite3'}"
    db.upgrade(url)
    command.downgrade(db.alembic_config(url), "base")
    engine = db.create_db_engine(url)
    try:
        assert "bookings" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    db.upgrade(url)
