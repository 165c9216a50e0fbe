"""``meetbridge db``: schema migrations."""

from __future__ import annotations

import click
from sqlalchemy.exc import SQLAlchemyError

from meetbridge.cli.common import fail, load_settings_or_fail


@click.group()
def db() -> None:
    """Create or upgrade the database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
def upgrade(revision: str) -> None:
    """Apply migrations; creates the SQLite file on first run."""
    from meetbridge import db as database

    settings = load_settings_or_fail()
    url = settings.effective_database_url
    try:
        database.upgrade(url, revision)
    except (SQLAlchemyError, OSError) as exc:
        fail(
            f"cannot upgrade {settings.masked()['database_url']}: {type(exc).__name__}:"
            f" {str(exc).splitlines()[0]}"
        )
    engine = database.create_db_engine(url)
    try:
        current = database.current_revision(engine)
    finally:
        engine.dispose()
    click.echo(f"Database {settings.masked()['database_url']} is at revision {current}.")


@db.command("current")
def current() -> None:
    """Show the schema revision of the database and the newest one available."""
    from meetbridge import db as database

    settings = load_settings_or_fail()
    engine = database.create_db_engine(settings.effective_database_url)
    try:
        rev = database.current_revision(engine)
    finally:
        engine.dispose()
    head = database.head_revision()
    state = "up to date" if rev == head else "run `meetbridge db upgrade`"
    click.echo(f"current: {rev or 'empty'}  head: {head}  ({state})")
