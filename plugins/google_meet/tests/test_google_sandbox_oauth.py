"""The sandbox's OAuth server behaves like Google's (fidelity tests, over real HTTP)."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from google_meet_testkit import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    consent,
    open_consent,
    pkce_pair,
    post_form,
    query_of,
)

from meetbridge_google_meet.info import CALENDAR_EVENTS_SCOPE
from meetbridge_google_meet.sandbox import ManualClock, SandboxState

EMAIL_SCOPE = "https://www.googleapis.com/auth/userinfo.email"


def authorize_url(base: str, **overrides: str | None) -> str:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": f"openid email {CALENDAR_EVENTS_SCOPE}",
        "state": "s1",
        "access_type": "offline",
    }
    params.update(overrides)
    return f"{base}/o/oauth2/v2/auth?" + urlencode({k: v for k, v in params.items() if v})


async def get_code(
    http: httpx.AsyncClient,
    base: str,
    *,
    account: str = "alice@example.com",
    scopes: tuple[str, ...] = (CALENDAR_EVENTS_SCOPE,),
    **overrides: str | None,
) -> dict[str, str]:
    return await consent(http, authorize_url(base, **overrides), account=account, scopes=scopes)


async def redeem(http: httpx.AsyncClient, base: str, code: str, **extra: str) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        **extra,
    }
    return await http.post(f"{base}/token", data=data)


async def refresh(http: httpx.AsyncClient, base: str, token: str) -> httpx.Response:
    return await http.post(
        f"{base}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": token,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )


async def tokens(http: httpx.AsyncClient, base: str, **overrides: Any) -> dict[str, Any]:
    answer = await get_code(http, base, **overrides)
    response = await redeem(http, base, answer["code"])
    assert response.status_code == 200, response.text
    return response.json()


# -- the authorize endpoint -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"client_id": "nobody"}, 401, "invalid_client"),
        ({"redirect_uri": "http://evil.example/cb"}, 400, "redirect_uri_mismatch"),
        ({"redirect_uri": REDIRECT_URI + "/"}, 400, "redirect_uri_mismatch"),
        ({"response_type": "token"}, 400, "unsupported_response_type"),
        ({"scope": None}, 400, "invalid_request"),
        ({"scope": "openid https://www.googleapis.com/auth/drive"}, 400, "invalid_scope"),
        ({"access_type": "forever"}, 400, "invalid_request"),
        ({"code_challenge": "abc", "code_challenge_method": "S512"}, 400, "invalid_request"),
    ],
)
async def test_bad_authorization_requests_get_googles_error_page_and_no_redirect(
    sandbox_url: str,
    http: httpx.AsyncClient,
    overrides: dict[str, str | None],
    status: int,
    error: str,
) -> None:
    page = await http.get(authorize_url(sandbox_url, **overrides))
    assert page.status_code == status
    assert "location" not in page.headers
    assert f"<code id='error'>{error}</code>" in page.text


async def test_the_consent_page_offers_each_account_and_an_unticked_box_per_permission(
    sandbox_url: str, http: httpx.AsyncClient
) -> None:
    page = await http.get(authorize_url(sandbox_url))
    assert "alice@example.com" in page.text and "carol.personal@gmail.com" in page.text
    assert (
        f"<input type='checkbox' name='scope' value='{CALENDAR_EVENTS_SCOPE}'>" in page.text
    )  # no "checked": the person has to tick it
    assert "View and edit events on all your calendars" in page.text


async def test_a_new_account_can_be_entered_on_the_consent_page(
    sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient
) -> None:
    action, consent_id = await open_consent(http, authorize_url(sandbox_url))
    answer = await post_form(
        http,
        action,
        [
            ("consent_id", consent_id),
            ("other_account", "erin@acme.example"),
            ("decision", "allow"),
            ("scope", CALENDAR_EVENTS_SCOPE),
        ],
    )
    assert "code=" in answer.headers["location"]
    erin = sandbox.account_by_email("erin@acme.example")
    assert erin is not None and erin.hosted_domain == "acme.example"


async def test_a_consent_screen_can_be_answered_only_once(
    sandbox_url: str, http: httpx.AsyncClient
) -> None:
    action, consent_id = await open_consent(http, authorize_url(sandbox_url))
    form = [("consent_id", consent_id), ("account", "alice@example.com"), ("decision", "allow")]
    assert (await post_form(http, action, form)).status_code == 302
    again = await post_form(http, action, form)
    assert again.status_code == 400 and "expired or was already answered" in again.text


async def test_the_redirect_carries_state_code_and_the_granted_scopes_in_long_form(
    sandbox_url: str, http: httpx.AsyncClient
) -> None:
    answer = await get_code(http, sandbox_url)
    assert answer["state"] == "s1"
    assert answer["code"].startswith("4/")
    assert set(answer["scope"].split()) == {"openid", EMAIL_SCOPE, CALENDAR_EVENTS_SCOPE}


async def test_prompt_none_without_an_earlier_grant_answers_consent_required(
    sandbox_url: str, http: httpx.AsyncClient
) -> None:
    answer = await http.get(authorize_url(sandbox_url, prompt="none"))
    assert answer.status_code == 302
    assert query_of(answer.headers["location"]) == {"error": "consent_required", "state": "s1"}
    await tokens(http, sandbox_url)
    silent = await http.get(
        authorize_url(sandbox_url, prompt="none", login_hint="alice@example.com")
    )
    assert "code" in query_of(silent.headers["location"])


# -- codes and PKCE -------------------------------------------------------------------------------
async def test_codes_are_single_use(sandbox_url: str, http: httpx.AsyncClient) -> None:
    answer = await get_code(http, sandbox_url)
    assert (await redeem(http, sandbox_url, answer["code"])).status_code == 200
    again = await redeem(http, sandbox_url, answer["code"])
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_grant", "error_description": "Bad Request"}


async def test_codes_expire(sandbox_url: str, http: httpx.AsyncClient, clock: ManualClock) -> None:
    answer = await get_code(http, sandbox_url)
    clock.advance(minutes=11)
    assert (await redeem(http, sandbox_url, answer["code"])).json()["error"] == "invalid_grant"


async def test_the_token_request_must_repeat_the_exact_redirect_uri(
    sandbox_url: str, http: httpx.AsyncClient
) -> None:
    answer = await get_code(http, sandbox_url)
    response = await redeem(
        http, sandbox_url, answer["code"], redirect_uri="http://127.0.0.1:9/other"
    )
    assert response.json() == {"error": "redirect_uri_mismatch", "error_description": "Bad Request"}


@pytest.mark.parametrize(
    ("challenge_method", "send", "description"),
    [
        ("S256", None, "Missing code verifier."),
        ("S256", "wrong", "Invalid code verifier."),
        (None, "unexpected", "code_verifier or verifier is not needed."),
    ],
)
async def test_pkce_is_enforced_with_googles_messages(
    sandbox_url: str,
    http: httpx.AsyncClient,
    challenge_method: str | None,
    send: str | None,
    description: str,
) -> None:
    _, challenge = pkce_pair()
    extra = (
        {"code_challenge": challenge, "code_challenge_method": challenge_method}
        if (challenge_method)
        else {}
    )
    answer = await get_code(http, sandbox_url, **extra)
    form = (
        {"code_verifier": pkce_pair()[0]}
        if send == "wrong"
        else ({"code_verifier": send} if send else {})
    )
    response = await redeem(http, sandbox_url, answer["code"], **form)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": description}


@pytest.mark.parametrize("method", ["S256", "plain"])
async def test_a_matching_verifier_gets_tokens(
    sandbox_url: str, http: httpx.AsyncClient, method: str
) -> None:
    verifier, challenge = pkce_pair()
    answer = await get_code(
        http,
        sandbox_url,
        code_challenge=challenge if method == "S256" else verifier,
        code_challenge_method=method,
    )
    response = await redeem(http, sandbox_url, answer["code"], code_verifier=verifier)
    assert response.status_code == 200


# -- client authentication ------------------------------------------------------------------------
async def test_client_authentication_errors_and_basic_auth(
    sandbox_url: str, http: httpx.AsyncClient
) -> None:
    answer = await get_code(http, sandbox_url)
    wrong = await redeem(http, sandbox_url, answer["code"], client_secret="nope")
    assert (wrong.status_code, wrong.json()) == (
        401,
        {"error": "invalid_client", "error_description": "Unauthorized"},
    )
    unknown = await redeem(http, sandbox_url, answer["code"], client_id="who")
    assert unknown.json()["error_description"] == "The OAuth client was not found."
    answer = await get_code(http, sandbox_url)
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    response = await http.post(
        f"{sandbox_url}/token",
        headers={"Authorization": f"Basic {basic}"},
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": REDIRECT_URI,
        },
    )
    assert response.status_code == 200


# -- offline access, consent and refresh ----------------------------------------------------------
async def test_a_refresh_token_only_with_offline_access(
    sandbox_url: str, http: httpx.AsyncClient
) -> None:
    online = await tokens(http, sandbox_url, access_type=None)
    assert "refresh_token" not in online


async def test_reconsent_without_prompt_consent_gives_no_new_refresh_token(
    sandbox_url: str, http: httpx.AsyncClient
) -> None:
    first = await tokens(http, sandbox_url)
    assert "refresh_token" in first
    second = await tokens(http, sandbox_url)
    assert "refresh_token" not in second
    forced = await tokens(http, sandbox_url, prompt="consent")
    assert forced["refresh_token"] != first["refresh_token"]
    # Google keeps the older refresh token alive beside the new one.
    assert (await refresh(http, sandbox_url, first["refresh_token"])).status_code == 200


async def test_include_granted_scopes_adds_earlier_grants_to_the_token(
    sandbox_url: str, http: httpx.AsyncClient
) -> None:
    await tokens(http, sandbox_url)
    narrow = await tokens(http, sandbox_url, scope="openid email", scopes=())
    assert CALENDAR_EVENTS_SCOPE not in narrow["scope"]
    wide = await tokens(
        http, sandbox_url, scope="openid email", scopes=(), include_granted_scopes="true"
    )
    assert CALENDAR_EVENTS_SCOPE in wide["scope"].split()


async def test_refresh_answers_in_googles_shape_without_rotating(
    sandbox_url: str, http: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    first = await tokens(http, sandbox_url)
    assert first["token_type"] == "Bearer" and first["expires_in"] == 3599
    response = await refresh(http, sandbox_url, first["refresh_token"])
    body = response.json()
    assert "no-store" in response.headers["cache-control"]
    assert set(body) == {"access_token", "expires_in", "scope", "token_type", "id_token"}
    claims = json.loads(base64.urlsafe_b64decode(body["id_token"].split(".")[1] + "=="))
    alice = sandbox.account_by_email("alice@example.com")
    assert alice is not None
    assert (claims["sub"], claims["email"], claims["aud"]) == (alice.sub, alice.email, CLIENT_ID)
    assert sandbox.refresh_calls == 1


async def test_a_refresh_token_unused_for_six_months_dies(
    sandbox_url: str, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    first = await tokens(http, sandbox_url)
    clock.advance(days=150)
    assert (await refresh(http, sandbox_url, first["refresh_token"])).status_code == 200
    clock.advance(days=184)
    dead = await refresh(http, sandbox_url, first["refresh_token"])
    assert dead.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }


def test_only_the_newest_hundred_refresh_tokens_of_a_grant_live(sandbox: SandboxState) -> None:
    issued = [sandbox.issue_refresh_token(CLIENT_ID, "1234", frozenset()) for _ in range(101)]
    assert issued[0].token not in sandbox.refresh_tokens
    assert all(t.token in sandbox.refresh_tokens for t in issued[1:])


# -- revoke and userinfo --------------------------------------------------------------------------
async def test_revoking_the_access_token_kills_the_whole_grant(
    sandbox_url: str, http: httpx.AsyncClient
) -> None:
    first = await tokens(http, sandbox_url)
    response = await http.post(f"{sandbox_url}/revoke?token={first['access_token']}")
    assert response.status_code == 200
    assert (await refresh(http, sandbox_url, first["refresh_token"])).json()["error"] == (
        "invalid_grant"
    )
    info = await http.get(
        f"{sandbox_url}/v1/userinfo", headers={"Authorization": f"Bearer {first['access_token']}"}
    )
    assert info.status_code == 401
    again = await http.post(f"{sandbox_url}/revoke", data={"token": first["refresh_token"]})
    assert again.json() == {
        "error": "invalid_token",
        "error_description": "Token expired or revoked",
    }


async def test_userinfo_gives_sub_email_and_hosted_domain(
    sandbox_url: str, http: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    first = await tokens(http, sandbox_url)
    info = (
        await http.get(
            f"{sandbox_url}/v1/userinfo",
            headers={"Authorization": f"Bearer {first['access_token']}"},
        )
    ).json()
    alice = sandbox.account_by_email("alice@example.com")
    assert alice is not None
    assert info == {
        "sub": alice.sub,
        "email": alice.email,
        "email_verified": True,
        "hd": "example.com",
    }  # no name: the profile scope was not asked for
    personal = await tokens(http, sandbox_url, account="carol.personal@gmail.com", prompt="consent")
    info = (
        await http.get(
            f"{sandbox_url}/v1/userinfo",
            headers={"Authorization": f"Bearer {personal['access_token']}"},
        )
    ).json()
    assert "hd" not in info
