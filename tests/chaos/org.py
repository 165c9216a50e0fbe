"""The organisation a campaign books against: hosts, their connections, meeting types.

Hosts live in several timezones and connect Zoom, Google Meet or Microsoft Teams with their own
accounts; the admin connects the organisation's Zoom account (account-level), which hosts the
members who have no Zoom of their own. Every connection is made through
:class:`~meetbridge.conferencing.connections.ConnectionService`: authorization URL with state
and PKCE, the sandbox's consent page, code exchange, preflight, encrypted storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Any

from meetbridge.conferencing.connections import ConnectionService
from meetbridge.directory import create_user, get_or_create_organization
from meetbridge.models import Assignment, Organization, Role
from meetbridge.providers import ProviderUnavailable
from meetbridge.scheduling.availability import set_weekly_availability
from meetbridge.scheduling.meeting_types import MeetingTypeSpec, save_meeting_type
from meetbridge.scheduling.slots import Window
from meetbridge.services import Services
from tests.chaos.sandboxes import ZOOM_ADMIN, Sandboxes

ADMIN = "admin@chaos.test"


@dataclass(frozen=True)
class Host:
    email: str
    timezone: str
    provider: str | None  # the provider of their own account, if any


HOSTS = (
    Host("zoe@chaos.test", "America/New_York", "zoom"),
    Host("zack@chaos.test", "Europe/Paris", "zoom"),
    Host("gail@chaos.test", "America/Los_Angeles", "google_meet"),
    Host("gus@chaos.test", "Europe/London", "google_meet"),
    Host("tara@chaos.test", "Asia/Tokyo", "teams"),
    Host("theo@chaos.test", "Asia/Tokyo", "teams"),
    Host("nell@chaos.test", "America/Chicago", None),  # hosted by the organisation's Zoom
)
HOST_BY_EMAIL = {h.email: h for h in HOSTS}

# (slug, location, assignment, hosts, minutes): every provider preferred somewhere, the
# fallback chain exercised by hosts without the preferred provider, all three assignments.
MEETING_TYPES = (
    ("zoom-interview", "zoom", Assignment.ROUND_ROBIN, ("zoe", "zack", "gail", "nell"), 30),
    ("meet-tutoring", "google_meet", Assignment.ROUND_ROBIN, ("gail", "gus", "zoe"), 30),
    ("teams-panel", "teams", Assignment.COLLECTIVE, ("tara", "theo"), 45),
    ("teams-office-hours", "teams", Assignment.ONE_PERSON, ("theo",), 30),
    ("any-video", "host_default_video", Assignment.ROUND_ROBIN, ("gus", "tara", "nell"), 30),
)
# Every day, 06:00-23:00 on each host's own clock.
HOURS = [Window(day, time(6), time(23)) for day in range(7)]


def provider_login(host: Host) -> str:
    """The account a host signs in with at their provider (their work email)."""
    return host.email


def seed_people(services: Services, sandboxes: Sandboxes) -> int:
    """Create the organisation and its people; give each the provider accounts they use."""
    with services.sessions() as session, session.begin():
        org = get_or_create_organization(session, "Chaos Co")
        create_user(session, org, ADMIN, role=Role.ADMIN)
        for host in HOSTS:
            user = create_user(session, org, host.email, timezone=host.timezone)
            set_weekly_availability(session, user, HOURS)
        org_id = org.id
    for host in HOSTS:
        # Every member is in the organisation's Zoom account (account-level meetings).
        sandboxes.add_zoom_user(host.email)
        if host.provider == "google_meet":
            sandboxes.add_google_account(host.email)
        elif host.provider == "teams":
            sandboxes.add_teams_account(host.email)
    return org_id


def save_meeting_types(services: Services, org_id: int) -> list[str]:
    with services.sessions() as session, session.begin():
        org = session.get(Organization, org_id)
        assert org is not None
        for slug, location, assignment, hosts, minutes in MEETING_TYPES:
            save_meeting_type(
                session,
                org,
                MeetingTypeSpec(
                    name=slug.replace("-", " ").title(),
                    slug=slug,
                    duration_minutes=minutes,
                    hosts=[f"{h}@chaos.test" for h in hosts],
                    location=location,
                    assignment=assignment,
                    min_notice_minutes=24 * 60,
                ),
                installed=list(services.plugins.providers()),
            )
    return [t[0] for t in MEETING_TYPES]


async def connect(
    connections: ConnectionService,
    sandboxes: Sandboxes,
    user_id: int,
    provider: str,
    login: str,
    *,
    account_level: bool = False,
) -> int:
    """The whole OAuth connect, as the person does it; the connection's id."""
    pending = await connections.start_connect(
        user_id=user_id, provider=provider, account_level=account_level
    )
    back = await sandboxes.consent(provider, pending.url, login)
    conn = await connections.complete_connect(pending, state=back.get("state"), code=back["code"])
    return conn.id


async def connect_everyone(
    connections: ConnectionService, sandboxes: Sandboxes, users: dict[str, int]
) -> dict[str, int]:
    """Each host's own connection, and the organisation's Zoom; email -> connection id."""
    made: dict[str, int] = {}
    for host in HOSTS:
        if host.provider:
            made[host.email] = await _connect_patiently(
                connections, sandboxes, users[host.email], host.provider, provider_login(host)
            )
    made[ADMIN] = await _connect_patiently(
        connections, sandboxes, users[ADMIN], "zoom", ZOOM_ADMIN, account_level=True
    )
    return made


async def _connect_patiently(*args: Any, **kwargs: Any) -> int:
    """Connect, clicking again when a sandbox answered too slowly for the stage's short
    timeout: no fault is armed yet, so that is the machine stalling (a busy CI), not a test."""
    for attempt in range(3):
        try:
            return await connect(*args, **kwargs)
        except ProviderUnavailable:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
