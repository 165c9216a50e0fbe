"""``meetbridge worker``: run background jobs."""

from __future__ import annotations

import asyncio
import signal

import click

from meetbridge.cli.common import build_services


@click.command()
@click.option("--once", is_flag=True, help="Run the jobs that are due, then exit.")
@click.option("--concurrency", default=4, show_default=True, help="Jobs run at the same time.")
@click.option("--poll", default=1.0, show_default=True, help="Seconds between idle polls.")
def worker(once: bool, concurrency: int, poll: float) -> None:
    """Run background jobs: meetings to create/update/delete, messages to send.

    Several workers can share a PostgreSQL database; jobs are claimed with SKIP LOCKED.
    Stops cleanly on SIGINT/SIGTERM.
    """
    from meetbridge.jobs.worker import Worker

    services = build_services()

    async def main() -> None:
        w = Worker(services)
        try:
            if once:
                ran = await w.drain()
                click.echo(f"Ran {ran} jobs.")
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            click.echo(f"Worker {w.worker_id} running ({concurrency} lanes); Ctrl-C stops it.")
            await w.run_forever(stop, poll_seconds=poll, concurrency=concurrency)
        finally:
            await services.aclose()

    try:
        asyncio.run(main())
    finally:
        services.close()
