"""``meetbridge bookings``: see and act on bookings and their conferencing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from meetbridge.cli.common import build_services, echo_json, fail, run_async

if TYPE_CHECKING:
    from meetbridge.scheduling.bookings import BookingResult, BookingService
    from meetbridge.services import Services


def _service(services: Services) -> BookingService:
    from meetbridge.scheduling.bookings import BookingService

    return BookingService(services, inline_budget=None)  # the CLI waits for the provider


@click.group()
def bookings() -> None:
    """List, explain, cancel and reprovision bookings."""


@bookings.command("list")
@click.option("--status", type=click.Choice(["confirmed", "cancelled"]))
@click.option("--upcoming", is_flag=True, help="Only future bookings, soonest first.")
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def list_(status: str | None, upcoming: bool, limit: int, as_json: bool) -> None:
    """List bookings with their conferencing status."""
    services = build_services()
    try:
        rows = _service(services).list_bookings(status=status, upcoming=upcoming, limit=limit)
    finally:
        services.close()
    if as_json:
        echo_json([r.__dict__ | {"manage_token": None} for r in rows])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "start (UTC)", "status", "hosts", "conferencing", "provider", "join url")
    for r in rows:
        table.add_row(
            str(r.booking_id),
            f"{r.start:%Y-%m-%d %H:%M}",
            r.status,
            ", ".join(r.host_emails),
            r.conferencing,
            r.provider or "-",
            r.join_url or "-",
        )
    Console().print(table)


@bookings.command("show")
@click.argument("booking_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def show(booking_id: int, as_json: bool) -> None:
    """Show one booking."""
    from meetbridge.scheduling.bookings import BookingError

    services = build_services()
    try:
        result = _service(services).result(booking_id)
    except BookingError as exc:
        fail(str(exc))
    finally:
        services.close()
    data = result.__dict__ | {"manage_token": None}
    if as_json:
        echo_json(data)
        return
    for key, value in data.items():
        if key != "manage_token":
            click.echo(f"{key:>13}: {value}")


@bookings.command("explain")
@click.argument("booking_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def explain(booking_id: int, as_json: bool) -> None:
    """Why this booking got the provider and account it got (or no video)."""
    from meetbridge.scheduling.bookings import BookingError

    services = build_services()
    try:
        data = _service(services).explain(booking_id)
    except BookingError as exc:
        fail(str(exc))
    finally:
        services.close()
    if as_json:
        echo_json(data)
        return
    b = data["booking"]
    click.echo(
        f"Booking {b['id']} ({b['meeting_type']}) {b['status']}, {b['start']},"
        f" hosts {', '.join(b['hosts'])}, revision {b['revision']}"
    )
    if not b["video_requested"]:
        click.echo("  No video requested for this booking.")
    for m in data["meetings"]:
        owner = m["connection"]["owner"] if m["connection"] else "-"
        click.echo(
            f"  meeting {m['id']}: {m['status']} on {m['provider'] or 'nothing'}"
            f" (account: {owner}, attempts {m['attempts']})"
        )
        for step in m["resolution"]:
            mark = "->" if step["outcome"] == "chosen" else "  "
            click.echo(f"    {mark} {step['detail']}")
        if m["last_error"]:
            click.echo(f"     last error: {m['last_error']}")


@bookings.command("cancel")
@click.argument("booking_id", type=int)
@click.option("--reason", default="")
def cancel(booking_id: int, reason: str) -> None:
    """Cancel a booking (its meeting is deleted with the account that created it)."""
    from meetbridge.scheduling.bookings import BookingError

    services = build_services()

    async def go() -> BookingResult:
        try:
            return await _service(services).cancel(booking_id, actor="cli", reason=reason)
        finally:
            await services.aclose()

    try:
        result = run_async(go())
    except BookingError as exc:
        fail(str(exc))
    finally:
        services.close()
    click.echo(f"Booking {booking_id} is {result.status}; conferencing: {result.conferencing}.")


@bookings.command("reprovision")
@click.argument("booking_ids", type=int, nargs=-1)
def reprovision(booking_ids: tuple[int, ...]) -> None:
    """Give video to future bookings that lack it (e.g. after a host reconnected)."""
    services = build_services()
    service = _service(services)

    async def go() -> list[int]:
        try:
            return await service.reprovision(list(booking_ids) or None)
        finally:
            await services.aclose()

    try:
        done = run_async(go())
        results = [service.result(i) for i in done]
    finally:
        services.close()
    if not done:
        click.echo("Nothing to reprovision.")
    for r in results:
        click.echo(f"Booking {r.booking_id}: {r.conferencing} ({r.provider or 'no provider'})")
