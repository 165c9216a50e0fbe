"""``meetbridge jobs``: the background work queue."""

from __future__ import annotations

import click

from meetbridge.cli.common import build_services, echo_json, fail


@click.group()
def jobs() -> None:
    """List background jobs and retry dead ones."""


@jobs.command("list")
@click.option("--status", type=click.Choice(["queued", "running", "done", "dead"]))
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def list_(status: str | None, limit: int, as_json: bool) -> None:
    """List jobs, newest first."""
    from sqlalchemy import select

    from meetbridge.models import Job

    services = build_services()
    try:
        with services.sessions() as session:
            stmt = select(Job).order_by(Job.id.desc()).limit(limit)
            if status:
                stmt = stmt.where(Job.status == status)
            rows = [
                {
                    "id": j.id,
                    "kind": j.kind,
                    "status": j.status,
                    "attempts": j.attempts,
                    "max_attempts": j.max_attempts,
                    "run_at": j.run_at.isoformat(),
                    "payload": j.payload,
                    "last_error": j.last_error,
                }
                for j in session.scalars(stmt)
            ]
    finally:
        services.close()
    if as_json:
        echo_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "kind", "status", "attempts", "run at (UTC)", "payload", "last error")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["kind"],
            r["status"],
            f"{r['attempts']}/{r['max_attempts']}",
            r["run_at"][:19],
            str(r["payload"]),
            (r["last_error"] or "")[:80],
        )
    Console().print(table)


@jobs.command("retry")
@click.argument("job_id", type=int)
def retry(job_id: int) -> None:
    """Put a dead job back in the queue (its attempts start again)."""
    from meetbridge.jobs import queue

    services = build_services()
    try:
        with services.sessions() as session, session.begin():
            queue.retry_dead(session, job_id)
    except (LookupError, ValueError) as exc:
        fail(str(exc))
    finally:
        services.close()
    click.echo(f"Job {job_id} is queued again; a worker will run it.")
