"""Disconnect revokes the grant at Zoom, best effort; meetings already made stay."""

from __future__ import annotations

from dataclasses import replace

import pytest
from zoom_harness import LICENSED, meeting_request

from meetbridge.providers import GrantRevoked, MeetingRef
from meetbridge.testing.server import free_port


async def test_disconnect_revokes_the_grant_and_leaves_meetings(zoom):
    account = await zoom.connect(LICENSED)
    creds = zoom.credentials(account)
    meeting = await zoom.call("create_meeting", request=meeting_request(), credentials=creds)

    assert await zoom.call("disconnect", tokens=creds.tokens) is True
    assert zoom.state.revoke_calls == 1
    assert not any(
        g.user_id == account.external_account_id and not g.revoked
        for g in zoom.state.grants.values()
    )
    with pytest.raises(GrantRevoked):  # neither token works any more
        await zoom.call(
            "get_host_join_url", meeting=MeetingRef(meeting.external_id), credentials=creds
        )
    assert [m["id"] for m in zoom.state.live_meetings()] == [int(meeting.external_id)]


async def test_disconnect_after_the_access_token_expired_still_revokes(zoom):
    account = await zoom.connect(LICENSED)
    zoom.clock.advance(days=3)
    assert await zoom.call("disconnect", tokens=account.tokens) is True


async def test_disconnect_reports_false_when_zoom_fails(zoom):
    account = await zoom.connect(LICENSED)
    zoom.state.faults.fail_next("/oauth/revoke", "5xx", times=2)
    assert await zoom.call("disconnect", tokens=account.tokens) is False


async def test_disconnect_reports_false_when_zoom_cannot_be_reached(zoom):
    account = await zoom.connect(LICENSED)
    context = zoom.context()
    unreachable = f"http://127.0.0.1:{free_port()}/oauth/revoke"
    context.settings = replace(
        context.settings, endpoints={**context.settings.endpoints, "revoke_url": unreachable}
    )
    assert await zoom.call("disconnect", context=context, tokens=account.tokens) is False


async def test_disconnect_of_an_already_revoked_grant_is_false_not_an_error(zoom):
    account = await zoom.connect(LICENSED)
    assert await zoom.call("disconnect", tokens=account.tokens) is True
    assert await zoom.call("disconnect", tokens=account.tokens) is False
