"""Tokens against the sandbox: refreshing early and on 124, rotation, races, dead grants.

The host serialises refreshes per connection (its database-backed version is tested with the
host); here the plugin's refresh hook runs under :class:`MemoryCredentials`, which serialises
the same way, so the tests show the plugin never refreshes on its own behind the host's back.
"""

from __future__ import annotations

import asyncio

import pytest
from zoom_harness import ADMIN, BASIC, LICENSED, meeting_request

from meetbridge.providers import GrantRevoked, MeetingRef, Secret


async def test_200_concurrent_calls_with_an_expired_token_cause_exactly_one_refresh(zoom):
    zoom.state.plan_qps["pro"]["light"] = 1000  # this test is about tokens, not QPS
    creds = zoom.credentials(await zoom.connect(LICENSED))
    meeting = await zoom.call("create_meeting", request=meeting_request(), credentials=creds)
    old_refresh = creds.tokens.refresh_token
    zoom.clock.advance(hours=1)  # the access token (3599 s) has expired

    context = zoom.context(rate_limits={"light": 1000})
    links = await asyncio.gather(
        *(
            zoom.call(
                "get_host_join_url",
                context=context,
                meeting=MeetingRef(meeting.external_id),
                credentials=creds,
            )
            for _ in range(200)
        )
    )
    assert len(links) == 200 and all(isinstance(link, Secret) for link in links)
    assert zoom.state.refresh_calls == 1 and creds.refresh_count == 1
    assert creds.tokens.refresh_token != old_refresh  # rotated, and the new one kept
    assert zoom.state.live_token(old_refresh.reveal(), "refresh") is None


async def test_a_token_refused_with_124_is_refreshed_once_and_the_call_retried(zoom):
    creds = zoom.credentials(await zoom.connect(LICENSED))
    zoom.state.expire_access_tokens()  # Zoom says "expired" before our clock thinks so
    meeting = await zoom.call("create_meeting", request=meeting_request(), credentials=creds)
    assert meeting.external_id
    assert zoom.state.refresh_calls == 1 and creds.refresh_count == 1
    assert zoom.state.count_requests("POST", "/v2/users/me/meetings") == 2
    assert len(zoom.state.live_meetings()) == 1


async def test_tokens_are_refreshed_a_minute_before_they_expire(zoom):
    creds = zoom.credentials(await zoom.connect(LICENSED))
    zoom.clock.advance(seconds=3599 - 59)
    await zoom.call("create_meeting", request=meeting_request(), credentials=creds)
    assert zoom.state.refresh_calls == 1
    assert zoom.state.count_requests("POST", "/v2/users/me/meetings") == 1  # no 401 first


async def test_a_grant_revoked_at_zoom_means_reconnect_with_zooms_reason(zoom):
    creds = zoom.credentials(await zoom.connect(LICENSED))
    zoom.state.revoke_user_grants(LICENSED)
    with pytest.raises(GrantRevoked) as failure:
        await zoom.call("create_meeting", request=meeting_request(), credentials=creds)
    assert "Invalid Token!" in failure.value.message and "reconnect" in failure.value.message
    assert failure.value.provider_code == "invalid_grant"
    assert zoom.state.live_meetings() == []


async def test_a_grant_revoked_while_refreshing_is_a_dead_grant(zoom):
    creds = zoom.credentials(await zoom.connect(LICENSED))
    zoom.clock.advance(hours=1)
    zoom.state.faults.fail_next("/oauth/token", "revoke_grant")
    with pytest.raises(GrantRevoked):
        await zoom.call("create_meeting", request=meeting_request(), credentials=creds)


async def test_a_rotated_away_refresh_token_is_dead(zoom):
    account = await zoom.connect(LICENSED)
    first = await zoom.call("refresh_credentials", tokens=account.tokens)
    with pytest.raises(GrantRevoked):  # two refreshes racing with the same token
        await zoom.call("refresh_credentials", tokens=account.tokens)
    assert zoom.state.refresh_calls == 1
    assert first.refresh_token != account.tokens.refresh_token


async def test_account_level_tokens_refresh_with_the_admin_managed_app(zoom):
    admin = zoom.credentials(await zoom.connect(ADMIN, account_level=True))
    zoom.clock.advance(hours=2)
    meeting = await zoom.call(
        "create_meeting", request=meeting_request(host_user=BASIC), credentials=admin
    )
    assert meeting.external_id and zoom.state.refresh_calls == 1
    assert admin.tokens.extra["meetbridge_app"] == "account_level"
