"""``meetbridge demo``: the whole story, offline, over real HTTP, in one command.

It starts meetbridge with the provider sandboxes on a free 127.0.0.1 port in this process,
then goes through the product as its people would, each over HTTP: an admin, a member who
connects Zoom and Google through the sandboxes' consent pages, a client who books on the
public page and reschedules from the private link, a platform that uses the API and receives
signed webhooks. After each step it checks the result where it matters (the meeting on the
Zoom sandbox, the event on the Google sandbox) and prints a transcript. Exit code 0 when every
check holds; 1 with the failing step otherwise.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import click

MARKER = ".meetbridge-demo"


def _prepare(directory: Path) -> Path:
    directory = directory.resolve()
    if directory.exists() and any(directory.iterdir()):
        if not (directory / MARKER).exists():
            raise click.ClickException(
                f"{directory} is not empty and was not made by `meetbridge demo`; choose"
                " another --data-dir."
            )
        shutil.rmtree(directory)  # a previous demo run: start from scratch
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).write_text("made by `meetbridge demo`; safe to delete\n")
    return directory


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("meetbridge-demo"),
    show_default=True,
    help="Where the demo keeps its SQLite database, key and emails (recreated each run).",
)
def demo(data_dir: Path) -> None:
    """Run the whole story offline against the provider sandboxes, and print it.

    Nothing leaves this machine: Zoom, Google and Microsoft are the local sandboxes. The
    demo's settings are its own (its directory, SQLite); MEETBRIDGE_* variables are ignored.
    """
    from rich.console import Console

    from meetbridge.cli.demo_run import run
    from meetbridge.cli.demo_story import DemoFailed

    console = Console(highlight=False)
    directory = _prepare(data_dir)
    try:
        asyncio.run(run(directory, console))
    except DemoFailed as exc:
        console.print(f"\n[bold red]Demo failed[/] at step {exc.step!r}: {exc.message}")
        sys.exit(1)
    except Exception as exc:  # an unexpected error: still a clear message and a non-zero exit
        console.print(f"\n[bold red]Demo failed[/]: {type(exc).__name__}: {exc}")
        sys.exit(1)
