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
