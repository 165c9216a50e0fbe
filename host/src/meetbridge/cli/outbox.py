"""``meetbridge outbox``: outgoing emails and platform webhooks."""

from __future__ import annotations

from typing import Any

import click

from meetbridge.cli.common import build_services, echo_json, fail, run_async


@click.group()
def outbox() -> None:
    """List outgoing emails and webhooks, retry dead ones, send now.

    Messages are delivered by the worker (`meetbridge worker`, or the one inside `serve`),
    with retries; one that keeps failing ends `dead` and stays here until retried.
    """


@outbox.command("list")
@click.option("--status", type=click.Choice(["queued", "sent", "dead"]))
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(status: str | None, limit: int, as_json: bool) -> None:
    """List messages, newest first."""
    from meetbridge.notifications.outbox import list_messages
    from meetbridge.notifications.transports import describe

    services = build_services()
    try:
        with services.sessions() as session:
            rows = list_messages(session, status=status, limit=limit)
        where = describe(services.settings)
    finally:
        services.close()
    if as_json:
        echo_json([row.__dict__ for row in rows])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "channel", "kind", "recipient", "status", "tries", "created (UTC)", "error")
    for row in rows:
        table.add_row(
            str(row.id),
            row.channel,
            row.kind,
            row.recipient,
            row.status,
            str(row.attempts),
            row.created_at.strftime("%Y-%m-%d %H:%M"),
            (row.last_error or "")[:80],
        )
    console = Console()
    console.print(table)
    console.print(f"Email goes to: {where}")


@outbox.command("retry")
@click.argument("message_id", type=int)
def retry(message_id: int) -> None:
    """Queue a dead message again (its attempts start over)."""
    from meetbridge.notifications.outbox import retry_message

    services = build_services()
    try:
        with services.sessions() as session, session.begin():
            retry_message(session, message_id)
    except (LookupError, ValueError) as exc:
        fail(str(exc))
    finally:
        services.close()
    click.echo(f"Message {message_id} is queued again; `meetbridge outbox send` sends it now.")


@outbox.command("send")
def send() -> None:
    """Deliver every queued message now (also those waiting for a retry)."""
    from meetbridge.notifications.delivery import send_now
    from meetbridge.notifications.transports import describe

    services = build_services()

    async def go() -> Any:
        try:
            return await send_now(services)
        finally:
            await services.aclose()

    try:
        summary = run_async(go())
        where = describe(services.settings)
    finally:
        services.close()
    click.echo(
        f"Tried {summary.attempted}: {summary.sent} sent, {summary.waiting} will be retried,"
        f" {summary.dead} dead. Email goes to: {where}"
    )
    if summary.waiting or summary.dead:
        click.echo("See `meetbridge outbox list` for the errors.")
