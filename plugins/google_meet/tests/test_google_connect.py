"""Connecting a Google account, over real HTTP against the sandbox, through the plugin host."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from google_meet_testkit import REDIRECT_URI, GoogleHarness, consent, pkce_pair

from meetbridge.providers import ConnectFailed, InsufficientScope, Secret
from meetbridge_google_meet.info import CALENDAR_EVENTS_SCOPE


async def test_authorization_url_asks_for_offline_access_with_forced_consent_and_pkce(
    google: GoogleHarness,
) -> None:
    _, challenge = pkce_pair()
    start = await google.call(
        "authorization_url",
        redirect_uri=REDIRECT_URI,
        state="abc",
        code_challenge=challenge,
        account_level=False,
    )
    query = {k: v[0] for k, v in parse_qs(urlsplit(start.url).query).items()}
    assert query == {
        "response_type": "code",
        "client_id": google.context.settings.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": f"openid email {CALENDAR_EVENTS_SCOPE}",
        "state": "abc",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
    }
    assert start.url.startswith(google.context.endpoint("authorize_url") + "?")


async def test_connect_records_account_id_email_scopes_and_a_refresh_token(
    google: GoogleHarness,
) -> None:
    connected = await google.connect("alice@example.com")
    alice = google.state.account_by_email("alice@example.com")
    assert alice is not None
    assert connected.external_account_id == alice.sub
    assert connected.email == "alice@example.com"
    assert connected.account_type == "workspace"
    assert connected.organization_id == "example.com"
    assert CALENDAR_EVENTS_SCOPE in connected.tokens.scope
    assert connected.tokens.refresh_token is not None
    assert connected.tokens.expires_at == google.clock() + timedelta(seconds=3599)
    # The code went to the token endpoint with the PKCE verifier and the client secret.
    token_calls = [r for r in google.state.requests if r.path == "/token"]
    assert token_calls[0].body["grant_type"] == ["authorization_code"]
    assert token_calls[0].body["code_verifier"]
    assert token_calls[0].body["client_secret"] == ["GOCSPX-test-secret"]


async def test_a_personal_google_account_connects_as_personal(google: GoogleHarness) -> None:
    connected = await google.connect("carol.personal@gmail.com")
    assert connected.account_type == "personal"
    assert connected.organization_id == ""


async def test_unticked_calendar_scope_refuses_the_connection_and_gives_the_grant_back(
    google: GoogleHarness,
) -> None:
    url, verifier = await google.start()
    answer = await consent(google.http, url, scopes=())  # the person left the box unticked
    assert CALENDAR_EVENTS_SCOPE not in answer["scope"]
    with pytest.raises(InsufficientScope) as caught:
        await google.finish(answer["code"], verifier)
    assert "tick" in caught.value.message
    assert "calendar" in caught.value.message
    # Nothing was handed back to be stored, and Google no longer holds a grant for it.
    alice = google.state.account_by_email("alice@example.com")
    assert alice is not None
    assert (google.context.settings.client_id, alice.sub) not in google.state.grants
    assert google.state.counters["userinfo"] == 0


async def test_access_denied_on_the_consent_screen_redirects_with_the_error_and_no_code(
    google: GoogleHarness,
) -> None:
    url, _ = await google.start(state="xyz")
    answer = await consent(google.http, url, allow=False)
    assert answer == {"error": "access_denied", "state": "xyz"}
    assert google.state.grants == {}


async def test_a_reused_code_fails_with_a_clear_message(google: GoogleHarness) -> None:
    url, verifier = await google.start()
    answer = await consent(google.http, url)
    await google.finish(answer["code"], verifier)
    with pytest.raises(ConnectFailed) as caught:
        await google.finish(answer["code"], verifier)
    assert caught.value.provider_code == "invalid_grant"
    assert "already used or has expired" in caught.value.message
    assert "Connect again" in caught.value.message


async def test_a_wrong_pkce_verifier_fails_the_connection(google: GoogleHarness) -> None:
    url, _ = await google.start()
    answer = await consent(google.http, url)
    other_verifier, _ = pkce_pair()
    with pytest.raises(ConnectFailed) as caught:
        await google.finish(answer["code"], other_verifier)
    assert "verifier" in caught.value.message


async def test_reconnecting_gets_a_new_refresh_token_thanks_to_prompt_consent(
    google: GoogleHarness,
) -> None:
    first = await google.connect()
    second = await google.connect()
    assert second.tokens.refresh_token is not None
    assert second.tokens.refresh_token != first.tokens.refresh_token


async def test_a_wrong_client_secret_is_reported_as_a_configuration_problem(
    google: GoogleHarness,
) -> None:
    url, verifier = await google.start()
    answer = await consent(google.http, url)
    google.context.settings = replace(google.context.settings, client_secret=Secret("wrong"))
    with pytest.raises(ConnectFailed) as caught:
        await google.finish(answer["code"], verifier)
    assert caught.value.provider_code == "invalid_client"
    assert "CLIENT_SECRET" in caught.value.message
    assert "wrong" not in caught.value.message
