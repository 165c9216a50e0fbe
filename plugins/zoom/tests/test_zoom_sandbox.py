"""The sandbox's own fidelity to Zoom, spoken to with plain HTTP (no plugin involved)."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from zoom_harness import ADMIN, BASIC, LICENSED, REDIRECT_URI
from zoom_spec import ROOMS_SPEC, problems, request_schema, response_schema

from meetbridge.testing.server import serve_in_thread
from meetbridge_zoom import webhooks
from meetbridge_zoom.sandbox import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    SandboxState,
    create_app,
)

# A dropped connection reaches the client as either error, depending on whether the
# close races the request write (ECONNRESET) or follows it (no response).
DROPPED = (httpx.RemoteProtocolError, httpx.ReadError)

AUTH = (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
VERIFIER = "v" * 50
CHALLENGE = (
    base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
)


async def authorize(http, url, email=LICENSED, **overrides) -> str:
    """Walk the consent form as a browser would; return the code."""
    params = {
        "response_type": "code",
        "client_id": DEFAULT_CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "state": "xyz",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        **overrides,
    }
    page = await http.get(f"{url}/oauth/authorize", params=params)
    assert page.status_code == 200 and "Allow" in page.text and "Deny" in page.text
    answer = await http.post(
        f"{url}/oauth/authorize", data={**params, "user": email, "decision": "allow"}
    )
    assert answer.status_code == 302
    return httpx.URL(answer.headers["location"]).params["code"]


async def exchange(http, url, code, **overrides) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": VERIFIER,
        **overrides,
    }
    return await http.post(f"{url}/oauth/token", data=data, auth=AUTH)


async def token_for(http, url, email=LICENSED) -> dict:
    return (await exchange(http, url, await authorize(http, url, email))).json()


def bearer(token: dict) -> dict:
    return {"Authorization": f"Bearer {token['access_token']}"}


BODY = {
    "topic": "Call",
    "type": 2,
    "start_time": "2026-03-09T14:00:00Z",
    "duration": 30,
    "timezone": "America/New_York",
    "agenda": "[meetbridge:k]",
    "settings": {"waiting_room": True},
}


# -- OAuth ---------------------------------------------------------------------------------------


async def test_the_token_response_has_zooms_shape(http, sandbox_url):
    token = await token_for(http, sandbox_url)
    assert set(token) == {
        "access_token",
        "token_type",
        "refresh_token",
        "expires_in",
        "scope",
        "api_url",
    }
    assert token["token_type"] == "bearer" and token["expires_in"] == 3599
    assert token["scope"].split() == [
        "meeting:write:meeting",
        "meeting:update:meeting",
        "meeting:delete:meeting",
        "meeting:read:meeting",
        "meeting:read:list_meetings",
        "user:read:user",
    ]


async def test_codes_are_single_use_and_live_five_minutes(http, sandbox_url, clock):
    code = await authorize(http, sandbox_url)
    assert (await exchange(http, sandbox_url, code)).status_code == 200
    again = await exchange(http, sandbox_url, code)
    assert again.status_code == 400
    assert again.json() == {"reason": "Invalid authorization code", "error": "invalid_grant"}

    late = await authorize(http, sandbox_url)
    clock.advance(minutes=5, seconds=1)
    assert (await exchange(http, sandbox_url, late)).json()["error"] == "invalid_grant"


async def test_pkce_and_redirect_uri_are_checked(http, sandbox_url):
    code = await authorize(http, sandbox_url)
    wrong = await exchange(http, sandbox_url, code, code_verifier="w" * 50)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_request"
    other = await authorize(http, sandbox_url)
    moved = await exchange(http, sandbox_url, other, redirect_uri=REDIRECT_URI + "/")
    assert moved.status_code == 400 and "redirect" in moved.json()["reason"]


async def test_the_token_endpoint_wants_basic_client_auth(http, sandbox_url):
    code = await authorize(http, sandbox_url)
    response = await http.post(
        f"{sandbox_url}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": VERIFIER,
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
        },
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


async def test_refresh_tokens_rotate_and_the_old_one_dies_at_once(http, sandbox_url, state):
    token = await token_for(http, sandbox_url)
    refresh = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    first = await http.post(f"{sandbox_url}/oauth/token", data=refresh, auth=AUTH)
    assert first.status_code == 200 and first.json()["refresh_token"] != token["refresh_token"]
    second = await http.post(f"{sandbox_url}/oauth/token", data=refresh, auth=AUTH)
    assert second.status_code == 400
    assert second.json() == {"reason": "Invalid Token!", "error": "invalid_grant"}
    assert state.refresh_calls == 1


async def test_a_new_authorization_revokes_the_users_older_tokens(http, sandbox_url):
    old = await token_for(http, sandbox_url)
    await token_for(http, sandbox_url)
    me = await http.get(f"{sandbox_url}/v2/users/me", headers=bearer(old))
    assert me.status_code == 401 and me.json()["code"] == 124


async def test_revoke_kills_the_grant(http, sandbox_url):
    token = await token_for(http, sandbox_url)
    revoked = await http.post(
        f"{sandbox_url}/oauth/revoke", auth=AUTH, data={"token": token["access_token"]}
    )
    assert revoked.json() == {"status": "success"}
    me = await http.get(f"{sandbox_url}/v2/users/me", headers=bearer(token))
    assert me.json() == {"code": 124, "message": "Invalid access token."}


async def test_denying_consent_redirects_with_access_denied(http, sandbox_url):
    answer = await http.post(
        f"{sandbox_url}/oauth/authorize",
        data={
            "response_type": "code",
            "client_id": DEFAULT_CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "state": "s1",
            "decision": "deny",
        },
    )
    assert answer.status_code == 302
    assert answer.headers["location"] == f"{REDIRECT_URI}?error=access_denied&state=s1"


async def test_a_member_authorizing_an_admin_app_gets_no_admin_scopes(http, sandbox_url, state):
    from meetbridge_zoom.sandbox import DEFAULT_ADMIN_CLIENT_ID

    admin_app = state.apps[DEFAULT_ADMIN_CLIENT_ID]
    assert all(s.endswith(":admin") for s in admin_app.scopes)
    member = state.grant_tokens(LICENSED, client_id=DEFAULT_ADMIN_CLIENT_ID)
    assert not any(s.endswith(":admin") for s in member["scope"].split())
    admin = state.grant_tokens(ADMIN, client_id=DEFAULT_ADMIN_CLIENT_ID)
    assert admin["scope"].split() == list(admin_app.scopes)


# -- API -----------------------------------------------------------------------------------------


async def test_access_tokens_expire_after_3599_seconds_with_code_124(http, sandbox_url, clock):
    token = await token_for(http, sandbox_url)
    clock.advance(seconds=3599)
    me = await http.get(f"{sandbox_url}/v2/users/me", headers=bearer(token))
    assert me.status_code == 401
    assert me.json() == {"code": 124, "message": "Access token is expired."}


async def test_users_me_and_the_meeting_answers_match_zooms_spec(http, sandbox_url):
    token = await token_for(http, sandbox_url)
    me = (await http.get(f"{sandbox_url}/v2/users/me", headers=bearer(token))).json()
    assert problems(response_schema("/users/{userId}", "get", "200"), me) == []
    assert {"id", "email", "type", "role_name", "account_id", "timezone"} <= set(me)

    created = await http.post(
        f"{sandbox_url}/v2/users/me/meetings", json=BODY, headers=bearer(token)
    )
    assert created.status_code == 201
    body = created.json()
    # The spec's 201 schema omits uuid, host_id and status, which real responses carry.
    documented = {k: v for k, v in body.items() if k not in {"uuid", "host_id", "status"}}
    assert problems(response_schema("/users/{userId}/meetings", "post", "201"), documented) == []
    fetched = (
        await http.get(f"{sandbox_url}/v2/meetings/{body['id']}", headers=bearer(token))
    ).json()
    assert problems(response_schema("/meetings/{meetingId}", "get", "200"), fetched) == []


def test_the_spec_checker_catches_wrong_names_and_lengths():
    schema = request_schema("/users/{userId}/meetings", "post")
    assert problems(schema, {**BODY, "settings": {"waitingroom": True}})
    assert problems(schema, {**BODY, "topic": "x" * 201})
    assert problems(schema, {**BODY, "type": "2"})
    assert problems(schema, BODY) == []


async def test_wall_times_without_z_are_read_in_the_meetings_timezone(http, sandbox_url, state):
    token = await token_for(http, sandbox_url)
    local = {**BODY, "start_time": "2026-03-09T10:00:00"}  # 10:00 in New York (EDT)
    created = (
        await http.post(f"{sandbox_url}/v2/users/me/meetings", json=local, headers=bearer(token))
    ).json()
    assert created["start_time"] == "2026-03-09T14:00:00Z"
    offset = {**BODY, "start_time": "2026-03-09T10:00:00-04:00"}
    refused = await http.post(
        f"{sandbox_url}/v2/users/me/meetings", json=offset, headers=bearer(token)
    )
    assert refused.status_code == 400 and refused.json()["code"] == 300


async def test_validation_errors_have_zooms_shape(http, sandbox_url):
    token = await token_for(http, sandbox_url)
    refused = await http.post(
        f"{sandbox_url}/v2/users/me/meetings",
        json={**BODY, "topic": "x" * 201},
        headers=bearer(token),
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == 300 and refused.json()["errors"][0]["field"] == "topic"


async def test_meeting_errors_3001_3003_and_4711(http, sandbox_url, state):
    lena = await token_for(http, sandbox_url)
    bo = await token_for(http, sandbox_url, BASIC)
    meeting = (
        await http.post(f"{sandbox_url}/v2/users/me/meetings", json=BODY, headers=bearer(lena))
    ).json()
    not_host = await http.delete(f"{sandbox_url}/v2/meetings/{meeting['id']}", headers=bearer(bo))
    assert not_host.status_code == 400
    assert not_host.json() == {"code": 3003, "message": "You are not the meeting host."}
    gone = await http.patch(
        f"{sandbox_url}/v2/meetings/123", json={"topic": "x"}, headers=bearer(lena)
    )
    assert gone.status_code == 404 and gone.json()["code"] == 3001
    narrow = state.grant_tokens(LICENSED, scopes=["user:read:user"])
    scoped = await http.post(
        f"{sandbox_url}/v2/users/me/meetings", json=BODY, headers=bearer(narrow)
    )
    assert scoped.status_code == 400
    assert scoped.json() == {
        "code": 4711,
        "message": "Invalid access token, does not contain"
        " scopes:[meeting:write:meeting, meeting:write:meeting:admin].",
    }
    classic = state.grant_tokens(LICENSED, scopes=["user:read"])
    old_style = await http.post(
        f"{sandbox_url}/v2/users/me/meetings", json=BODY, headers=bearer(classic)
    )
    assert "[meeting:write, meeting:write:admin]" in old_style.json()["message"]


async def test_update_is_204_and_delete_is_204_then_3001(http, sandbox_url):
    token = await token_for(http, sandbox_url)
    meeting = (
        await http.post(f"{sandbox_url}/v2/users/me/meetings", json=BODY, headers=bearer(token))
    ).json()
    url = f"{sandbox_url}/v2/meetings/{meeting['id']}"
    assert (await http.patch(url, json={"duration": 45}, headers=bearer(token))).status_code == 204
    assert (await http.get(url, headers=bearer(token))).json()["duration"] == 45
    assert (await http.delete(url, headers=bearer(token))).status_code == 204
    assert (await http.delete(url, headers=bearer(token))).json()["code"] == 3001


async def test_listing_upcoming_meetings_pages_and_truncates_agendas(http, sandbox_url, clock):
    token = await token_for(http, sandbox_url)
    for i in range(5):
        await http.post(
            f"{sandbox_url}/v2/users/me/meetings",
            headers=bearer(token),
            json={**BODY, "agenda": f"{i}" * 400},
        )
    past = {**BODY, "start_time": "2026-03-01T10:00:00Z"}  # before the clock: not upcoming
    await http.post(f"{sandbox_url}/v2/users/me/meetings", json=past, headers=bearer(token))
    first = (
        await http.get(
            f"{sandbox_url}/v2/users/me/meetings",
            headers=bearer(token),
            params={"type": "upcoming", "page_size": 3},
        )
    ).json()
    assert len(first["meetings"]) == 3 and first["total_records"] == 5
    assert all(len(m["agenda"]) == 250 for m in first["meetings"])
    rest = (
        await http.get(
            f"{sandbox_url}/v2/users/me/meetings",
            headers=bearer(token),
            params={
                "type": "upcoming",
                "page_size": 3,
                "next_page_token": first["next_page_token"],
            },
        )
    ).json()
    assert len(rest["meetings"]) == 2 and rest["next_page_token"] == ""


async def test_rooms_need_an_admin_token_and_match_the_spec(http, sandbox_url, state):
    member = await token_for(http, sandbox_url)
    assert (await http.get(f"{sandbox_url}/v2/rooms", headers=bearer(member))).json()[
        "code"
    ] == 4711
    admin = state.grant_tokens(ADMIN, client_id="sandbox-zoom-admin-client")
    rooms = (await http.get(f"{sandbox_url}/v2/rooms", headers=bearer(admin))).json()
    assert [r["name"] for r in rooms["rooms"]] == ["Boardroom", "Huddle Room"]
    assert problems(response_schema("/rooms", "get", "200", ROOMS_SPEC), rooms) == []


async def test_qps_limits_follow_the_accounts_plan(http, sandbox_url, state):
    state.accounts["SbxAcct1Q2uLZwqf0wM0bA"].plan = "free"  # 2 creates per second
    token = await token_for(http, sandbox_url)
    answers = [
        await http.post(f"{sandbox_url}/v2/users/me/meetings", json=BODY, headers=bearer(token))
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [201, 201, 429]
    limited = answers[-1]
    assert limited.headers["x-ratelimit-type"] == "QPS"
    assert limited.headers["x-ratelimit-category"] == "Medium"
    assert limited.headers["x-ratelimit-limit"] == "2"
    assert limited.json()["code"] == 429


async def test_the_daily_cap_counts_creates_and_updates_per_host(http, sandbox_url, state, clock):
    state.daily_cap = 2
    token = await token_for(http, sandbox_url)
    made = (
        await http.post(f"{sandbox_url}/v2/users/me/meetings", json=BODY, headers=bearer(token))
    ).json()
    await http.patch(
        f"{sandbox_url}/v2/meetings/{made['id']}", json={"duration": 20}, headers=bearer(token)
    )
    capped = await http.post(
        f"{sandbox_url}/v2/users/me/meetings", json=BODY, headers=bearer(token)
    )
    assert capped.status_code == 429
    assert capped.headers["x-ratelimit-type"] == "Daily-limit"
    assert capped.headers["retry-after"] == "2026-03-03T00:00:00Z"
    assert "daily rate limit (2)" in capped.json()["message"]
    other_host = await token_for(http, sandbox_url, BASIC)
    assert (
        await http.post(
            f"{sandbox_url}/v2/users/me/meetings", json=BODY, headers=bearer(other_host)
        )
    ).status_code == 201
    clock.now = datetime(2026, 3, 3, 0, 0, tzinfo=UTC)  # a new UTC day
    token = await token_for(http, sandbox_url)  # (the old access token expired meanwhile)
    assert (
        await http.post(f"{sandbox_url}/v2/users/me/meetings", json=BODY, headers=bearer(token))
    ).status_code == 201


# -- faults, webhooks, mounting ----------------------------------------------------------------


async def test_fault_switches(http, sandbox_url, state):
    token = await token_for(http, sandbox_url)
    url = f"{sandbox_url}/v2/users/me/meetings"
    state.faults.fail_next("/v2/users/me/meetings", "5xx")
    assert (await http.post(url, json=BODY, headers=bearer(token))).status_code == 500
    state.faults.fail_next("/v2/users/me/meetings", "503_retry_after")
    unavailable = await http.post(url, json=BODY, headers=bearer(token))
    assert unavailable.status_code == 503 and unavailable.headers["retry-after"] == "3"
    state.faults.fail_next("/v2/users/me/meetings", "reset_after_acting")
    with pytest.raises(DROPPED):
        await http.post(url, json=BODY, headers=bearer(token))
    assert len(state.live_meetings()) == 1
    state.faults.fail_next("/v2/users/me/meetings", "timeout_after_acting")
    with pytest.raises(httpx.ReadTimeout):
        await http.post(url, json=BODY, headers=bearer(token), timeout=0.2)
    assert len(state.live_meetings()) == 2
    state.faults.fail_next("/v2/users/me", "revoke_grant")
    assert (await http.get(f"{sandbox_url}/v2/users/me", headers=bearer(token))).json()[
        "code"
    ] == 124
    with pytest.raises(ValueError, match="unknown fault"):
        state.faults.fail_next("/", "meteor")


def test_signed_webhooks_verify_with_the_plugins_check(state, clock):
    headers, body = state.signed_webhook("app_deauthorized", {"user_id": "u"})
    assert json.loads(body)["event"] == "app_deauthorized"
    ts = headers["x-zm-request-timestamp"]
    assert ts == str(int(clock().timestamp()))
    assert headers["x-zm-signature"] == webhooks.sign(state.webhook_secret, ts, body)


async def test_the_sandbox_works_mounted_under_a_prefix(http, clock):
    parent = FastAPI()
    sandbox = SandboxState(clock=clock, redirect_uris=[REDIRECT_URI])
    parent.mount("/sandbox/zoom", create_app(sandbox))
    with serve_in_thread(parent) as url:
        base = f"{url}/sandbox/zoom"
        page = await http.get(
            f"{base}/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": DEFAULT_CLIENT_ID,
                "redirect_uri": REDIRECT_URI,
                "state": "s",
            },
        )
        assert f"action='{base}/oauth/authorize'" in page.text
        token = await token_for(http, base)
        assert token["api_url"] == base
        made = (
            await http.post(f"{base}/v2/users/me/meetings", json=BODY, headers=bearer(token))
        ).json()
        assert made["join_url"].startswith(f"{base}/j/")
        assert (await http.get(made["join_url"])).status_code == 200
        sandbox.faults.fail_next("/v2/users/me", "5xx")  # paths are below the mount point
        assert (await http.get(f"{base}/v2/users/me", headers=bearer(token))).status_code == 500


async def test_seeded_world(state):
    assert {u.email for u in state.users.values()} >= {LICENSED, BASIC, ADMIN}
    assert state.user(BASIC).type == 1 and state.user(LICENSED).type == 2
    assert state.user(ADMIN).role_name == "Admin"
    assert state.user(ADMIN).account_id == state.user(BASIC).account_id
    app = state.register_app("mine", "s3cret", ["https://example.com/cb"])
    assert state.apps["mine"] is app
