"""A create that fails ambiguously is retried without making a second meeting."""

from __future__ import annotations

from datetime import timedelta

import pytest
from zoom_harness import ADMIN, BASIC, LICENSED, meeting_request

from meetbridge.providers import ProviderUnavailable
from meetbridge_zoom.sandbox import meetings as sandbox_meetings

CREATE = "/v2/users/me/meetings"
SHORT_TIMEOUT = {"http_timeout_seconds": 0.3}  # the sandbox hangs 0.6 s after acting


@pytest.mark.parametrize("fault", ["timeout_after_acting", "reset_after_acting"])
async def test_a_retry_after_an_ambiguous_create_returns_the_meeting_already_made(zoom, fault):
    creds = zoom.credentials(await zoom.connect(LICENSED))
    context = zoom.context(**SHORT_TIMEOUT)
    zoom.state.faults.fail_next(CREATE, fault, method="POST")
    request = meeting_request(idempotency_key="booking-42")
    with pytest.raises(ProviderUnavailable) as failure:
        await zoom.call("create_meeting", context=context, request=request, credentials=creds)
    assert failure.value.ambiguous and failure.value.retryable
    assert len(zoom.state.live_meetings()) == 1  # Zoom did make it

    retry = meeting_request(
        idempotency_key="booking-42", attempt=2, previous_attempt_ambiguous=True
    )
    meeting = await zoom.call("create_meeting", context=context, request=retry, credentials=creds)
    (only,) = zoom.state.live_meetings()
    assert meeting.external_id == str(only["id"])
    assert meeting.join_url == only["join_url"] and meeting.host_start_url is not None
    assert zoom.state.count_requests("POST", CREATE) == 1


async def test_a_retry_after_a_reset_before_zoom_acted_creates_the_meeting_once(zoom):
    creds = zoom.credentials(await zoom.connect(LICENSED))
    zoom.state.faults.fail_next(CREATE, "reset_before", method="POST")
    with pytest.raises(ProviderUnavailable) as failure:
        await zoom.call("create_meeting", request=meeting_request(), credentials=creds)
    assert failure.value.ambiguous  # from outside, a reset is a reset
    assert zoom.state.live_meetings() == []

    meeting = await zoom.call(
        "create_meeting",
        credentials=creds,
        request=meeting_request(attempt=2, previous_attempt_ambiguous=True),
    )
    assert [str(m["id"]) for m in zoom.state.live_meetings()] == [meeting.external_id]


async def test_a_5xx_is_not_ambiguous(zoom):
    creds = zoom.credentials(await zoom.connect(LICENSED))
    zoom.state.faults.fail_next(CREATE, "5xx", method="POST")
    with pytest.raises(ProviderUnavailable) as failure:
        await zoom.call("create_meeting", request=meeting_request(), credentials=creds)
    assert not failure.value.ambiguous and zoom.state.live_meetings() == []


async def test_a_503_passes_on_zooms_retry_after(zoom):
    creds = zoom.credentials(await zoom.connect(LICENSED))
    zoom.state.faults.fail_next(CREATE, "503_retry_after", method="POST")
    with pytest.raises(ProviderUnavailable) as failure:
        await zoom.call("create_meeting", request=meeting_request(), credentials=creds)
    assert failure.value.retry_after == 3


async def test_the_lookup_pages_through_many_upcoming_meetings(zoom):
    creds = zoom.credentials(await zoom.connect(LICENSED))
    host = zoom.state.user(LICENSED)
    start = zoom.clock() + timedelta(days=1)
    for i in range(450):  # other bookings' meetings, listed before ours
        sandbox_meetings.create(
            zoom.state,
            host,
            {"topic": f"other {i}", "start": start, "agenda": f"[meetbridge:other-{i}]"},
            zoom.url,
        )
    ours = sandbox_meetings.create(
        zoom.state,
        host,
        {
            "topic": "ours",
            "start": start + timedelta(days=1),
            "agenda": "[meetbridge:booking-7]\n" + "A long agenda. " * 100,
        },  # listed truncated
        zoom.url,
    )

    meeting = await zoom.call(
        "create_meeting",
        credentials=creds,
        request=meeting_request(
            idempotency_key="booking-7", attempt=2, previous_attempt_ambiguous=True
        ),
    )
    assert meeting.external_id == str(ours["id"])
    assert zoom.state.count_requests("GET", "/v2/users/me/meetings") == 2  # 300 + 151
    assert zoom.state.count_requests("POST", CREATE) == 0


async def test_an_ambiguous_account_level_create_is_found_under_the_member(zoom):
    admin = zoom.credentials(await zoom.connect(ADMIN, account_level=True))
    context = zoom.context(**SHORT_TIMEOUT)
    path = f"/v2/users/{BASIC}/meetings"
    zoom.state.faults.fail_next(path, "timeout_after_acting", method="POST")
    request = meeting_request(host_user=BASIC)
    with pytest.raises(ProviderUnavailable):
        await zoom.call("create_meeting", context=context, request=request, credentials=admin)
    meeting = await zoom.call(
        "create_meeting",
        context=context,
        credentials=admin,
        request=meeting_request(host_user=BASIC, attempt=2, previous_attempt_ambiguous=True),
    )
    (only,) = zoom.state.live_meetings()
    assert meeting.external_id == str(only["id"])
    assert only["host_id"] == zoom.state.user(BASIC).id
