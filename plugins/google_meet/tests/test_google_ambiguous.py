"""A failure after the Calendar event may exist says so (``ambiguous``), whatever the call.

Once the insert was sent, or a 409 said the booking's event id is taken, the event may be at
Google: every failure from then on (a dropped connection or a timeout on the conference
polling, on the read of the existing event, on the PATCH that brings it up to date, a grant
revoked in the middle, an event that could not be removed after its Meet failed) must reach
the host as ambiguous, so that it looks before doing anything else (retry, cancel, fall back
to another provider) and never leaves the event behind unrecorded or makes a second one.
Over real HTTP against the sandbox, faults injected on the follow-up request.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from google_meet_testkit import GoogleHarness, meeting_request

from meetbridge.providers import GrantRevoked, ProviderError, ProviderUnavailable
from meetbridge.testing.credentials import MemoryCredentials

EVENTS = "/calendar/v3/calendars/primary/events"
EVENT = EVENTS + "/"  # a request about one event (GET, PATCH, DELETE)


async def _alice(google: GoogleHarness) -> MemoryCredentials:
    return google.credentials(await google.connect("alice@example.com"))


async def _fail_then_retry(
    google: GoogleHarness, creds: MemoryCredentials, request: object
) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await google.call("create_meeting", request=request, credentials=creds)
    return caught.value


@pytest.mark.parametrize("fault", ["reset_after_acting", "reset_before", "timeout_after_acting"])
async def test_a_dropped_conference_poll_is_ambiguous_and_the_retry_makes_no_second_event(
    google: GoogleHarness, http: httpx.AsyncClient, fault: str
) -> None:
    creds = await _alice(google)
    google.state.conference_pending_reads = 2  # the insert answer says "pending": it polls
    google.state.faults.hang_seconds = 0.6
    request = meeting_request()
    async with httpx.AsyncClient(timeout=0.25) as impatient:
        google.context.http = impatient
        google.state.faults.fail_next(EVENT, fault, method="GET")
        error = await _fail_then_retry(google, creds, request)
    assert isinstance(error, ProviderUnavailable) and error.retryable
    assert error.ambiguous, "the event exists: the host must look before anything else"
    assert "ya29" not in str(error)
    google.context.http = http
    retried = await google.call(
        "create_meeting",
        request=replace(request, attempt=2, previous_attempt_ambiguous=True),
        credentials=creds,
    )
    [event] = google.state.live_events()
    assert retried.external_id == event.id and retried.join_url
    assert google.state.counters["events.insert"] == 2  # the retry got 409 and picked it up


@pytest.mark.parametrize("fault", ["reset_before", "reset_after_acting"])
async def test_a_dropped_read_of_the_event_a_409_points_at_is_ambiguous(
    google: GoogleHarness, fault: str
) -> None:
    """The 409 says the booking's event id is taken: the event exists, so failing to read it
    is no "nothing was made" (even when no earlier attempt was ambiguous)."""
    creds = await _alice(google)
    request = meeting_request()
    made = await google.call("create_meeting", request=request, credentials=creds)
    google.state.faults.fail_next(EVENT, fault, method="GET")
    error = await _fail_then_retry(google, creds, replace(request, attempt=2))
    assert error.ambiguous and error.retryable
    again = await google.call(
        "create_meeting", request=replace(request, attempt=3), credentials=creds
    )
    assert again.external_id == made.external_id and len(google.state.live_events()) == 1


async def test_a_dropped_patch_of_a_picked_up_event_is_ambiguous(google: GoogleHarness) -> None:
    creds = await _alice(google)
    request = meeting_request()
    await google.call("create_meeting", request=request, credentials=creds)
    moved = replace(request, start=request.start + timedelta(hours=2), attempt=2)
    google.state.faults.fail_next(EVENT, "reset_before", method="PATCH")
    error = await _fail_then_retry(google, creds, moved)
    assert error.ambiguous
    fixed = await google.call(
        "create_meeting", request=replace(moved, attempt=3), credentials=creds
    )
    [event] = google.state.live_events()
    assert fixed.external_id == event.id and event.start == moved.start


async def test_a_grant_revoked_while_the_conference_is_polled_is_ambiguous(
    google: GoogleHarness,
) -> None:
    """Not retryable (the connection is broken), yet the event is at Google: the host must
    record that it may be left there rather than take the create for "nothing made" and
    make another meeting elsewhere."""
    creds = await _alice(google)
    google.state.conference_pending_reads = 2
    google.state.faults.fail_next(EVENT, "revoke_grant", method="GET")
    error = await _fail_then_retry(google, creds, meeting_request())
    assert isinstance(error, GrantRevoked) and not error.retryable
    assert error.ambiguous
    assert len(google.state.live_events()) == 1


async def test_a_failed_meet_whose_event_could_not_be_removed_is_ambiguous(
    google: GoogleHarness,
) -> None:
    creds = await _alice(google)
    google.state.conference_outcome = "failure"
    google.state.faults.fail_next(EVENT, "reset_before", method="DELETE")
    error = await _fail_then_retry(google, creds, meeting_request())
    assert error.provider_code == "conference_failure"
    assert error.ambiguous  # the event without a link is still there
    assert len(google.state.live_events()) == 1


async def test_a_failed_meet_whose_event_was_removed_is_not_ambiguous(
    google: GoogleHarness,
) -> None:
    creds = await _alice(google)
    google.state.conference_outcome = "failure"
    error = await _fail_then_retry(google, creds, meeting_request())
    assert error.provider_code == "conference_failure" and not error.ambiguous
    assert google.state.live_events() == []
