"""Connecting Zoom through the sandbox over real HTTP: per user, account level, and failures."""

from __future__ import annotations

import pytest
from zoom_harness import ADMIN, BASIC, LICENSED, REDIRECT_URI, meeting_request

from meetbridge.providers import (
    AccountLevelNotAllowed,
    ConnectFailed,
    GrantRevoked,
    InsufficientScope,
    MeetingRef,
)
from meetbridge_zoom.info import ADMIN_SCOPES, USER_SCOPES


def live_grants(state, email: str) -> int:
    user = state.user(email)
    return sum(1 for g in state.grants.values() if g.user_id == user.id and not g.revoked)


async def test_a_member_connects_their_own_zoom(zoom):
    account = await zoom.connect(LICENSED)
    assert account.external_account_id == "L1censedLenaTO8WbOqwIQ"
    assert account.email == LICENSED
    assert account.organization_id == "SbxAcct1Q2uLZwqf0wM0bA"
    assert account.account_type == "licensed" and account.is_admin is False
    assert account.tokens.scope == USER_SCOPES
    assert account.extra["granted_scopes"] == list(USER_SCOPES)
    assert account.extra["connected_at"] == zoom.clock().isoformat()
    assert account.tokens.refresh_token is not None
    assert "Secret('***')" in repr(account.tokens)


async def test_an_admin_connects_zoom_for_the_organisation(zoom):
    account = await zoom.connect(ADMIN, account_level=True)
    assert account.is_admin and account.extra["account_level"] is True
    assert account.tokens.scope == ADMIN_SCOPES
    assert account.tokens.extra["meetbridge_app"] == "account_level"


async def test_a_member_cannot_connect_for_the_organisation(zoom):
    with pytest.raises(AccountLevelNotAllowed) as failure:
        await zoom.connect(LICENSED, account_level=True)
    message = failure.value.message
    assert "not an owner or admin" in message and "Zoom admin" in message
    assert "pre-approve" in message
    assert live_grants(zoom.state, LICENSED) == 0  # what Zoom granted was withdrawn


async def test_denying_access_at_zoom_returns_access_denied_and_no_code(zoom):
    url, state, _ = await zoom.start()
    back = await zoom.consent(url, LICENSED, decision="deny")
    assert back.params["error"] == "access_denied" and back.params["state"] == state
    assert "code" not in back.params
    assert not zoom.state.codes


async def test_the_state_comes_back_unchanged_for_the_host_to_check(zoom):
    url, state, _ = await zoom.start()
    back = await zoom.consent(url, BASIC)
    assert back.params["state"] == state
    assert str(back).startswith(REDIRECT_URI + "?")


async def test_an_expired_code_is_refused_clearly(zoom):
    url, _, verifier = await zoom.start()
    back = await zoom.consent(url, LICENSED)
    zoom.clock.advance(minutes=5, seconds=1)
    with pytest.raises(ConnectFailed) as failure:
        await zoom.call(
            "connect",
            code=back.params["code"],
            redirect_uri=REDIRECT_URI,
            code_verifier=verifier,
            account_level=False,
        )
    assert "expired" in failure.value.message and "Connect again" in failure.value.message


async def test_a_code_works_once(zoom):
    url, _, verifier = await zoom.start()
    code = (await zoom.consent(url, LICENSED)).params["code"]
    kwargs = {
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
        "account_level": False,
    }
    await zoom.call("connect", **kwargs)
    with pytest.raises(ConnectFailed):
        await zoom.call("connect", **kwargs)


async def test_a_redirect_mismatch_names_the_url_to_register(zoom):
    url, _, verifier = await zoom.start()
    code = (await zoom.consent(url, LICENSED)).params["code"]
    with pytest.raises(ConnectFailed) as failure:
        await zoom.call(
            "connect",
            code=code,
            redirect_uri="http://127.0.0.1:9999/cb",
            code_verifier=verifier,
            account_level=False,
        )
    assert "redirect URL" in failure.value.message


async def test_an_unregistered_redirect_is_refused_at_zoom_without_redirecting(zoom):
    context = zoom.context()
    start = await zoom.call(
        "authorization_url",
        context=context,
        redirect_uri="https://evil.example/cb",
        state="s",
        code_challenge="c",
        account_level=False,
    )
    page = await zoom.http.get(start.url)
    assert page.status_code == 400 and "Invalid redirect" in page.text


async def test_a_wrong_pkce_verifier_is_refused(zoom):
    url, _, _ = await zoom.start()
    code = (await zoom.consent(url, LICENSED)).params["code"]
    with pytest.raises(ConnectFailed) as failure:
        await zoom.call(
            "connect",
            code=code,
            redirect_uri=REDIRECT_URI,
            code_verifier="not-the-verifier-" * 3,
            account_level=False,
        )
    assert "PKCE" in failure.value.message


async def test_wrong_app_credentials_are_an_operator_problem(zoom):
    url, _, verifier = await zoom.start()
    code = (await zoom.consent(url, LICENSED)).params["code"]
    with pytest.raises(ConnectFailed) as failure:
        await zoom.call(
            "connect",
            context=zoom.context(client_secret="wrong-secret"),
            code=code,
            redirect_uri=REDIRECT_URI,
            code_verifier=verifier,
            account_level=False,
        )
    assert "client id and secret" in failure.value.message
    assert "wrong-secret" not in failure.value.message


async def test_an_app_without_meeting_scopes_is_refused_at_connect(zoom):
    zoom.state.register_app(
        "narrow-app", "narrow-secret", [REDIRECT_URI], scopes=["user:read:user"]
    )
    narrow = zoom.context(client_id="narrow-app", client_secret="narrow-secret")
    with pytest.raises(InsufficientScope) as failure:
        await zoom.connect(LICENSED, context=narrow)
    assert "meeting:write:meeting" in failure.value.message
    assert live_grants(zoom.state, LICENSED) == 0


async def test_connecting_again_revokes_the_older_tokens(zoom):
    first = await zoom.connect(LICENSED)
    second = await zoom.connect(LICENSED)
    old = zoom.credentials(first)
    with pytest.raises(GrantRevoked):  # old access token refused, its refresh token too
        await zoom.call("get_host_join_url", meeting=MeetingRef("1"), credentials=old)
    meeting = await zoom.call(
        "create_meeting", request=meeting_request(), credentials=zoom.credentials(second)
    )
    assert meeting.external_id
