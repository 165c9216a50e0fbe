"""Meetings over real HTTP against the sandbox: createOrGet idempotency, updates with both
times, deletes that count 404 as done, lobby settings, and times right across DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from teams_support import WORK, WORK_NO_MAIL, Teams, meeting_request

from meetbridge.providers import (
    DeleteOutcome,
    MeetingGone,
    MeetingRef,
    ProviderUnavailable,
    WrongCredential,
)

NEW_YORK = ZoneInfo("America/New_York")


async def test_create_returns_join_link_meeting_id_passcode_and_dial_in(teams: Teams) -> None:
    account = await teams.connect(WORK)
    meeting = await teams.call(
        "create_meeting", request=meeting_request(), credentials=teams.credentials(account)
    )

    stored = teams.state.meetings[meeting.external_id]
    assert meeting.join_url == stored.join_web_url
    assert meeting.join_url.startswith(f"{teams.url}/l/meetup-join/")
    assert meeting.passcode == stored.passcode != ""
    assert meeting.extra["join_meeting_id"] == stored.join_meeting_id
    assert meeting.extra["organizer_id"] == account.external_account_id
    assert meeting.extra["external_id"] == "booking-1"
    assert meeting.dial_in == (
        f"+1 206-555-0100,,{stored.conference_id}#",
        f"+1 800-555-0199,,{stored.conference_id}#",
    )
    assert meeting.host_start_url is None  # Teams has no separate host link
    assert stored.subject == "Intro call with Sam"
    assert (stored.start, stored.end) == (
        datetime(2026, 3, 9, 14, 0, tzinfo=UTC),
        datetime(2026, 3, 9, 14, 30, tzinfo=UTC),
    )
    # meetbridge's default: everyone waits in the lobby, the organiser admits.
    assert (stored.lobby_scope, stored.lobby_dial_in_bypass) == ("organizer", False)
    page = await teams.http.get(meeting.join_url)
    assert page.status_code == 200 and "Intro call with Sam" in page.text


async def test_tenant_without_audio_conferencing_gives_no_dial_in(teams: Teams) -> None:
    account = await teams.connect(WORK)
    teams.state.tenants[account.organization_id].audio_conferencing = False
    meeting = await teams.call(
        "create_meeting", request=meeting_request(), credentials=teams.credentials(account)
    )
    assert meeting.dial_in == ()


async def test_lobby_can_be_opened_per_meeting_type(teams: Teams) -> None:
    account = await teams.connect(WORK)
    request = meeting_request(
        settings={"lobby_bypass_scope": "everyone", "dial_in_bypass_lobby": True}
    )
    meeting = await teams.call(
        "create_meeting", request=request, credentials=teams.credentials(account)
    )
    stored = teams.state.meetings[meeting.external_id]
    assert (stored.lobby_scope, stored.lobby_dial_in_bypass) == ("everyone", True)


async def test_create_or_get_is_idempotent_per_booking(teams: Teams) -> None:
    account = await teams.connect(WORK)
    credentials = teams.credentials(account)
    first = await teams.call("create_meeting", request=meeting_request(), credentials=credentials)
    again = await teams.call(
        "create_meeting", request=meeting_request(attempt=2), credentials=credentials
    )
    other = await teams.call(
        "create_meeting", request=meeting_request(idempotency_key="b-2"), credentials=credentials
    )

    assert again.external_id == first.external_id
    assert again.join_url == first.join_url
    assert other.external_id != first.external_id
    assert teams.state.meetings_created == 2
    assert len(teams.state.meetings) == 2


@pytest.mark.parametrize("fault", ["timeout_after_acting", "reset_after_acting"])
async def test_lost_answer_is_ambiguous_and_the_retry_makes_no_second_meeting(
    teams: Teams, fault: str
) -> None:
    account = await teams.connect(WORK)
    credentials = teams.credentials(account)
    teams.state.faults.fail_next("/v1.0/me/onlineMeetings/createOrGet", fault)
    async with httpx.AsyncClient(timeout=0.25) as impatient:
        with pytest.raises(ProviderUnavailable) as caught:
            await teams.call(
                "create_meeting",
                context=teams.context(http=impatient),
                request=meeting_request(),
                credentials=credentials,
            )
    assert caught.value.ambiguous is True
    assert caught.value.retryable
    assert teams.state.meetings_created == 1  # Microsoft did act

    meeting = await teams.call(
        "create_meeting",
        credentials=credentials,
        request=meeting_request(attempt=2, previous_attempt_ambiguous=True),
    )
    assert teams.state.meetings_created == 1
    assert meeting.external_id in teams.state.meetings


async def test_retry_after_the_booking_moved_brings_the_found_meeting_to_the_new_time(
    teams: Teams,
) -> None:
    account = await teams.connect(WORK)
    credentials = teams.credentials(account)
    teams.state.faults.fail_next("/v1.0/me/onlineMeetings/createOrGet", "reset_after_acting")
    with pytest.raises(ProviderUnavailable):
        await teams.call("create_meeting", request=meeting_request(), credentials=credentials)

    moved = meeting_request(
        start=datetime(2026, 3, 10, 16, 0, tzinfo=UTC),
        topic="Moved call",
        previous_attempt_ambiguous=True,
    )
    meeting = await teams.call("create_meeting", request=moved, credentials=credentials)
    stored = teams.state.meetings[meeting.external_id]
    assert (stored.start, stored.end, stored.subject) == (
        datetime(2026, 3, 10, 16, 0, tzinfo=UTC),
        datetime(2026, 3, 10, 16, 30, tzinfo=UTC),
        "Moved call",
    )
    assert teams.state.meetings_created == 1


async def test_connection_refused_before_sending_is_not_ambiguous(teams: Teams) -> None:
    account = await teams.connect(WORK)
    context = teams.context()
    context.settings.endpoints["api_base_url"] = "http://127.0.0.1:9/v1.0"  # nothing listens
    with pytest.raises(ProviderUnavailable) as caught:
        await teams.call(
            "create_meeting",
            context=context,
            request=meeting_request(),
            credentials=teams.credentials(account),
        )
    assert caught.value.ambiguous is False


async def test_update_moves_both_times_and_keeps_the_link(teams: Teams) -> None:
    account = await teams.connect(WORK)
    credentials = teams.credentials(account)
    created = await teams.call("create_meeting", request=meeting_request(), credentials=credentials)
    ref = MeetingRef(external_id=created.external_id, join_url=created.join_url)

    moved = meeting_request(
        start=datetime(2026, 3, 12, 18, 15, tzinfo=UTC),
        duration_minutes=45,
        topic="Intro call (moved)",
    )
    updated = await teams.call(
        "update_meeting", meeting=ref, request=moved, credentials=credentials
    )

    stored = teams.state.meetings[created.external_id]
    assert (stored.start, stored.end) == (
        datetime(2026, 3, 12, 18, 15, tzinfo=UTC),
        datetime(2026, 3, 12, 19, 0, tzinfo=UTC),
    )
    assert stored.subject == "Intro call (moved)"
    assert updated.join_url == created.join_url
    assert updated.passcode == created.passcode


async def test_update_of_a_meeting_deleted_at_microsoft_is_meeting_gone(teams: Teams) -> None:
    account = await teams.connect(WORK)
    credentials = teams.credentials(account)
    created = await teams.call("create_meeting", request=meeting_request(), credentials=credentials)
    del teams.state.meetings[created.external_id]  # someone deleted it in Teams
    with pytest.raises(MeetingGone):
        await teams.call(
            "update_meeting",
            meeting=MeetingRef(created.external_id),
            request=meeting_request(),
            credentials=credentials,
        )


async def test_delete_twice_is_deleted_then_already_gone(teams: Teams) -> None:
    account = await teams.connect(WORK)
    credentials = teams.credentials(account)
    created = await teams.call("create_meeting", request=meeting_request(), credentials=credentials)
    ref = MeetingRef(external_id=created.external_id)

    first = await teams.call("delete_meeting", meeting=ref, credentials=credentials)
    second = await teams.call("delete_meeting", meeting=ref, credentials=credentials)

    assert (first, second) == (DeleteOutcome.DELETED, DeleteOutcome.ALREADY_GONE)
    assert teams.state.meetings == {}


async def test_delete_with_another_persons_connection_is_refused_not_counted_as_gone(
    teams: Teams,
) -> None:
    adele = await teams.connect(WORK)
    megan = await teams.connect(WORK_NO_MAIL)
    created = await teams.call(
        "create_meeting", request=meeting_request(), credentials=teams.credentials(adele)
    )
    with pytest.raises(WrongCredential):
        await teams.call(
            "delete_meeting",
            meeting=MeetingRef(created.external_id),
            credentials=teams.credentials(megan),
        )
    assert created.external_id in teams.state.meetings


@pytest.mark.parametrize(
    ("local_start", "utc_start"),
    [
        # The day before, the day of and after the spring change (2026-03-08, UTC-5 -> UTC-4).
        (datetime(2026, 3, 7, 9, 0), datetime(2026, 3, 7, 14, 0, tzinfo=UTC)),
        (datetime(2026, 3, 8, 9, 0), datetime(2026, 3, 8, 13, 0, tzinfo=UTC)),
        (datetime(2026, 3, 9, 9, 0), datetime(2026, 3, 9, 13, 0, tzinfo=UTC)),
        # Around the autumn change (2026-11-01, UTC-4 -> UTC-5).
        (datetime(2026, 10, 31, 9, 0), datetime(2026, 10, 31, 13, 0, tzinfo=UTC)),
        (datetime(2026, 11, 1, 9, 0), datetime(2026, 11, 1, 14, 0, tzinfo=UTC)),
    ],
)
async def test_meeting_times_are_the_booked_instants_across_dst(
    teams: Teams, local_start: datetime, utc_start: datetime
) -> None:
    account = await teams.connect(WORK)
    start = local_start.replace(tzinfo=NEW_YORK).astimezone(UTC)
    meeting = await teams.call(
        "create_meeting",
        credentials=teams.credentials(account),
        request=meeting_request(start=start, duration_minutes=60),
    )
    stored = teams.state.meetings[meeting.external_id]
    assert stored.start == utc_start
    assert stored.end == utc_start + timedelta(hours=1)


async def test_a_meeting_spanning_the_autumn_change_keeps_its_real_length(teams: Teams) -> None:
    # 01:30 EDT + 60 minutes is 01:30 EST: wall clock unchanged, one hour really passed.
    account = await teams.connect(WORK)
    start = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    meeting = await teams.call(
        "create_meeting",
        credentials=teams.credentials(account),
        request=meeting_request(start=start, duration_minutes=60),
    )
    stored = teams.state.meetings[meeting.external_id]
    assert stored.end - stored.start == timedelta(hours=1)
    assert stored.end == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
