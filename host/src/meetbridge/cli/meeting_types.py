"""``meetbridge meeting-types``: what clients can book."""

from __future__ import annotations

import click

from meetbridge.cli.common import build_services, echo_json, fail
from meetbridge.models import Assignment, VideoMode


@click.group("meeting-types")
def meeting_types() -> None:
    """Create and list meeting types."""


@meeting_types.command("create")
@click.option("--name", required=True)
@click.option("--duration", "duration_minutes", type=int, required=True, help="Minutes.")
@click.option(
    "--host",
    "hosts",
    multiple=True,
    required=True,
    help="Host email; repeat for several (order matters).",
)
@click.option(
    "--location",
    default="host_default_video",
    show_default=True,
    help="A provider (zoom, google_meet, teams, ...), host_default_video, phone,"
    " in_person or custom_link.",
)
@click.option("--location-value", default="", help="Phone number, address or https:// link.")
@click.option(
    "--assignment",
    type=click.Choice([a.value for a in Assignment]),
    default=Assignment.ONE_PERSON.value,
    show_default=True,
)
@click.option(
    "--video",
    "video_mode",
    type=click.Choice([v.value for v in VideoMode]),
    default=VideoMode.ALWAYS.value,
    show_default=True,
    help="always, per_booking (the booker decides) or off.",
)
@click.option("--slug", default="")
@click.option("--description", default="")
@click.option("--buffer", "buffer_minutes", type=int, default=0)
@click.option(
    "--notice", "min_notice_minutes", type=int, default=0, help="Minimum notice in minutes."
)
def create(**options: object) -> None:
    """Create a meeting type."""
    from meetbridge.directory import default_organization
    from meetbridge.scheduling.meeting_types import (
        MeetingTypeError,
        MeetingTypeSpec,
        save_meeting_type,
    )

    services = build_services()
    try:
        with services.sessions() as session, session.begin():
            org = default_organization(session)
            spec = MeetingTypeSpec(**options)  # type: ignore[arg-type]
            mt = save_meeting_type(session, org, spec, list(services.plugins.providers()))
            slug = mt.slug
    except MeetingTypeError as exc:
        fail(str(exc))
    finally:
        services.close()
    click.echo(f"Created {options['name']!r}: book it at {services.settings.base_url}/book/{slug}")


@meeting_types.command("examples")
@click.option(
    "--host",
    "hosts",
    multiple=True,
    required=True,
    help="Hosts for the examples (collective and round-robin want several).",
)
def examples(hosts: tuple[str, ...]) -> None:
    """Create the example types: a candidate interview and a new-tutor integration session."""
    from meetbridge.directory import default_organization
    from meetbridge.scheduling.meeting_types import (
        EXAMPLES,
        MeetingTypeError,
        MeetingTypeSpec,
        save_meeting_type,
    )

    services = build_services()
    try:
        with services.sessions() as session, session.begin():
            org = default_organization(session)
            for slug, spec in EXAMPLES.items():
                save_meeting_type(
                    session,
                    org,
                    MeetingTypeSpec(slug=slug, hosts=hosts, **spec),
                    list(services.plugins.providers()),
                )
                click.echo(f"Created {spec['name']!r} at /book/{slug}")
    except MeetingTypeError as exc:
        fail(str(exc))
    finally:
        services.close()


@meeting_types.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json: bool) -> None:
    """List meeting types."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from meetbridge.models import MeetingType, MeetingTypeHost

    services = build_services()
    try:
        with services.sessions() as session:
            rows = [
                {
                    "slug": mt.slug,
                    "name": mt.name,
                    "duration_minutes": mt.duration_minutes,
                    "location": mt.location_providers or mt.location_kind,
                    "assignment": mt.assignment,
                    "video": mt.video_mode,
                    "hosts": [h.user.email for h in mt.hosts],
                }
                for mt in session.scalars(
                    select(MeetingType)
                    .order_by(MeetingType.slug)
                    .options(selectinload(MeetingType.hosts).selectinload(MeetingTypeHost.user))
                )
            ]
    finally:
        services.close()
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        where = ", ".join(r["location"]) if isinstance(r["location"], list) else r["location"]
        click.echo(
            f"{r['slug']}: {r['name']} ({r['duration_minutes']} min, {where},"
            f" {r['assignment']}, video {r['video']}) hosts {', '.join(r['hosts'])}"
        )
