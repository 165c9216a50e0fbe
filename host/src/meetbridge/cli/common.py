"""Helpers shared by the CLI commands."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click


def fail(message: str, code: int = 1) -> NoReturn:
    click.secho(f"Error: {message}", fg="red", err=True)
    sys.exit(code)


def load_settings_or_fail() -> Any:
    from pydantic import ValidationError

    from meetbridge.settings import load_settings

    try:
        return load_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        fail(f"invalid settings: {problems}")
    except FileNotFoundError as exc:
        fail(str(exc))


def build_services(settings: Any = None) -> Any:
    """Services for a command, after checking the database is migrated."""
    from meetbridge import db
    from meetbridge.services import Services
    from meetbridge.vault import VaultError

    settings = settings or load_settings_or_fail()
    try:
        services = Services(settings=settings)
    except VaultError as exc:
        fail(str(exc))
    current = db.current_revision(services.engine)
    if current != db.head_revision():
        services.close()
        fail(
            f"the database is not up to date (at {current or 'nothing'}); run"
            " `meetbridge db upgrade` first."
        )
    return services


def run_async(coro: Any) -> Any:
    """Run a coroutine to completion, closing the shared HTTP client afterwards."""
    import asyncio

    return asyncio.run(coro)


def echo_json(data: Any) -> None:
    import json

    click.echo(json.dumps(data, indent=2, default=str))
