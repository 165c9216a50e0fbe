"""Meetings through the sandbox over real HTTP: create, times across DST, update, delete,
host start links, and account-level meetings for members."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from zoom_harness import ADMIN, BASIC, LICENSED, meeting_request

from meetbridge.providers import (
    DeleteOutcome,
    InsufficientScope,
    MeetingGone,
    MeetingRef,
    WrongCredential,
)

NEW_YORK = ZoneInfo("America/New_York")


def stored(zoom, meeting) -> dict:
    return zoom.state.meetings[int(meeting.external_id)]


async def test_create_makes_a_scheduled_meeting_with_the_required_settings(zoom):
    creds = zoom.credentials(await zoom.connect(LICENSED))
    meeting = await zoom.call("create_meeting", request=meeting_request(), credentials=creds)

    at_zoom = stored(zoom, meeting)
    assert int(meeting.external_id) > 2**32  # a 64-bit id kept exactly, as a string
    assert at_zoom["type"] == 2 and at_zoom["topic"] == "Intro call with Sam"
    assert at_zoom["timezone"] == "America/New_York" and at_zoom["duration"] == 30
    assert at_zoom["settings"]["waiting_room"] is True
    assert at_zoom["settings"]["join_before_host"] is False
    assert at_zoom["settings"]["auto_recording"] == "none"
    assert at_zoom["agenda"].startswith("[meetbridge:booking-1]\n")
    assert at_zoom["host_id"] == "L1censedLenaTO8WbOqwIQ"
    assert meeting.join_url == at_zoom["join_url"] and meeting.passcode == at_zoom["password"]
    assert meeting.extra["uuid"] == at_zoom["uuid"]
    assert meeting.extra["host_id"] == "L1censedLenaTO8WbOqwIQ"
    assert meeting.host_start_url is not None and "zak=" in meeting.host_start_url.reveal()


async def test_a_meeting_types_settings_override_the_defaults(zoom):
    creds = zoom.credentials(await zoom.connect(LICENSED))
    request = meeting_request(settings={"auto_recording": "cloud", "waiting_room": False})
    meeting = await zoom.call("create_meeting", request=request, credentials=creds)
    settings = stored(zoom, meeting)["settings"]
    assert settings["auto_recording"] == "cloud" and settings["waiting_room"] is False
    assert settings["join_before_host"] is False


@pytest.mark.parametrize(
    ("start_utc", "local"),
    [
        # 10:00 in New York before and after the spring change (2026-03-08) ...
        (datetime(2026, 3, 6, 15, 0, tzinfo=UTC), datetime(2026, 3, 6, 10, 0)),
        (datetime(2026, 3, 9, 14, 0, tzinfo=UTC), datetime(2026, 3, 9, 10, 0)),
        # ... and around the autumn change (2026-11-01).
        (datetime(2026, 10, 30, 14, 0, tzinfo=UTC), datetime(2026, 10, 30, 10, 0)),
        (datetime(2026, 11, 2, 15, 0, tzinfo=UTC), datetime(2026, 11, 2, 10, 0)),
    ],
)
async def test_start_times_are_the_same_instant_across_dst(zoom, start_utc, local):
    creds = zoom.credentials(await zoom.connect(LICENSED))
    meeting = await zoom.call(
        "create_meeting", request=meeting_request(start=start_utc), credentials=creds
    )
    at_zoom = stored(zoom, meeting)["start"]
    assert at_zoom == start_utc
    assert at_zoom.astimezone(NEW_YORK).replace(tzinfo=None) == local
    assert meeting.extra["start_time"] == start_utc.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_the_repeated_hour_of_the_autumn_change_keeps_both_meetings_apart(zoom):
    creds = zoom.credentials(await zoom.connect(LICENSED))
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST, an hour later
    made = [
        await zoom.call(
            "create_meeting",
            credentials=creds,
            request=meeting_request(idempotency_key=f"k{i}", start=start),
        )
        for i, start in enumerate((first, second))
    ]
    starts = [stored(zoom, m)["start"] for m in made]
    assert starts == [first, second]
    assert {s.astimezone(NEW_YORK).strftime("%H:%M") for s in starts} == {"01:30"}


async def test_a_meeting_in_another_organisation_timezone_is_still_the_same_instant(zoom):
    creds = zoom.credentials(await zoom.connect(LICENSED))
    start = datetime(2026, 3, 29, 8, 0, tzinfo=UTC)  # the day Europe/Paris moves to summer time
    meeting = await zoom.call(
        "create_meeting",
        credentials=creds,
        request=meeting_request(start=start, timezone="Europe/Paris"),
    )
    at_zoom = stored(zoom, meeting)
    assert at_zoom["start"] == start and at_zoom["timezone"] == "Europe/Paris"
    assert at_zoom["start"].astimezone(ZoneInfo("Europe/Paris")).hour == 10


async def test_update_moves_the_meeting_and_keeps_its_link(zoom):
    creds = zoom.credentials(await zoom.connect(LICENSED))
    meeting = await zoom.call("create_meeting", request=meeting_request(), credentials=creds)
    later = datetime(2026, 3, 10, 18, 30, tzinfo=UTC)
    moved = await zoom.call(
        "update_meeting",
        meeting=MeetingRef(meeting.external_id),
        request=meeting_request(start=later, duration_minutes=45, topic="Moved call"),
        credentials=creds,
    )
    at_zoom = stored(zoom, meeting)
    assert (at_zoom["start"], at_zoom["duration"], at_zoom["topic"]) == (later, 45, "Moved call")
    assert moved.external_id == meeting.external_id and moved.join_url == meeting.join_url
    assert zoom.state.count_requests("PATCH", "/v2/meetings/") == 1


async def test_updating_a_meeting_deleted_in_zoom_is_meeting_gone(zoom):
    creds = zoom.credentials(await zoom.connect(LICENSED))
    meeting = await zoom.call("create_meeting", request=meeting_request(), credentials=creds)
    stored(zoom, meeting)["_deleted"] = True  # someone deleted it in the Zoom app
    with pytest.raises(MeetingGone):
        await zoom.call(
            "update_meeting",
            meeting=MeetingRef(meeting.external_id),
            request=meeting_request(),
            credentials=creds,
        )


async def test_delete_removes_the_meeting_and_a_second_delete_counts_as_done(zoom):
    creds = zoom.credentials(await zoom.connect(LICENSED))
    meeting = await zoom.call("create_meeting", request=meeting_request(), credentials=creds)
    ref = MeetingRef(meeting.external_id)
    assert (
        await zoom.call("delete_meeting", meeting=ref, credentials=creds) is DeleteOutcome.DELETED
    )
    assert zoom.state.live_meetings() == []
    assert (
        await zoom.call("delete_meeting", meeting=ref, credentials=creds)
        is DeleteOutcome.ALREADY_GONE
    )


async def test_deleting_with_another_members_connection_is_a_wrong_credential(zoom):
    lena = zoom.credentials(await zoom.connect(LICENSED))
    bo = zoom.credentials(await zoom.connect(BASIC))
    meeting = await zoom.call("create_meeting", request=meeting_request(), credentials=lena)
    with pytest.raises(WrongCredential):
        await zoom.call("delete_meeting", meeting=MeetingRef(meeting.external_id), credentials=bo)
    assert len(zoom.state.live_meetings()) == 1


async def test_the_host_gets_a_fresh_start_link_when_the_stored_one_expired(zoom):
    creds = zoom.credentials(await zoom.connect(LICENSED))
    meeting = await zoom.call("create_meeting", request=meeting_request(), credentials=creds)
    old_link = meeting.host_start_url.reveal()
    assert (await zoom.http.get(old_link)).status_code == 200

    zoom.clock.advance(hours=2, minutes=1)
    assert (await zoom.http.get(old_link)).status_code == 403  # start links last two hours
    fresh = await zoom.call(
        "get_host_join_url", meeting=MeetingRef(meeting.external_id), credentials=creds
    )
    assert fresh.reveal() != old_link
    assert (await zoom.http.get(fresh.reveal())).status_code == 200
    assert "zak" not in repr(fresh)


async def test_an_account_level_connection_makes_meetings_for_a_member(zoom):
    admin = zoom.credentials(await zoom.connect(ADMIN, account_level=True))
    request = meeting_request(host_user=BASIC)
    meeting = await zoom.call("create_meeting", request=request, credentials=admin)
    assert stored(zoom, meeting)["host_id"] == zoom.state.user(BASIC).id
    assert meeting.extra["host_id"] == zoom.state.user(BASIC).id
    moved = await zoom.call(
        "update_meeting",
        meeting=MeetingRef(meeting.external_id, host_user=BASIC),
        request=meeting_request(host_user=BASIC, start=request.start + timedelta(hours=1)),
        credentials=admin,
    )
    assert moved.external_id == meeting.external_id
    assert (
        await zoom.call(
            "delete_meeting", meeting=MeetingRef(meeting.external_id), credentials=admin
        )
        is DeleteOutcome.DELETED
    )


async def test_a_member_connection_cannot_make_meetings_for_someone_else(zoom):
    member = zoom.credentials(await zoom.connect(LICENSED))
    with pytest.raises(InsufficientScope) as failure:
        await zoom.call(
            "create_meeting", request=meeting_request(host_user=BASIC), credentials=member
        )
    assert "meeting:write:meeting:admin" in failure.value.message
    assert zoom.state.live_meetings() == []
