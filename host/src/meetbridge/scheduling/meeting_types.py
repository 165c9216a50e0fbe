"""Meeting types: what can be booked, where it happens, who hosts it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from meetbridge.directory import DirectoryError, slugify
from meetbridge.models import (
    Assignment,
    LocationKind,
    MeetingType,
    MeetingTypeHost,
    Organization,
    User,
    VideoMode,
)

MAX_DURATION_MINUTES = 12 * 60
MAX_BUFFER_MINUTES = 24 * 60
MAX_NOTICE_MINUTES = 366 * 24 * 60


class MeetingTypeError(ValueError):
    """Invalid meeting type; the message says what to change."""


@dataclass
class MeetingTypeSpec:
    """Everything a meeting type is made of, as an organiser fills it in."""

    name: str
    duration_minutes: int
    hosts: Sequence[str]  # emails, in order (collective order, round-robin tie-break)
    slug: str = ""
    description: str = ""
    location: str = "host_default_video"  # a provider name, or a LocationKind value
    location_value: str = ""  # phone number, address or custom link
    video_mode: VideoMode = VideoMode.ALWAYS
    assignment: Assignment = Assignment.ONE_PERSON
    meeting_settings: dict[str, Any] = field(default_factory=dict)
    buffer_minutes: int = 0
    min_notice_minutes: int = 0
    slot_interval_minutes: int | None = None
    skip_hosts_with_broken_video: bool = False
    host_priorities: dict[str, int] = field(default_factory=dict)


# Examples worth having out of the box (`meetbridge meeting-types examples`).
EXAMPLES = {
    "candidate-interview": dict(
        name="Candidate interview",
        duration_minutes=45,
        location="zoom",
        assignment=Assignment.ROUND_ROBIN,
        buffer_minutes=15,
        min_notice_minutes=24 * 60,
        description="A 45-minute video interview with one of our interviewers.",
        skip_hosts_with_broken_video=True,
    ),
    "tutor-integration": dict(
        name="New tutor integration session",
        duration_minutes=60,
        location="host_default_video",
        assignment=Assignment.COLLECTIVE,
        description="Welcome session for new tutors with the pedagogy team.",
        min_notice_minutes=12 * 60,
    ),
}


def _location(spec: MeetingTypeSpec, installed: Sequence[str]) -> tuple[LocationKind, list[str]]:
    try:
        kind = LocationKind(spec.location)
    except ValueError:
        kind = LocationKind.PROVIDER
    if kind == LocationKind.PROVIDER:
        names = (
            [n.strip() for n in spec.location.split(",") if n.strip()]
            if spec.location != "provider"
            else []
        )
        missing = [n for n in names if n not in installed]
        if not names or missing:
            raise MeetingTypeError(
                f"Unknown location {spec.location!r}. Choose an installed provider"
                f" ({', '.join(sorted(installed)) or 'none installed'}), or one of:"
                " host_default_video, phone, in_person, custom_link."
            )
        return kind, names
    if (
        kind in (LocationKind.PHONE, LocationKind.IN_PERSON, LocationKind.CUSTOM_LINK)
        and not spec.location_value.strip()
    ):
        raise MeetingTypeError(
            f"A {kind.value.replace('_', ' ')} location needs its details"
            " (number, address or link)."
        )
    if kind == LocationKind.CUSTOM_LINK and not spec.location_value.startswith("https://"):
        raise MeetingTypeError("A custom link must start with https://.")
    return kind, []


def save_meeting_type(
    session: Session,
    organization: Organization,
    spec: MeetingTypeSpec,
    installed: Sequence[str],
    *,
    existing: MeetingType | None = None,
) -> MeetingType:
    """Create (or update ``existing``) from ``spec``, validating everything first."""
    if not spec.name.strip():
        raise MeetingTypeError("A meeting type needs a name.")
    if not 5 <= spec.duration_minutes <= MAX_DURATION_MINUTES:
        raise MeetingTypeError("Duration must be between 5 minutes and 12 hours.")
    if spec.buffer_minutes < 0 or spec.min_notice_minutes < 0:
        raise MeetingTypeError("Buffer and minimum notice cannot be negative.")
    # Upper bounds keep every entry point (form, API, CLI) inside the integer columns and
    # inside what a booking page can sensibly offer.
    if spec.buffer_minutes > MAX_BUFFER_MINUTES:
        raise MeetingTypeError("The buffer can be at most 24 hours.")
    if spec.min_notice_minutes > MAX_NOTICE_MINUTES:
        raise MeetingTypeError("The minimum notice can be at most 366 days.")
    if spec.slot_interval_minutes is not None and not (
        5 <= spec.slot_interval_minutes <= MAX_DURATION_MINUTES
    ):
        raise MeetingTypeError("Slots must be between 5 minutes and 12 hours apart.")
    kind, providers = _location(spec, installed)
    if not spec.hosts:
        raise MeetingTypeError("A meeting type needs at least one host.")
    if spec.assignment == Assignment.ONE_PERSON and len(spec.hosts) != 1:
        raise MeetingTypeError(
            "A one-person meeting type has exactly one host; use"
            " round_robin or collective for several."
        )
    users = []
    for email in spec.hosts:
        user = session.scalars(
            select(User).where(
                User.email == email.strip().lower(), User.organization_id == organization.id
            )
        ).first()
        if user is None:
            raise MeetingTypeError(f"{email} is not a member of {organization.name}.")
        users.append(user)
    if len({u.id for u in users}) != len(users):
        raise MeetingTypeError("A host is listed twice.")
    try:
        slug = slugify(spec.slug or spec.name)
    except DirectoryError as exc:
        raise MeetingTypeError(str(exc)) from None
    clash = session.scalars(
        select(MeetingType).where(
            MeetingType.organization_id == organization.id, MeetingType.slug == slug
        )
    ).first()
    if clash is not None and clash is not existing:
        raise MeetingTypeError(f"The link /book/{slug} is already used by {clash.name!r}.")

    mt = existing or MeetingType(organization_id=organization.id)
    mt.slug, mt.name, mt.description = slug, spec.name.strip(), spec.description
    mt.duration_minutes = spec.duration_minutes
    mt.location_kind, mt.location_providers = kind, providers
    mt.location_value = spec.location_value.strip()
    mt.video_mode, mt.assignment = VideoMode(spec.video_mode), Assignment(spec.assignment)
    mt.meeting_settings = dict(spec.meeting_settings)
    mt.buffer_minutes, mt.min_notice_minutes = spec.buffer_minutes, spec.min_notice_minutes
    mt.slot_interval_minutes = spec.slot_interval_minutes
    mt.skip_hosts_with_broken_video = spec.skip_hosts_with_broken_video
    mt.hosts.clear()
    session.add(mt)
    session.flush()
    for position, user in enumerate(users):
        mt.hosts.append(
            MeetingTypeHost(
                user_id=user.id, position=position, priority=spec.host_priorities.get(user.email, 0)
            )
        )
    session.flush()
    return mt


def meeting_type_by_slug(
    session: Session, slug: str, organization_id: int | None = None
) -> MeetingType:
    # One query with its hosts and their users joined (a booking reads all three).
    stmt = (
        select(MeetingType)
        .where(MeetingType.slug == slug)
        .options(joinedload(MeetingType.hosts).joinedload(MeetingTypeHost.user))
    )
    if organization_id is not None:
        stmt = stmt.where(MeetingType.organization_id == organization_id)
    found = session.scalars(stmt).unique().all()  # all rows: the joined hosts are complete
    mt = found[0] if found else None
    if mt is None:
        raise MeetingTypeError(f"No meeting type {slug!r}.")
    return mt
