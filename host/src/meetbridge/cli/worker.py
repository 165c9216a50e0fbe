"""``meetbridge worker``: run background jobs."""

from __future__ import annotations

import asyncio
import signal

import click

from meetbridge.cli.common import build_services, fail, load_settings_or_fail


@click.command()
@click.option("--once", is_flag=True, help="Run the jobs that are due, then exit.")
@click.option("--concurrency", default=4, show_default=True, help="Jobs run at the same time.")
@click.option("--poll", default=1.0, show_default=True, help="Seconds between idle polls.")
@click.option(
    "--metrics-port",
    type=int,
    default=None,
    envvar="MEETBRIDGE_WORKER_METRICS_PORT",
    help="Serve this worker's Prometheus metrics (provider calls, refreshes) on"
    " http://HOST:PORT/metrics. Off by default.",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="Interface for --metrics-port (the endpoint has no authentication).",
)
def worker(
    once: bool, concurrency: int, poll: float, metrics_port: int | None, metrics_host: str
) -> None:
    """Run background jobs: meetings to create/update/delete, messages to send.

    Several workers can share a PostgreSQL database; jobs are claimed with SKIP LOCKED.
    Stops cleanly on SIGINT/SIGTERM. Logs go to stderr as JSON lines, each job's lines
    carrying its job_id (MEETBRIDGE_LOG__FORMAT=text for a terminal).
    """
    from meetbridge.jobs.worker import Worker
    from meetbridge.observability.logs import configure_from_settings

    settings = load_settings_or_fail()
    configure_from_settings(settings)
    services = build_services(settings)
    if metrics_port is not None and not once:
        from meetbridge.observability.metrics import serve_process_metrics

        try:
            serve_process_metrics(metrics_port, metrics_host)
        except OSError as exc:
            services.close()
            fail(f"cannot serve metrics on {metrics_host}:{metrics_port}: {exc.strerror or exc}")

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
