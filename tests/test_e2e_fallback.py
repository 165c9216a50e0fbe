"""Fallback in real bookings: real plugins, their sandboxes, over real HTTP.

A Zoom meeting type whose host has no Zoom: the meeting is made on Google Meet when the host
connected Google, on Teams when they connected only Microsoft — each checked at the provider.
"""

from __future__ import annotations

from datetime import datetime

from tests.web_support import Stack

pytest_plugins = ["tests.web_fixtures"]


def body(slug: str, start: datetime, email: str) -> dict:
    return {
        "meeting_type": slug,
        "start": start.isoformat(),
        "name": "Casey",
        "email": email,
        "timezone": "Europe/Paris",
    }


def teams_meetings(stack: Stack) -> list:
    return list(stack.sandboxes["teams"].state.meetings.values())


def google_events(stack: Stack) -> list:
    return [e for e in stack.sandboxes["google_meet"].state.live_events() if not e.deleted]


async def test_zoom_type_falls_back_to_teams_when_the_host_has_only_microsoft(
    stack: Stack,
) -> None:
    ann = await stack.signed_in("ann")
    await stack.connect(ann, "teams", "adele@contoso.example")
    slug = stack.meeting_type(location="zoom")
    api = stack.api()
    start = await stack.first_slot(slug)
    made = await api.post("/bookings", json=body(slug, start, "casey@client.test"))
    assert made.status_code == 201, made.text
    conferencing = made.json()["conferencing"]
    assert conferencing["provider"] == "teams" and conferencing["status"] == "provisioned"
    [meeting] = teams_meetings(stack)
    assert meeting.join_web_url == conferencing["join_url"]
    assert meeting.start == start  # the same instant at Microsoft
    assert stack.sandboxes["zoom"].state.live_meetings() == []


async def test_google_meet_comes_before_teams_and_teams_takes_over_after_disconnect(
    stack: Stack,
) -> None:
    ann = await stack.signed_in("ann")
    await stack.connect(ann, "google_meet", "alice@example.com")
    await stack.connect(ann, "teams", "adele@contoso.example")
    slug = stack.meeting_type(location="zoom")
    api = stack.api()
    first = await api.post(
        "/bookings", json=body(slug, await stack.first_slot(slug), "one@client.test")
    )
    assert first.json()["conferencing"]["provider"] == "google_meet"
    [event] = google_events(stack)
    assert event.conference is not None and teams_meetings(stack) == []

    from sqlalchemy import select

    from meetbridge.models import Connection

    with stack.services.sessions() as session:
        google = session.scalars(
            select(Connection).where(Connection.provider == "google_meet")
        ).one()
    confirm = await ann.get(f"/profile/integrations/{google.id}/disconnect")
    await ann.submit(confirm, action=f"/profile/integrations/{google.id}/disconnect")
    second = await api.post(
        "/bookings", json=body(slug, await stack.first_slot(slug, skip=1), "two@client.test")
    )
    assert second.json()["conferencing"]["provider"] == "teams"
    assert len(teams_meetings(stack)) == 1 and len(google_events(stack)) == 1
