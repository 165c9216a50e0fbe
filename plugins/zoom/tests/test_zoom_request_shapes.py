"""The exact requests the plugin sends to Zoom (respx), checked against Zoom's published spec."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from zoom_harness import REDIRECT_URI, FakeClock, meeting_request, zoom_settings
from zoom_spec import problems, request_schema

from meetbridge.plugins import PluginHost, build_plugin_host
from meetbridge.providers import (
    ConnectFailed,
    DeleteOutcome,
    GrantRevoked,
    InsufficientScope,
    MeetingGone,
    MeetingRef,
    ProviderContext,
    ProviderError,
    ProviderUnavailable,
    Secret,
    TokenSet,
    WrongCredential,
)
from meetbridge.testing.credentials import MemoryCredentials
from meetbridge_zoom.info import ENDPOINTS
from meetbridge_zoom.sandbox import (
    DEFAULT_ADMIN_CLIENT_ID,
    DEFAULT_ADMIN_CLIENT_SECRET,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
)

API = ENDPOINTS["api_base_url"]
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
MEETING = {
    "id": 85123456789012,
    "uuid": "aBcD1234eFgH5678iJkL==",
    "host_id": "L1censedLenaTO8WbOqwIQ",
    "join_url": "https://us05web.zoom.us/j/85123456789012?pwd=x",
    "start_url": "https://us05web.zoom.us/s/85123456789012?zak=secret-zak",
    "password": "a1b2c3",
    "start_time": "2026-03-09T14:00:00Z",
    "timezone": "America/New_York",
    "settings": {"global_dial_in_numbers": [{"number": "+1 646 558 8656", "country": "US"}]},
}


@pytest.fixture
def host() -> PluginHost:
    return build_plugin_host(env={})


@pytest.fixture
async def context(host: PluginHost) -> AsyncIterator[ProviderContext]:
    async with httpx.AsyncClient() as client:
        settings = zoom_settings({})  # the real Zoom endpoints (ProviderInfo defaults)
        yield ProviderContext(
            settings=settings.provider(host.provider("zoom")), http=client, clock=FakeClock(NOW)
        )


def fresh_tokens(access: str = "access-1", refresh: str = "refresh-1", **extra: Any) -> TokenSet:
    return TokenSet(
        access_token=Secret(access),
        refresh_token=Secret(refresh),
        expires_at=NOW + timedelta(hours=1),
        extra=extra,
    )


def credentials(refreshes: list[str] | None = None) -> MemoryCredentials:
    """Credentials whose refresh hands out the next access token from ``refreshes``."""
    pending = list(refreshes or [])

    def refresh(current: TokenSet) -> TokenSet:
        return fresh_tokens(pending.pop(0), "refresh-next")

    return MemoryCredentials(
        fresh_tokens(), refresh, external_account_id="L1censedLenaTO8WbOqwIQ", clock=lambda: NOW
    )


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def form(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.content.decode())


async def call(host: PluginHost, hook: str, **kwargs: Any) -> Any:
    return await host.call(hook, "zoom", **kwargs)


# -- connect -------------------------------------------------------------------------------------


async def test_authorization_url_has_pkce_and_state_but_no_scope(host, context):
    start = await call(
        host,
        "authorization_url",
        context=context,
        redirect_uri=REDIRECT_URI,
        state="st-1",
        code_challenge="ch-1",
        account_level=False,
    )
    url = urlsplit(start.url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://zoom.us/oauth/authorize"
    assert parse_qs(url.query) == {
        "response_type": ["code"],
        "client_id": [DEFAULT_CLIENT_ID],
        "redirect_uri": [REDIRECT_URI],
        "state": ["st-1"],
        "code_challenge": ["ch-1"],
        "code_challenge_method": ["S256"],
    }


async def test_account_level_authorization_uses_the_admin_managed_app(host, context):
    start = await call(
        host,
        "authorization_url",
        context=context,
        redirect_uri=REDIRECT_URI,
        state="s",
        code_challenge="c",
        account_level=True,
    )
    assert parse_qs(urlsplit(start.url).query)["client_id"] == [DEFAULT_ADMIN_CLIENT_ID]


@respx.mock
async def test_connect_exchanges_the_code_with_basic_auth_and_reads_users_me(host, context):
    token = respx.post("https://zoom.us/oauth/token").respond(
        200,
        json={
            "access_token": "at",
            "token_type": "bearer",
            "refresh_token": "rt",
            "expires_in": 3599,
            "scope": "meeting:write:meeting user:read:user",
            "api_url": "https://api.zoom.us",
        },
    )
    me = respx.get(f"{API}/users/me").respond(
        200,
        json={
            "id": "u1",
            "email": "lena@example.com",
            "type": 1,
            "role_name": "Member",
            "account_id": "acc1",
            "timezone": "Europe/Paris",
        },
    )
    account = await call(
        host,
        "connect",
        context=context,
        code="the-code",
        redirect_uri=REDIRECT_URI,
        code_verifier="v" * 43,
        account_level=False,
    )
    sent = token.calls.last.request
    assert sent.headers["authorization"] == basic(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    assert form(sent) == {
        "grant_type": ["authorization_code"],
        "code": ["the-code"],
        "redirect_uri": [REDIRECT_URI],
        "code_verifier": ["v" * 43],
    }
    assert "client_secret" not in sent.content.decode()
    assert me.calls.last.request.headers["authorization"] == "Bearer at"
    assert (account.external_account_id, account.email, account.organization_id) == (
        "u1",
        "lena@example.com",
        "acc1",
    )
    assert account.account_type == "basic" and not account.is_admin
    assert account.tokens.scope == ("meeting:write:meeting", "user:read:user")
    assert account.tokens.expires_at == NOW + timedelta(seconds=3599)
    assert account.extra["connected_at"] == NOW.isoformat()


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, {"reason": "Invalid authorization code", "error": "invalid_grant"}, "expired"),
        (400, {"reason": "Invalid redirect uri.", "error": "invalid_request"}, REDIRECT_URI),
        (
            401,
            {"reason": "Invalid client_id or client_secret", "error": "invalid_client"},
            "client id and secret",
        ),
        (400, {"reason": "Invalid code_verifier.", "error": "invalid_request"}, "PKCE"),
    ],
)
@respx.mock
async def test_connect_failures_are_explained(host, context, status, body, expected):
    respx.post("https://zoom.us/oauth/token").respond(status, json=body)
    with pytest.raises(ConnectFailed) as failure:
        await call(
            host,
            "connect",
            context=context,
            code="c",
            redirect_uri=REDIRECT_URI,
            code_verifier="v",
            account_level=False,
        )
    assert expected in failure.value.message


# -- tokens --------------------------------------------------------------------------------------


@respx.mock
async def test_refresh_posts_the_refresh_token_with_basic_auth_and_keeps_the_new_one(host, context):
    route = respx.post("https://zoom.us/oauth/token").respond(
        200,
        json={
            "access_token": "at-2",
            "token_type": "bearer",
            "refresh_token": "rt-2",
            "expires_in": 3599,
            "scope": "meeting:write:meeting",
        },
    )
    new = await call(
        host,
        "refresh_credentials",
        context=context,
        tokens=fresh_tokens(meetbridge_app="account_level"),
    )
    sent = route.calls.last.request
    assert sent.headers["authorization"] == basic(
        DEFAULT_ADMIN_CLIENT_ID, DEFAULT_ADMIN_CLIENT_SECRET
    )
    assert form(sent) == {"grant_type": ["refresh_token"], "refresh_token": ["refresh-1"]}
    assert new.refresh_token == Secret("rt-2") and new.access_token == Secret("at-2")
    assert new.extra["meetbridge_app"] == "account_level"


@pytest.mark.parametrize(
    "body",
    [
        {"reason": "Invalid Token!", "error": "invalid_grant"},
        {"reason": "Invalid Token!", "error": "invalid_request"},
    ],
)
@respx.mock
async def test_a_dead_grant_is_grant_revoked_with_the_reason(host, context, body):
    respx.post("https://zoom.us/oauth/token").respond(400, json=body)
    with pytest.raises(GrantRevoked) as failure:
        await call(host, "refresh_credentials", context=context, tokens=fresh_tokens())
    assert "Invalid Token!" in failure.value.message
    assert failure.value.provider_code == body["error"]
    assert "refresh-1" not in str(failure.value)


@respx.mock
async def test_a_misconfigured_client_is_not_mistaken_for_a_dead_grant(host, context):
    respx.post("https://zoom.us/oauth/token").respond(
        401, json={"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
    )
    with pytest.raises(ProviderError) as failure:
        await call(host, "refresh_credentials", context=context, tokens=fresh_tokens())
    assert not isinstance(failure.value, GrantRevoked)


@respx.mock
async def test_401_code_124_refreshes_once_and_retries_once(host, context):
    route = respx.get(f"{API}/meetings/85123456789012")
    route.side_effect = [
        httpx.Response(401, json={"code": 124, "message": "Access token is expired."}),
        httpx.Response(200, json=MEETING),
    ]
    creds = credentials(["access-2"])
    link = await call(
        host,
        "get_host_join_url",
        context=context,
        meeting=MeetingRef("85123456789012"),
        credentials=creds,
    )
    assert link == Secret(MEETING["start_url"])
    assert creds.refresh_count == 1
    assert [c.request.headers["authorization"] for c in route.calls] == [
        "Bearer access-1",
        "Bearer access-2",
    ]


@respx.mock
async def test_a_token_rejected_after_refreshing_fails_clearly(host, context):
    route = respx.get(f"{API}/meetings/1").respond(
        401, json={"code": 124, "message": "Invalid access token."}
    )
    creds = credentials(["access-2", "access-3"])
    with pytest.raises(GrantRevoked) as failure:
        await call(
            host, "get_host_join_url", context=context, meeting=MeetingRef("1"), credentials=creds
        )
    assert "keeps rejecting" in failure.value.message and "reconnect" in failure.value.message
    assert creds.refresh_count == 1 and route.call_count == 2


# -- meetings ------------------------------------------------------------------------------------


@respx.mock
async def test_create_body_matches_zoom_spec_and_meetbridge_requirements(host, context):
    route = respx.post(f"{API}/users/me/meetings").respond(201, json=MEETING)
    request = meeting_request(
        topic="T" * 250, agenda="About the course.", settings={"auto_recording": "cloud"}
    )
    meeting = await call(
        host, "create_meeting", context=context, request=request, credentials=credentials()
    )
    sent = route.calls.last.request
    assert sent.headers["authorization"] == "Bearer access-1"
    body = json.loads(sent.content)
    assert problems(request_schema("/users/{userId}/meetings", "post"), body) == []
    assert body["type"] == 2 and body["duration"] == 30
    assert body["start_time"] == "2026-03-09T14:00:00Z"  # the UTC instant, with Z
    assert body["timezone"] == "America/New_York"
    assert body["topic"] == "T" * 200
    assert body["agenda"].splitlines() == ["[meetbridge:booking-1]", "About the course."]
    assert body["settings"] == {
        "waiting_room": True,
        "join_before_host": False,
        "auto_recording": "cloud",
    }
    assert meeting.external_id == "85123456789012"
    assert meeting.host_start_url == Secret(MEETING["start_url"])
    assert meeting.passcode == "a1b2c3" and meeting.dial_in == ("+1 646 558 8656 (US)",)
    assert meeting.extra["uuid"] == MEETING["uuid"] and meeting.extra["host_id"]
    assert "secret-zak" not in repr(meeting)


@respx.mock
async def test_account_level_create_goes_to_the_members_meetings(host, context):
    route = respx.post(f"{API}/users/bo.basic@example.com/meetings").respond(201, json=MEETING)
    await call(
        host,
        "create_meeting",
        context=context,
        request=meeting_request(host_user="bo.basic@example.com"),
        credentials=credentials(),
    )
    assert route.called


@respx.mock
async def test_update_patches_with_a_spec_valid_body_then_reads_the_meeting(host, context):
    patch = respx.patch(f"{API}/meetings/85123456789012").respond(204)
    get = respx.get(f"{API}/meetings/85123456789012").respond(200, json=MEETING)
    meeting = await call(
        host,
        "update_meeting",
        context=context,
        meeting=MeetingRef("85123456789012"),
        request=meeting_request(start=datetime(2026, 3, 10, 15, tzinfo=UTC)),
        credentials=credentials(),
    )
    body = json.loads(patch.calls.last.request.content)
    assert problems(request_schema("/meetings/{meetingId}", "patch"), body) == []
    assert body["start_time"] == "2026-03-10T15:00:00Z"
    assert get.called and meeting.join_url == MEETING["join_url"]


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (204, None, DeleteOutcome.DELETED),
        (
            404,
            {"code": 3001, "message": "Meeting 1 is not found or has expired."},
            DeleteOutcome.ALREADY_GONE,
        ),
    ],
)
@respx.mock
async def test_delete_outcomes(host, context, status, body, outcome):
    route = respx.delete(f"{API}/meetings/1").respond(status, json=body)
    result = await call(
        host, "delete_meeting", context=context, meeting=MeetingRef("1"), credentials=credentials()
    )
    assert result is outcome
    assert route.calls.last.request.headers["authorization"] == "Bearer access-1"


@respx.mock
async def test_delete_by_someone_not_the_host_is_a_wrong_credential(host, context):
    respx.delete(f"{API}/meetings/1").respond(
        400, json={"code": 3003, "message": "You are not the meeting host."}
    )
    with pytest.raises(WrongCredential):
        await call(
            host,
            "delete_meeting",
            context=context,
            meeting=MeetingRef("1"),
            credentials=credentials(),
        )


@respx.mock
async def test_update_of_a_vanished_meeting_is_meeting_gone(host, context):
    respx.patch(f"{API}/meetings/1").respond(
        404, json={"code": 3001, "message": "Meeting 1 is not found or has expired."}
    )
    with pytest.raises(MeetingGone):
        await call(
            host,
            "update_meeting",
            context=context,
            meeting=MeetingRef("1"),
            request=meeting_request(),
            credentials=credentials(),
        )


@respx.mock
async def test_missing_scope_is_insufficient_scope_naming_it(host, context):
    respx.post(f"{API}/users/me/meetings").respond(
        400,
        json={
            "code": 4711,
            "message": "Invalid access token, does not contain scopes:[meeting:write:meeting].",
        },
    )
    with pytest.raises(InsufficientScope) as failure:
        await call(
            host,
            "create_meeting",
            context=context,
            request=meeting_request(),
            credentials=credentials(),
        )
    assert "meeting:write:meeting" in failure.value.message


# -- transport -----------------------------------------------------------------------------------


@respx.mock
async def test_a_5xx_is_retryable_and_keeps_retry_after(host, context):
    respx.post(f"{API}/users/me/meetings").respond(
        503, headers={"Retry-After": "7"}, json={"code": 503, "message": "down"}
    )
    with pytest.raises(ProviderUnavailable) as failure:
        await call(
            host,
            "create_meeting",
            context=context,
            request=meeting_request(),
            credentials=credentials(),
        )
    assert failure.value.retry_after == 7 and not failure.value.ambiguous


@pytest.mark.parametrize(
    ("error", "ambiguous"),
    [
        (httpx.ConnectError("refused"), False),
        (httpx.ReadTimeout("slow"), True),
        (httpx.RemoteProtocolError("peer closed"), True),
    ],
)
@respx.mock
async def test_network_failures_say_whether_zoom_may_have_acted(host, context, error, ambiguous):
    respx.post(f"{API}/users/me/meetings").mock(side_effect=error)
    with pytest.raises(ProviderUnavailable) as failure:
        await call(
            host,
            "create_meeting",
            context=context,
            request=meeting_request(),
            credentials=credentials(),
        )
    assert failure.value.ambiguous is ambiguous


# -- revoke --------------------------------------------------------------------------------------


@respx.mock
async def test_disconnect_revokes_with_basic_auth(host, context):
    route = respx.post("https://zoom.us/oauth/revoke").respond(200, json={"status": "success"})
    assert await call(host, "disconnect", context=context, tokens=fresh_tokens()) is True
    sent = route.calls.last.request
    assert sent.headers["authorization"] == basic(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    assert form(sent) == {"token": ["access-1"]}


@respx.mock
async def test_disconnect_falls_back_to_the_refresh_token(host, context):
    route = respx.post("https://zoom.us/oauth/revoke")
    route.side_effect = [
        httpx.Response(400, json={"reason": "Invalid Token!", "error": "invalid_request"}),
        httpx.Response(200, json={"status": "success"}),
    ]
    assert await call(host, "disconnect", context=context, tokens=fresh_tokens()) is True
    assert [form(c.request)["token"] for c in route.calls] == [["access-1"], ["refresh-1"]]


@pytest.mark.parametrize(
    "answer",
    [httpx.ConnectError("down"), httpx.ReadTimeout("slow"), httpx.Response(500, text="oops")],
)
@respx.mock
async def test_disconnect_never_raises(host, context, answer):
    respx.post("https://zoom.us/oauth/revoke").mock(side_effect=[answer, answer])
    assert await call(host, "disconnect", context=context, tokens=fresh_tokens()) is False
