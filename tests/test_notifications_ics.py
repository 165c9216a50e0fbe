"""Calendar invitations and feeds, parsed back and checked field by field."""

from __future__ import annotations

from datetime import timedelta

from icalendar import Calendar
from sqlalchemy import select

from meetbridge.models import CalendarFeedToken, OutboundMessage
from meetbridge.notifications.feeds import (
    feed_for_token,
    feed_url,
    revoke_feed_token,
    rotate_feed_token,
)
from tests.notifications_support import only_event, parse_ics
from tests.world import NOW, TUE_9, TUE_10, TUE_11, World


def feed_for_token_at_now(services: object, token: str) -> bytes | None:
    return feed_for_token(services, token, now=NOW)  # the world's "now", not the wall clock


def _invite(world: World, kind: str, recipient: str = "cli@client.test") -> OutboundMessage:
    [message] = [m for m in world.outbox(kind) if m.recipient == recipient]
    return message


def _assert_valid_rfc5545(text: str) -> Calendar:
    """CRLF lines of at most 75 octets, the required properties, and it parses back."""
    raw = text.encode()
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
    cal = parse_ics(text)
    assert str(cal["version"]) == "2.0" and "meetbridge" in str(cal["prodid"])
    for event in cal.walk("VEVENT"):
        for required in ("uid", "dtstamp", "dtstart", "dtend", "sequence", "summary"):
            assert required in event, required
    return cal


async def test_request_update_and_cancel_are_one_event_with_a_rising_sequence(
    world: World,
) -> None:
    await world.connect("ann", "zoom")
    result = await world.book(world.meeting_type(location="zoom"))
    uid = f"{result.uid}@127.0.0.1"  # the host of base_url

    request = _invite(world, "booking_confirmed")
    cal = _assert_valid_rfc5545(request.payload["ics"])
    assert str(cal["method"]) == "REQUEST" and request.payload["ics_method"] == "REQUEST"
    event = only_event(request.payload["ics"])
    assert str(event["uid"]) == uid and event["sequence"] == 0
    assert event["dtstart"].dt == TUE_9 and event["dtend"].dt == TUE_9 + timedelta(minutes=30)
    assert event["dtstart"].dt.utcoffset() == timedelta(0)  # UTC: no VTIMEZONE needed
    assert str(event["summary"]) == "Interview (Casey Client)"
    assert str(event["status"]) == "CONFIRMED"
    assert str(event["location"]) == result.join_url and str(event["url"]) == result.join_url
    conference = event["conference"]
    assert str(conference) == result.join_url
    assert conference.params["VALUE"] == "URI" and conference.params["FEATURE"] == "VIDEO"
    assert conference.params["LABEL"] == "Zoom"
    organizer = event["organizer"]
    assert str(organizer) == "mailto:ann@acme.test" and organizer.params["CN"] == "ann"
    attendee = event["attendee"]
    assert str(attendee) == "mailto:cli@client.test"
    assert attendee.params["CN"] == "Casey Client" and attendee.params["PARTSTAT"] == "ACCEPTED"
    assert "Passcode: 123456" in str(event["description"])
    host_copy = only_event(_invite(world, "booking_confirmed", "ann@acme.test").payload["ics"])
    assert str(host_copy["uid"]) == uid

    await world.bookings.reschedule(result.booking_id, TUE_11, actor="x")
    update = only_event(_invite(world, "booking_rescheduled").payload["ics"])
    assert str(update["uid"]) == uid and update["sequence"] == 1
    assert update["dtstart"].dt == TUE_11 and update["dtend"].dt == TUE_11 + timedelta(minutes=30)
    assert str(update["url"]) == result.join_url  # same meeting, moved

    await world.bookings.cancel(result.booking_id, actor="x")
    cancel_text = _invite(world, "booking_cancelled").payload["ics"]
    assert str(_assert_valid_rfc5545(cancel_text)["method"]) == "CANCEL"
    cancel = only_event(cancel_text)
    assert str(cancel["uid"]) == uid and cancel["sequence"] == 2
    assert str(cancel["status"]) == "CANCELLED"


async def test_non_video_locations_fill_location_and_url(world: World) -> None:
    phone = world.meeting_type(name="Call", location="phone", location_value="+1 (555) 0100")
    await world.book(phone, TUE_9)
    event = only_event(_invite(world, "booking_confirmed").payload["ics"])
    assert str(event["location"]) == "+1 (555) 0100" and str(event["url"]) == "tel:+15550100"
    assert "conference" not in event

    link = world.meeting_type(
        name="Own room", location="custom_link", location_value="https://meet.acme.test/room"
    )
    await world.book(link, TUE_10, email="two@client.test")
    event = only_event(_invite(world, "booking_confirmed", "two@client.test").payload["ics"])
    assert str(event["location"]) == str(event["url"]) == "https://meet.acme.test/room"
    html = _invite(world, "booking_confirmed", "two@client.test").body_html
    assert 'href="https://meet.acme.test/room"' in html

    office = world.meeting_type(name="Visit", location="in_person", location_value="12 Main St")
    await world.book(office, TUE_11, email="three@client.test")
    event = only_event(_invite(world, "booking_confirmed", "three@client.test").payload["ics"])
    assert str(event["location"]) == "12 Main St" and "url" not in event


async def test_a_collective_booking_invites_every_member(world: World) -> None:
    from meetbridge.models import Assignment

    slug = world.meeting_type(
        location="phone",
        location_value="+1 555 0100",
        assignment=Assignment.COLLECTIVE,
        hosts=["ann@acme.test", "bob@acme.test"],
    )
    await world.book(slug)
    event = only_event(_invite(world, "booking_confirmed").payload["ics"])
    assert str(event["organizer"]) == "mailto:ann@acme.test"
    attendees = {str(a) for a in event["attendee"]}
    assert attendees == {"mailto:bob@acme.test", "mailto:cli@client.test"}
    assert {m.recipient for m in world.outbox("booking_confirmed")} == {
        "cli@client.test",
        "ann@acme.test",
        "bob@acme.test",
    }


async def test_feed_lists_the_hosts_bookings_under_a_secret_rotatable_token(
    world: World,
) -> None:
    await world.connect("ann", "zoom")
    slug = world.meeting_type(location="zoom")
    kept = await world.book(slug, TUE_9)
    gone = await world.book(slug, TUE_10, email="two@client.test")
    await world.bookings.cancel(gone.booking_id, actor="x")
    await world.book(world.meeting_type(name="Bob's", hosts=["bob@acme.test"], location="zoom"))
    with world.services.sessions() as session, session.begin():
        token = rotate_feed_token(session, world.users["ann"])
    assert feed_url(world.services, token) == f"http://127.0.0.1:8000/feeds/{token}.ics"
    with world.services.sessions() as session:
        [row] = session.scalars(select(CalendarFeedToken)).all()
        assert row.token_hash != token and token not in row.token_hash  # stored hashed

    body = feed_for_token_at_now(world.services, token)
    assert body is not None
    cal = _assert_valid_rfc5545(body.decode())
    assert "method" not in cal  # published data, not an invitation
    assert str(cal["x-wr-calname"]) == "meetbridge: ann · Acme"
    [event] = cal.walk("VEVENT")  # Ann's confirmed booking only
    [invitation] = [
        only_event(m.payload["ics"])
        for m in world.outbox("booking_confirmed")
        if m.recipient == "ann@acme.test" and m.booking_id == kept.booking_id
    ]
    assert str(event["uid"]) == str(invitation["uid"]) == f"{kept.uid}@127.0.0.1"
    assert str(event["url"]) == kept.join_url
    assert "Guest: Casey Client <cli@client.test>" in str(event["description"])
    assert "zak=" not in body.decode()
    with world.services.sessions() as session:
        assert session.scalars(select(CalendarFeedToken)).one().last_used_at is not None

    with world.services.sessions() as session, session.begin():
        new_token = rotate_feed_token(session, world.users["ann"])
    assert feed_for_token_at_now(world.services, token) is None  # the old URL stops at once
    assert feed_for_token_at_now(world.services, new_token) is not None
    assert feed_for_token_at_now(world.services, "guess") is None
    with world.services.sessions() as session, session.begin():
        assert revoke_feed_token(session, world.users["ann"]) is True
    assert feed_for_token_at_now(world.services, new_token) is None
