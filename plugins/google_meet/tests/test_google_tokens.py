"""Refresh, dead grants, disconnect and throttling, over real HTTP against the sandbox."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from google_meet_testkit import GoogleHarness, meeting_request, provider_context

from meetbridge.providers import (
    DailyLimitReached,
    GrantRevoked,
    ProviderUnavailable,
    RateLimited,
    Secret,
)
from meetbridge_google_meet.sandbox import sandbox_endpoints

EVENTS = "/calendar/v3/calendars/primary/events"


async def test_refresh_keeps_the_refresh_token_because_google_does_not_rotate_it(
    google: GoogleHarness,
) -> None:
    connected = await google.connect()
    google.clock.advance(minutes=59)
    fresh = await google.call("refresh_credentials", tokens=connected.tokens)
    assert fresh.access_token != connected.tokens.access_token
    assert fresh.refresh_token == connected.tokens.refresh_token
    assert fresh.expires_at > connected.tokens.expires_at
    assert fresh.scope == connected.tokens.scope
    # The old refresh token keeps working: refreshing again with it succeeds.
    again = await google.call("refresh_credentials", tokens=connected.tokens)
    assert again.refresh_token == connected.tokens.refresh_token


async def test_a_grant_revoked_by_the_person_is_grant_revoked_with_googles_reason(
    google: GoogleHarness,
) -> None:
    connected = await google.connect()
    google.state.faults.fail_next("/token", "revoke_grant")
    with pytest.raises(GrantRevoked) as caught:
        await google.call("refresh_credentials", tokens=connected.tokens)
    assert caught.value.provider_code == "invalid_grant"
    assert "Token has been expired or revoked." in caught.value.message
    assert "Reconnect" in caught.value.message


async def test_a_grant_revoked_between_calls_surfaces_from_the_meeting_call(
    google: GoogleHarness,
) -> None:
    creds = google.credentials(await google.connect())
    google.state.faults.fail_next(EVENTS, "revoke_grant")  # revoked at Google mid-flight
    with pytest.raises(GrantRevoked):
        await google.call("create_meeting", request=meeting_request(), credentials=creds)
    assert google.state.live_events() == []


async def test_a_testing_mode_app_loses_its_refresh_token_after_seven_days(
    google: GoogleHarness,
) -> None:
    google.state.clients[google.context.settings.client_id].publishing_status = "testing"
    connected = await google.connect()
    google.clock.advance(days=6, hours=23)
    await google.call("refresh_credentials", tokens=connected.tokens)
    google.clock.advance(hours=2)
    with pytest.raises(GrantRevoked) as caught:
        await google.call("refresh_credentials", tokens=connected.tokens)
    assert "expired or revoked" in caught.value.message


async def test_disconnect_revokes_the_whole_grant_at_google(google: GoogleHarness) -> None:
    connected = await google.connect()
    creds = google.credentials(connected)
    assert await google.call("disconnect", tokens=connected.tokens) is True
    revoke = next(r for r in google.state.requests if r.path == "/revoke")
    assert revoke.query == {}  # the token travelled in the body, not the URL
    # Both the access token and the refresh token are dead now.
    with pytest.raises(GrantRevoked):
        await google.call("create_meeting", request=meeting_request(), credentials=creds)
    assert google.state.grants == {}


async def test_disconnect_of_an_already_revoked_grant_still_reports_it_gone(
    google: GoogleHarness,
) -> None:
    connected = await google.connect()
    assert await google.call("disconnect", tokens=connected.tokens) is True
    assert await google.call("disconnect", tokens=connected.tokens) is True


async def test_disconnect_never_raises_when_google_cannot_be_reached(
    google: GoogleHarness, http: httpx.AsyncClient
) -> None:
    connected = await google.connect()
    google.state.faults.fail_next("/revoke", "reset_before")
    assert await google.call("disconnect", tokens=connected.tokens) is False
    assert google.state.faults.triggered == [("/revoke", "reset_before")]
    google.state.faults.fail_next("/revoke", "5xx")
    assert await google.call("disconnect", tokens=connected.tokens) is False
    unreachable = {**sandbox_endpoints("http://127.0.0.1:9")}
    google.context = provider_context(google.host, http, google.clock, endpoints=unreachable)
    assert await google.call("disconnect", tokens=connected.tokens) is False
    assert google.state.grants  # nothing reached Google: the grant is still there


async def test_disconnect_with_only_an_expired_access_token_is_not_confirmed(
    google: GoogleHarness,
) -> None:
    connected = await google.connect()
    stale = replace(connected.tokens, refresh_token=None, access_token=Secret("ya29.expired"))
    assert await google.call("disconnect", tokens=stale) is False


@pytest.mark.parametrize("kind", ["rate_limit_qps", "rate_limit_429", "rate_limit_user"])
async def test_a_throttled_call_is_retried_with_backoff_and_then_succeeds(
    google: GoogleHarness, kind: str
) -> None:
    creds = google.credentials(await google.connect())
    google.state.faults.fail_next(EVENTS, kind, times=2, method="POST")
    meeting = await google.call("create_meeting", request=meeting_request(), credentials=creds)
    assert meeting.join_url
    assert len(google.state.live_events()) == 1


async def test_persistent_throttling_becomes_rate_limited_with_a_retry_after(
    google: GoogleHarness,
) -> None:
    creds = google.credentials(await google.connect())
    google.state.limits.per_user_per_minute = 0
    with pytest.raises(RateLimited) as caught:
        await google.call("create_meeting", request=meeting_request(), credentials=creds)
    assert caught.value.retryable
    assert caught.value.retry_after == 60.0
    assert caught.value.provider_code == "userRateLimitExceeded"
    # Two inline retries after the first refusal, then the host is told to come back later.
    inserts = [r for r in google.state.requests if r.method == "POST" and r.path == EVENTS]
    assert len(inserts) == 3
    google.clock.advance(minutes=1)
    google.state.limits.per_user_per_minute = 10
    assert await google.call("create_meeting", request=meeting_request(), credentials=creds)


async def test_the_daily_project_quota_reports_when_it_resets(google: GoogleHarness) -> None:
    creds = google.credentials(await google.connect())
    google.state.faults.fail_next(EVENTS, "rate_limit_daily")
    with pytest.raises(DailyLimitReached) as caught:
        await google.call("create_meeting", request=meeting_request(), credentials=creds)
    # Midnight in Los Angeles after the clock's 2026-03-02 15:00 UTC: 08:00 UTC next day.
    assert caught.value.resets_at.isoformat() == "2026-03-03T08:00:00+00:00"


async def test_google_server_errors_are_retryable_with_its_retry_after(
    google: GoogleHarness,
) -> None:
    creds = google.credentials(await google.connect())
    google.state.faults.fail_next(EVENTS, "503_retry_after")
    with pytest.raises(ProviderUnavailable) as caught:
        await google.call("create_meeting", request=meeting_request(), credentials=creds)
    assert caught.value.retry_after == 2.0
    assert not caught.value.ambiguous
    google.state.faults.fail_next("/token", "5xx")
    with pytest.raises(ProviderUnavailable):
        await google.call("refresh_credentials", tokens=creds.tokens)
