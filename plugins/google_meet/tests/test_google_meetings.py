"""Meetings as Calendar events with Meet, over real HTTP against the sandbox."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from google_meet_testkit import GoogleHarness, meeting_request, provider_context

from meetbridge.providers import (
    DeleteOutcome,
    Meeting,
    MeetingGone,
    MeetingRef,
    ProviderError,
    ProviderUnavailable,
    WrongCredential,
)
from meetbridge.testing.credentials import MemoryCredentials
from meetbridge_google_meet.sandbox import sandbox_endpoints

EVENTS = "/calendar/v3/calendars/primary/events"


async def _alice(google: GoogleHarness) -> MemoryCredentials:
    return google.credentials(await google.connect("alice@example.com"))


def _ref(meeting: Meeting) -> MeetingRef:
    return MeetingRef(
        external_id=meeting.external_id, join_url=meeting.join_url, extra=meeting.extra
    )


async def test_create_makes_one_event_with_a_meet_link_on_the_primary_calendar(
    google: GoogleHarness,
) -> None:
    creds = await _alice(google)
    meeting = await google.call("create_meeting", request=meeting_request(), credentials=creds)
    [event] = google.state.live_events()
    assert meeting.external_id == event.id
    assert meeting.join_url == f"https://meet.google.com/{event.conference.meeting_code}"
    assert meeting.status == "provisioned"
    assert meeting.host_start_url is None  # Meet has no separate host link
    assert meeting.extra["account_id"] == creds.external_account_id
    # Alice's Workspace account has dial-in numbers; the PIN comes with them.
    assert meeting.dial_in[0] == f"+1 530-555-0142 (US) PIN: {event.conference.pin}#"
    assert meeting.dial_in[-1].startswith("More phone numbers: https://tel.meet/")
    assert event.start == datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
    assert event.end == datetime(2026, 3, 9, 15, 30, tzinfo=UTC)
    assert event.fields["summary"] == "Intro call with Dana"
    insert = next(r for r in google.state.requests if r.method == "POST" and r.path == EVENTS)
    assert insert.query == {"conferenceDataVersion": "1", "sendUpdates": "none"}


async def test_create_waits_for_a_pending_conference_until_it_succeeds(
    google: GoogleHarness,
) -> None:
    google.state.conference_pending_reads = 3  # the insert answer and two reads say pending
    creds = await _alice(google)
    meeting = await google.call("create_meeting", request=meeting_request(), credentials=creds)
    assert meeting.join_url.startswith("https://meet.google.com/")
    assert google.state.counters["events.get"] == 3
    assert google.state.counters["events.insert"] == 1


async def test_a_conference_still_pending_after_the_polls_is_retryable_and_the_retry_reuses_it(
    google: GoogleHarness,
) -> None:
    google.context.settings = replace(
        google.context.settings,
        options={**google.context.settings.options, "conference_poll_attempts": 2},
    )
    google.state.conference_pending_reads = 4
    creds = await _alice(google)
    request = meeting_request()
    with pytest.raises(ProviderUnavailable) as caught:
        await google.call("create_meeting", request=request, credentials=creds)
    assert caught.value.retryable
    meeting = await google.call(
        "create_meeting", request=replace(request, attempt=2), credentials=creds
    )
    assert meeting.join_url.startswith("https://meet.google.com/")
    assert len(google.state.live_events()) == 1


async def test_a_failed_conference_is_an_explained_error_and_leaves_no_event_behind(
    google: GoogleHarness,
) -> None:
    google.state.conference_outcome = "failure"
    google.state.conference_pending_reads = 1
    creds = await _alice(google)
    with pytest.raises(ProviderError) as caught:
        await google.call("create_meeting", request=meeting_request(), credentials=creds)
    assert caught.value.provider_code == "conference_failure"
    assert "Google Meet may be turned off" in caught.value.message
    assert google.state.live_events() == []


@pytest.mark.parametrize("fault", ["timeout_after_acting", "reset_after_acting"])
async def test_retry_after_an_ambiguous_failure_picks_up_the_event_instead_of_a_duplicate(
    google: GoogleHarness, http: httpx.AsyncClient, fault: str
) -> None:
    creds = await _alice(google)
    google.state.faults.hang_seconds = 0.6
    async with httpx.AsyncClient(timeout=0.25) as impatient:
        google.context.http = impatient
        google.state.faults.fail_next(EVENTS, fault, method="POST")
        request = meeting_request()
        with pytest.raises(ProviderUnavailable) as caught:
            await google.call("create_meeting", request=request, credentials=creds)
        assert caught.value.ambiguous
        assert len(google.state.live_events()) == 1  # Google did act
        google.context.http = http
        retried = await google.call(
            "create_meeting",
            request=replace(request, attempt=2, previous_attempt_ambiguous=True),
            credentials=creds,
        )
    [event] = google.state.live_events()
    assert retried.external_id == event.id
    assert google.state.counters["events.insert"] == 2  # the retry got 409 and read the event


async def test_a_reset_before_sending_then_retry_creates_exactly_one_event(
    google: GoogleHarness,
) -> None:
    creds = await _alice(google)
    google.state.faults.fail_next(EVENTS, "reset_before", method="POST")
    with pytest.raises(ProviderUnavailable):
        await google.call("create_meeting", request=meeting_request(), credentials=creds)
    assert google.state.live_events() == []
    await google.call("create_meeting", request=meeting_request(), credentials=creds)
    assert len(google.state.live_events()) == 1


async def test_a_retry_after_the_booking_moved_updates_the_picked_up_event(
    google: GoogleHarness,
) -> None:
    creds = await _alice(google)
    first = meeting_request()
    await google.call("create_meeting", request=first, credentials=creds)
    moved = replace(first, start=first.start + timedelta(hours=2), topic="Moved call")
    meeting = await google.call("create_meeting", request=moved, credentials=creds)
    [event] = google.state.live_events()
    assert meeting.external_id == event.id
    assert event.start == moved.start
    assert event.fields["summary"] == "Moved call"


async def test_update_moves_and_retitles_the_event_and_keeps_the_link(
    google: GoogleHarness,
) -> None:
    creds = await _alice(google)
    request = meeting_request()
    created = await google.call("create_meeting", request=request, credentials=creds)
    moved = replace(
        request,
        start=datetime(2026, 3, 10, 18, 0, tzinfo=UTC),
        topic="Renamed",
        duration_minutes=45,
    )
    updated = await google.call(
        "update_meeting", meeting=_ref(created), request=moved, credentials=creds
    )
    [event] = google.state.live_events()
    assert updated.join_url == created.join_url
    assert (event.start, event.end) == (moved.start_utc, moved.end_utc)
    assert event.fields["summary"] == "Renamed"
    patch = next(r for r in google.state.requests if r.method == "PATCH")
    assert patch.query == {"conferenceDataVersion": "1", "sendUpdates": "none"}
    assert set(patch.body) == {"summary", "start", "end", "description"}


async def test_update_of_an_event_deleted_in_google_calendar_raises_meeting_gone(
    google: GoogleHarness,
) -> None:
    creds = await _alice(google)
    created = await google.call("create_meeting", request=meeting_request(), credentials=creds)
    assert await google.call("delete_meeting", meeting=_ref(created), credentials=creds) == (
        DeleteOutcome.DELETED
    )
    with pytest.raises(MeetingGone):
        await google.call(
            "update_meeting", meeting=_ref(created), request=meeting_request(), credentials=creds
        )
    # The host then creates a new meeting for the same booking: a fresh event id, a new link.
    again = await google.call("create_meeting", request=meeting_request(), credentials=creds)
    assert again.external_id != created.external_id
    assert [e.id for e in google.state.live_events()] == [again.external_id]


async def test_update_of_an_unknown_event_raises_meeting_gone(google: GoogleHarness) -> None:
    creds = await _alice(google)
    with pytest.raises(MeetingGone):
        await google.call(
            "update_meeting",
            meeting=MeetingRef(external_id="abcdef12345"),
            request=meeting_request(),
            credentials=creds,
        )


async def test_update_adds_a_meet_back_when_it_was_removed_from_the_event(
    google: GoogleHarness,
) -> None:
    creds = await _alice(google)
    created = await google.call("create_meeting", request=meeting_request(), credentials=creds)
    [event] = google.state.live_events()
    event.conference = None  # someone removed the Meet in Google Calendar
    updated = await google.call(
        "update_meeting", meeting=_ref(created), request=meeting_request(), credentials=creds
    )
    assert updated.join_url.startswith("https://meet.google.com/")
    assert updated.join_url != created.join_url


async def test_delete_twice_counts_the_second_as_already_gone(google: GoogleHarness) -> None:
    creds = await _alice(google)
    created = await google.call("create_meeting", request=meeting_request(), credentials=creds)
    first = await google.call("delete_meeting", meeting=_ref(created), credentials=creds)
    second = await google.call("delete_meeting", meeting=_ref(created), credentials=creds)
    assert (first, second) == (DeleteOutcome.DELETED, DeleteOutcome.ALREADY_GONE)
    assert google.state.live_events() == []
    statuses = [r for r in google.state.requests if r.method == "DELETE"]
    assert all(r.query == {"sendUpdates": "none"} for r in statuses)


async def test_delete_of_an_unknown_event_is_already_gone(google: GoogleHarness) -> None:
    creds = await _alice(google)
    outcome = await google.call(
        "delete_meeting", meeting=MeetingRef(external_id="abcde12345"), credentials=creds
    )
    assert outcome == DeleteOutcome.ALREADY_GONE


async def test_delete_with_another_accounts_connection_is_a_wrong_credential(
    google: GoogleHarness,
) -> None:
    alice = await _alice(google)
    bob = google.credentials(await google.connect("bob@example.com"))
    created = await google.call("create_meeting", request=meeting_request(), credentials=alice)
    with pytest.raises(WrongCredential):
        await google.call("delete_meeting", meeting=_ref(created), credentials=bob)
    assert len(google.state.live_events()) == 1


async def test_google_invitations_are_off_by_default_and_can_be_turned_on(
    google: GoogleHarness,
) -> None:
    creds = await _alice(google)
    request = meeting_request(attendees=("dana@client.example",))
    await google.call("create_meeting", request=request, credentials=creds)
    [event] = google.state.live_events()
    assert "attendees" not in event.fields
    assert google.state.notifications == []

    google.context.settings = replace(
        google.context.settings,
        options={
            **google.context.settings.options,
            "send_updates": "all",
            "invite_attendees": True,
        },
    )
    await google.call(
        "create_meeting", request=replace(request, idempotency_key="booking-2"), credentials=creds
    )
    [note] = google.state.notifications
    assert (note.action, note.recipients) == ("invitation", ("dana@client.example",))


@pytest.mark.parametrize(
    ("start", "local"),
    [
        # The first hour after clocks spring forward in New York (EST -> EDT on 2026-03-08).
        (datetime(2026, 3, 8, 7, 30, tzinfo=UTC), "2026-03-08T03:30:00-04:00"),
        # The repeated hour when clocks fall back (2026-11-01): first and second 01:30.
        (datetime(2026, 11, 1, 5, 30, tzinfo=UTC), "2026-11-01T01:30:00-04:00"),
        (datetime(2026, 11, 1, 6, 30, tzinfo=UTC), "2026-11-01T01:30:00-05:00"),
    ],
)
async def test_meeting_times_survive_daylight_saving_changes_exactly(
    google: GoogleHarness, start: datetime, local: str
) -> None:
    creds = await _alice(google)
    await google.call("create_meeting", request=meeting_request(start=start), credentials=creds)
    [event] = google.state.live_events()
    assert event.start == start  # the instant Google stored is the booked instant
    insert = next(r for r in google.state.requests if r.method == "POST" and r.path == EVENTS)
    assert insert.body["start"] == {"dateTime": local, "timeZone": "America/New_York"}


async def test_an_expired_access_token_is_refreshed_before_the_call(
    google: GoogleHarness,
) -> None:
    creds = await _alice(google)
    google.clock.advance(hours=2)
    await google.call("create_meeting", request=meeting_request(), credentials=creds)
    assert google.state.refresh_calls == 1
    assert creds.refresh_count == 1


async def test_a_401_is_refreshed_once_and_retried_once(google: GoogleHarness) -> None:
    creds = await _alice(google)
    google.state.access_tokens.clear()  # Google dropped the access token early
    meeting = await google.call("create_meeting", request=meeting_request(), credentials=creds)
    assert meeting.join_url
    assert google.state.refresh_calls == 1
    inserts = [r for r in google.state.requests if r.method == "POST" and r.path == EVENTS]
    assert len(inserts) == 2  # rejected once, then retried once with the new token


async def test_the_sandbox_also_works_mounted_under_a_prefix(
    google: GoogleHarness, http: httpx.AsyncClient
) -> None:
    from google_meet_testkit import GoogleHarness as Harness
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from meetbridge.testing.server import serve_in_thread
    from meetbridge_google_meet.sandbox import create_app

    outer = Starlette(routes=[Mount("/sandbox/google_meet", app=create_app(google.state))])
    with serve_in_thread(outer) as base:
        endpoints = sandbox_endpoints(f"{base}/sandbox/google_meet")
        context = provider_context(google.host, http, google.clock, endpoints=endpoints)
        mounted = Harness(google.host, context, http, google.state, google.clock)
        creds = mounted.credentials(await mounted.connect("bob@example.com"))
        meeting = await mounted.call("create_meeting", request=meeting_request(), credentials=creds)
    assert meeting.join_url.startswith("https://meet.google.com/")
    assert any(r.path == EVENTS for r in google.state.requests)
