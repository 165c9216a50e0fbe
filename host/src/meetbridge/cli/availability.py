"""``meetbridge availability``: weekly hours of a host."""

from __future__ import annotations

import click

from meetbridge.cli.common import build_services, fail


@click.group()
def availability() -> None:
    """Set or show a host's weekly availability (in the host's own timezone)."""


@availability.command("set")
@click.argument("email")
@click.argument("spec")
def set_(email: str, spec: str) -> None:
    """Set EMAIL's weekly hours, e.g. "mon-fri 09:00-17:00; sat 10:00-12:00"."""
    from meetbridge.directory import DirectoryError, user_by_email
    from meetbridge.scheduling.availability import (
        AvailabilityError,
        parse_windows,
        set_weekly_availability,
    )

    services = build_services()
    try:
        windows = parse_windows(spec)
        with services.sessions() as session, session.begin():
            user = user_by_email(session, email)
            set_weekly_availability(session, user, windows)
            zone = user.timezone
    except (AvailabilityError, DirectoryError) as exc:
        fail(str(exc))
    finally:
        services.close()
    click.echo(f"{email}: {len(windows)} weekly windows set ({zone}).")


@availability.command("show")
@click.argument("email")
def show(email: str) -> None:
    """Show EMAIL's weekly hours."""
    from meetbridge.directory import DirectoryError, user_by_email
    from meetbridge.scheduling.availability import windows_of

    names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    services = build_services()
    try:
        with services.sessions() as session:
            user = user_by_email(session, email)
            windows = windows_of(session, user.id)
            zone = user.timezone
    except DirectoryError as exc:
        fail(str(exc))
    finally:
        services.close()
    click.echo(f"{email} ({zone}):")
    for w in sorted(windows, key=lambda w: (w.weekday, w.start)):
        click.echo(f"  {names[w.weekday]} {w.start:%H:%M}-{w.end:%H:%M}")
    if not windows:
        click.echo("  no availability set")
