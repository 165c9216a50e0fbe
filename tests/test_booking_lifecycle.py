"""The conferencing lifecycle, row by row, checking the provider side each time."""

from __future__ import annotations

import pytest

from meetbridge.models import Assignment, ConnectionStatus, MeetingStatus, VideoMode
from meetbridge.scheduling.bookings import BookingError, SlotUnavailable
from tests.world import TUE_9, TUE_10, TUE_11, World


async def test_booking_creates_the_meeting_on_the_hosts_account(world: World) -> None:
    await world.connect("ann", "zoom")
    slug = world.meeting_type(location="zoom", meeting_settings={"waiting_room": True})
    result = await world.book(slug)
    assert result.conferencing == "provisioned" and result.provider == "zoom"
    [(mid, at_zoom)] = world.fakes["zoom"].meetings.items()
    assert result.join_url == f"https://fake.example/j/{mid}"
    assert at_zoom["account"] == "ann-zoom@fake.example"
    assert at_zoom["start"] == TUE_9 and at_zoom["duration"] == 30
    assert at_zoom["timezone"] == "America/New_York"  # the organisation's zone
    assert at_zoom["settings"] == {"waiting_room": True}
    meeting = world.current(result.booking_id)
    assert meeting.external_id == mid and meeting.synced_revision == 0
    assert b"zak=secret" not in meeting.start_url_ciphertext  # host link encrypted
    [confirm] = [m for m in world.outbox("booking_confirmed") if m.payload["role"] == "attendee"]
    assert result.join_url in confirm.body_text


async def test_reschedule_updates_the_same_meeting(world: World) -> None:
    await world.connect("ann", "zoom")
    result = await world.book(world.meeting_type(location="zoom"))
    moved = await world.bookings.reschedule(result.booking_id, TUE_11, actor="ann@acme.test")
    assert moved.conferencing == "provisioned" and moved.join_url == result.join_url
    [at_zoom] = world.fakes["zoom"].meetings.values()
    assert at_zoom["start"] == TUE_11
    assert [c[0] for c in world.fakes["zoom"].calls] == ["create", "update"]
    assert world.current(result.booking_id).synced_revision == 1


async def test_reschedule_when_the_meeting_is_gone_creates_a_new_one(world: World) -> None:
    await world.connect("ann", "zoom")
    result = await world.book(world.meeting_type(location="zoom"))
    world.fakes["zoom"].meetings.clear()  # someone deleted it in Zoom
    moved = await world.bookings.reschedule(result.booking_id, TUE_10, actor="ann@acme.test")
    assert moved.conferencing == "provisioned" and moved.join_url != result.join_url
    [at_zoom] = world.fakes["zoom"].meetings.values()
    assert at_zoom["start"] == TUE_10
    assert [m.status for m in world.meetings(result.booking_id)] == [
        MeetingStatus.DELETED,
        MeetingStatus.PROVISIONED,
    ]


async def test_host_change_deletes_with_old_connection_and_creates_with_new(world: World) -> None:
    await world.connect("ann", "zoom")
    await world.connect("bob", "zoom")
    slug = world.meeting_type(
        location="zoom", assignment=Assignment.ROUND_ROBIN, hosts=["ann@acme.test", "bob@acme.test"]
    )
    first = await world.book(slug, TUE_9)
    ann_meeting = world.current(first.booking_id).external_id
    assert first.host_emails == ("ann@acme.test",)
    # Ann is taken at 10:00 by another booking, so moving there reassigns to Bob.
    blocker = await world.book(
        world.meeting_type(name="Ann only", location="zoom"), TUE_10, email="other@client.test"
    )
    assert blocker.host_emails == ("ann@acme.test",)
    moved = await world.bookings.reschedule(first.booking_id, TUE_10, actor="system")
    assert moved.host_emails == ("bob@acme.test",)
    zoom = world.fakes["zoom"]
    assert (ann_meeting, "ann-zoom@fake.example") in zoom.deleted_by
    new = world.current(first.booking_id)
    assert zoom.meetings[new.external_id]["account"] == "bob-zoom@fake.example"
    assert zoom.meetings[new.external_id]["start"] == TUE_10


async def test_cancel_deletes_with_the_credential_that_created_it(world: World) -> None:
    await world.connect("ann", "zoom")
    result = await world.book(world.meeting_type(location="zoom"))
    mid = world.current(result.booking_id).external_id
    await world.connect("ann", "google_meet")  # connected later: must not matter for delete
    cancelled = await world.bookings.cancel(result.booking_id, actor="cli@client.test")
    assert cancelled.status == "cancelled" and cancelled.conferencing == "deleted"
    assert world.fakes["zoom"].deleted_by == [(mid, "ann-zoom@fake.example")]
    assert world.fakes["zoom"].meetings == {}
    assert world.outbox("booking_cancelled")


async def test_cancel_when_already_gone_at_provider_counts_as_done(world: World) -> None:
    await world.connect("ann", "zoom")
    result = await world.book(world.meeting_type(location="zoom"))
    world.fakes["zoom"].meetings.clear()
    cancelled = await world.bookings.cancel(result.booking_id, actor="x")
    assert cancelled.conferencing == "deleted"
    assert world.current(result.booking_id).extra["delete_outcome"] == "already_gone"


async def test_cancel_after_disconnect_records_the_meeting_as_left(world: World) -> None:
    conn = await world.connect("ann", "zoom")
    result = await world.book(world.meeting_type(location="zoom"))
    await world.connections.disconnect(conn.id, actor="ann@acme.test")
    cancelled = await world.bookings.cancel(result.booking_id, actor="x")
    assert cancelled.conferencing == "left_at_provider"
    assert len(world.fakes["zoom"].meetings) == 1  # still there, and we say so
    assert "connection is revoked" in world.current(result.booking_id).last_error


async def test_cancelling_twice_is_harmless(world: World) -> None:
    await world.connect("ann", "zoom")
    result = await world.book(world.meeting_type(location="zoom"))
    await world.bookings.cancel(result.booking_id, actor="x")
    again = await world.bookings.cancel(result.booking_id, actor="x")
    assert again.status == "cancelled"
    assert [c[0] for c in world.fakes["zoom"].calls] == ["create", "delete"]


async def test_fallback_to_google_meet_when_the_host_has_no_zoom(world: World) -> None:
    await world.connect("ann", "google_meet")
    result = await world.book(world.meeting_type(location="zoom"))
    assert result.provider == "google_meet" and result.conferencing == "provisioned"
    explanation = world.bookings.explain(result.booking_id)
    trail = explanation["meetings"][-1]["resolution"]
    assert trail[0]["detail"] == "ann@acme.test has not connected zoom"
    assert trail[-1]["outcome"] == "chosen" and trail[-1]["provider"] == "google_meet"


async def test_dead_grant_at_create_falls_back_and_marks_reconnect(world: World) -> None:
    zoom_conn = await world.connect("ann", "zoom")
    await world.connect("ann", "teams")
    from meetbridge.providers import GrantRevoked

    world.fakes["zoom"].failures.append(("create", GrantRevoked("Invalid Token!")))
    result = await world.book(world.meeting_type(location="zoom"))
    assert result.provider == "teams" and result.conferencing == "provisioned"
    statuses = [m.status for m in world.meetings(result.booking_id)]
    assert statuses == [MeetingStatus.FAILED, MeetingStatus.PROVISIONED]
    assert world.connection(zoom_conn.id).status == ConnectionStatus.ACTIVE  # the plugin
    # raised it for this call; a refresh-time dead grant marks the connection (tested apart)


async def test_collective_booking_uses_a_connected_member(world: World) -> None:
    await world.connect("bob", "zoom")
    slug = world.meeting_type(
        location="zoom", assignment=Assignment.COLLECTIVE, hosts=["ann@acme.test", "bob@acme.test"]
    )
    result = await world.book(slug)
    assert result.host_emails == ("ann@acme.test", "bob@acme.test")
    [at_zoom] = world.fakes["zoom"].meetings.values()
    assert at_zoom["account"] == "bob-zoom@fake.example"
    recipients = {m.recipient for m in world.outbox("booking_confirmed")}
    assert {"ann@acme.test", "bob@acme.test", "cli@client.test"} <= recipients


async def test_round_robin_uses_the_assigned_hosts_own_account(world: World) -> None:
    await world.connect("ann", "zoom")
    await world.connect("bob", "zoom")
    slug = world.meeting_type(
        location="zoom", assignment=Assignment.ROUND_ROBIN, hosts=["ann@acme.test", "bob@acme.test"]
    )
    first = await world.book(slug, TUE_9)
    second = await world.book(slug, TUE_9, email="two@client.test")
    assert {first.host_emails[0], second.host_emails[0]} == {"ann@acme.test", "bob@acme.test"}
    accounts = {m["account"] for m in world.fakes["zoom"].meetings.values()}
    assert accounts == {"ann-zoom@fake.example", "bob-zoom@fake.example"}


async def test_round_robin_is_fair_and_honours_priority(world: World) -> None:
    slug = world.meeting_type(
        location="phone",
        location_value="+1 555 0100",
        assignment=Assignment.ROUND_ROBIN,
        hosts=["ann@acme.test", "bob@acme.test", "cara@acme.test"],
        host_priorities={"cara@acme.test": 1},
    )
    hosts = [
        (await world.book(slug, t, email=f"c{i}@client.test")).host_emails[0]
        for i, t in enumerate([TUE_9, TUE_10, TUE_11])
    ]
    assert hosts == ["cara@acme.test", "ann@acme.test", "bob@acme.test"]


async def test_account_level_connection_hosts_for_the_member(world: World) -> None:
    await world.connect("admin", "zoom", account_level=True)
    result = await world.book(world.meeting_type(location="zoom"))
    assert result.provider == "zoom"
    [at_zoom] = world.fakes["zoom"].meetings.values()
    assert at_zoom["account"] == "admin-zoom@fake.example"
    assert at_zoom["host_user"] == "ann@acme.test"  # made for the member, by email
    moved = await world.bookings.reschedule(result.booking_id, TUE_10, actor="x")
    assert moved.conferencing == "provisioned"
    assert at_zoom["start"] == TUE_10


async def test_nothing_connected_books_without_video_and_tells_people(world: World) -> None:
    result = await world.book(world.meeting_type(location="zoom"))
    assert result.status == "confirmed" and result.conferencing == "none"
    assert result.join_url is None
    told = {m.recipient for m in world.outbox("conferencing_unavailable")}
    assert told == {"ann@acme.test", "admin@acme.test"}
    assert "has not connected zoom" in world.current(result.booking_id).last_error


async def test_reprovision_after_reconnect(world: World) -> None:
    result = await world.book(world.meeting_type(location="zoom"))
    assert result.conferencing == "none"
    await world.connect("ann", "zoom")
    assert await world.bookings.reprovision() == [result.booking_id]
    after = world.bookings.result(result.booking_id)
    assert after.conferencing == "provisioned" and after.provider == "zoom"
    assert await world.bookings.reprovision() == []  # nothing left to do


async def test_video_off_and_per_booking_video(world: World) -> None:
    await world.connect("ann", "zoom")
    slug = world.meeting_type(location="zoom", video_mode=VideoMode.PER_BOOKING)
    without = await world.book(slug, TUE_9, video=False)
    with_video = await world.book(slug, TUE_10, video=True, email="v@client.test")
    assert without.conferencing == "not_requested" and with_video.conferencing == "provisioned"
    assert len(world.fakes["zoom"].meetings) == 1


async def test_in_person_type_never_makes_a_meeting(world: World) -> None:
    await world.connect("ann", "zoom")
    slug = world.meeting_type(location="in_person", location_value="12 Main St")
    result = await world.book(slug)
    assert result.conferencing == "not_requested" and world.fakes["zoom"].meetings == {}


async def test_slot_rules_are_enforced(world: World) -> None:
    slug = world.meeting_type(location="phone", location_value="+1 555 0100")
    from datetime import UTC, datetime

    with pytest.raises(SlotUnavailable, match="not a bookable slot"):
        await world.book(slug, datetime(2026, 12, 1, 3, tzinfo=UTC))  # 22:00 in New York
    with pytest.raises(BookingError, match="in the past"):
        await world.book(slug, datetime(2026, 11, 2, 14, tzinfo=UTC))
    with pytest.raises(BookingError, match="Unknown timezone"):
        await world.book(slug, TUE_9, timezone="Moon/Base")
    with pytest.raises(BookingError, match="UTC offset"):
        await world.book(slug, datetime(2026, 12, 1, 9, 0))
    await world.book(slug, TUE_9)
    with pytest.raises(SlotUnavailable):
        await world.book(slug, TUE_9, email="late@client.test")
    assert len(world.jobs("sync_conferencing")) == 1  # rejected requests stored nothing


async def test_manage_token_opens_only_its_booking(world: World) -> None:
    slug = world.meeting_type(location="phone", location_value="+1 555 0100")
    result = await world.book(slug)
    assert world.bookings.booking_for_token(result.uid, result.manage_token) == result.booking_id
    with pytest.raises(BookingError, match="not valid"):
        world.bookings.booking_for_token(result.uid, "guess")
    assert world.booking(result.booking_id).manage_token_hash != result.manage_token


async def test_round_robin_skips_hosts_whose_video_is_broken_when_asked(world: World) -> None:
    from meetbridge.models import Connection

    ann = await world.connect("ann", "zoom")
    await world.connect("bob", "zoom")
    with world.services.sessions() as session, session.begin():
        broken = session.get(Connection, ann.id)
        broken.status, broken.token_ciphertext = ConnectionStatus.NEEDS_RECONNECT, None
    hosts = ["ann@acme.test", "bob@acme.test"]
    skipping = world.meeting_type(
        name="Skip",
        location="zoom",
        hosts=hosts,
        assignment=Assignment.ROUND_ROBIN,
        skip_hosts_with_broken_video=True,
    )
    result = await world.book(skipping, TUE_9)
    assert result.host_emails == ("bob@acme.test",) and result.provider == "zoom"
    # Without the switch Ann (listed first, never booked) is picked, and gets no Zoom.
    plain = world.meeting_type(
        name="Plain", location="zoom", hosts=hosts, assignment=Assignment.ROUND_ROBIN
    )
    other = await world.book(plain, TUE_10, email="o@client.test")
    assert other.host_emails == ("ann@acme.test",) and other.conferencing == "none"
