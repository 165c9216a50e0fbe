"""Request shapes at Microsoft's real URLs (respx): method, path, auth, form and JSON bodies,
and how each answer is mapped. No sandbox here: what goes on the wire is checked directly."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from teams_support import FakeClock, meeting_request

from meetbridge.plugins import build_plugin_host
from meetbridge.providers import (
    AccountLevelNotAllowed,
    Capability,
    ConnectedAccount,
    DeleteOutcome,
    GrantRevoked,
    InsufficientScope,
    MeetingRef,
    ProviderContext,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    Secret,
    TokenSet,
    UnsupportedAccount,
)
from meetbridge.settings import Settings
from meetbridge.testing.credentials import MemoryCredentials
from meetbridge_teams import oauth
from meetbridge_teams.account import preflight_warnings
from meetbridge_teams.plugin import INFO

LOGIN = "https://login.microsoftonline.com/organizations/oauth2/v2.0"
GRAPH = "https://graph.microsoft.com/v1.0"
REDIRECT = "https://meet.example.org/connect/teams/callback"
USER_ID = "a3c5e7f9-1b2d-4f6a-8c0e-2d4f6a8c0e11"
TENANT = "4f1c6a52-7d3e-4b8a-9c21-5e0d7f3a9b10"
MEETING_ID = base64.b64encode(f"1*{USER_ID}*0**19:meeting_abc/d+e@thread.v2".encode()).decode()


def _jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


@pytest.fixture
def host() -> Any:
    return build_plugin_host(env={})


@pytest.fixture
async def context(host: Any) -> Any:
    settings = Settings(
        providers={
            "teams": {
                "client_id": "app-id",
                "client_secret": "s3cr3t-value",
                "redirect_uri": REDIRECT,
            }
        }
    )
    async with httpx.AsyncClient(timeout=2.0) as http:
        yield ProviderContext(
            settings=settings.provider(host.provider("teams")),
            http=http,
            clock=FakeClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC)),
        )


def _tokens(access: str = "at-1", refresh: str = "rt-1") -> TokenSet:
    return TokenSet(
        access_token=Secret(access),
        refresh_token=Secret(refresh),
        expires_at=datetime(2026, 3, 2, 16, 0, tzinfo=UTC),
    )


def _credentials(context: Any, refreshed: str = "at-2") -> MemoryCredentials:
    async def refresh(current: TokenSet) -> TokenSet:
        return _tokens(refreshed, "rt-2")

    return MemoryCredentials(
        _tokens(),
        refresh,
        external_account_id=USER_ID,
        email="adele@contoso.example",
        clock=context.clock,
    )


def _form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def _meeting(**overrides: Any) -> dict[str, Any]:
    body = {
        "id": MEETING_ID,
        "joinWebUrl": "https://teams.microsoft.com/l/meetup-join/x",
        "subject": "Intro call with Sam",
        "externalId": "booking-1",
        "startDateTime": "2026-03-09T14:00:00.0000000Z",
        "endDateTime": "2026-03-09T14:30:00.0000000Z",
        "joinMeetingIdSettings": {
            "joinMeetingId": "123456789012",
            "passcode": "aB3dE9",
            "isPasscodeRequired": True,
        },
        "lobbyBypassSettings": {"scope": "organization", "isDialInBypassEnabled": False},
        "audioConferencing": None,
    }
    body.update(overrides)
    return body


# -- describe / authorize ------------------------------------------------------------------


def test_provider_description(host: Any) -> None:
    info = host.provider("teams")
    assert info is INFO
    assert (info.name, info.label) == ("teams", "Microsoft Teams")
    assert info.endpoints["authorize_url"] == (
        "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize"
    )
    assert info.endpoints["token_url"] == (
        "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
    )
    assert info.endpoints["api_base_url"] == GRAPH
    assert "revoke_url" not in info.endpoints  # Microsoft has none
    assert info.supports(Capability.IDEMPOTENT_CREATE)
    assert not info.supports(Capability.REVOKE)
    assert not info.supports(Capability.ACCOUNT_LEVEL)
    assert not info.supports(Capability.HOST_JOIN_URL)
    module, _, attribute = info.sandbox_app.partition(":")
    assert callable(getattr(__import__(module, fromlist=[attribute]), attribute))


async def test_authorization_url_has_state_pkce_scopes_and_default_tenant(
    host: Any, context: Any
) -> None:
    start = await host.call(
        "authorization_url",
        "teams",
        context=context,
        redirect_uri=REDIRECT,
        state="st-1",
        code_challenge="ch-1",
        account_level=False,
    )
    url = urlsplit(start.url)
    assert (url.scheme, url.netloc, url.path) == (
        "https",
        "login.microsoftonline.com",
        "/organizations/oauth2/v2.0/authorize",
    )
    assert {k: v[0] for k, v in parse_qs(url.query).items()} == {
        "client_id": "app-id",
        "response_type": "code",
        "response_mode": "query",
        "redirect_uri": REDIRECT,
        "scope": "openid offline_access User.Read OnlineMeetings.ReadWrite",
        "state": "st-1",
        "code_challenge": "ch-1",
        "code_challenge_method": "S256",
    }


async def test_account_level_connect_is_refused(host: Any, context: Any) -> None:
    with pytest.raises(AccountLevelNotAllowed):
        await host.call(
            "authorization_url",
            "teams",
            context=context,
            redirect_uri=REDIRECT,
            state="s",
            code_challenge="c",
            account_level=True,
        )


# -- connect ---------------------------------------------------------------------------------


def _token_body(
    tid: str | None = TENANT, scope: str = "openid User.Read OnlineMeetings.ReadWrite", **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": scope,
        "expires_in": 3599,
        "ext_expires_in": 3599,
        "access_token": "at-1",
        "refresh_token": "rt-1",
        **extra,
    }
    if tid is not None:
        body["id_token"] = _jwt({"tid": tid, "oid": USER_ID, "name": "Adele Vance"})
    return body


@respx.mock
async def test_connect_redeems_the_code_with_secret_and_verifier_then_reads_me(
    host: Any, context: Any
) -> None:
    token = respx.post(f"{LOGIN}/token").respond(json=_token_body())
    me = respx.get(f"{GRAPH}/me").respond(
        json={
            "id": USER_ID,
            "mail": None,
            "userPrincipalName": "adele@contoso.example",
            "displayName": "Adele Vance",
        }
    )
    calendar = respx.get(f"{GRAPH}/me/calendar")

    account = await host.call(
        "connect",
        "teams",
        context=context,
        code="code-1",
        redirect_uri=REDIRECT,
        code_verifier="ver-1",
        account_level=False,
    )

    sent = token.calls.last.request
    assert "authorization" not in sent.headers
    assert _form(sent) == {
        "grant_type": "authorization_code",
        "code": "code-1",
        "redirect_uri": REDIRECT,
        "code_verifier": "ver-1",
        "client_id": "app-id",
        "client_secret": "s3cr3t-value",
        "scope": "openid offline_access User.Read OnlineMeetings.ReadWrite",
    }
    assert me.calls.last.request.headers["authorization"] == "Bearer at-1"
    assert not calendar.called  # no Calendars permission: not even tried
    assert isinstance(account, ConnectedAccount)
    assert (
        account.external_account_id,
        account.email,
        account.organization_id,
        account.account_type,
    ) == (USER_ID, "adele@contoso.example", TENANT, "work")
    assert account.tokens.refresh_token == Secret("rt-1")
    assert account.tokens.expires_at == datetime(2026, 3, 2, 15, 59, 59, tzinfo=UTC)


@respx.mock
async def test_connect_refuses_the_consumer_tenant_from_the_id_token(
    host: Any, context: Any
) -> None:
    respx.post(f"{LOGIN}/token").respond(json=_token_body(tid=oauth.PERSONAL_TENANT_ID))
    respx.get(f"{GRAPH}/me").respond(
        json={"id": "00037ffe8a3b1c2d", "mail": None, "userPrincipalName": "sam@outlook.com"}
    )
    with pytest.raises(UnsupportedAccount) as caught:
        await host.call(
            "connect",
            "teams",
            context=context,
            code="c",
            redirect_uri=REDIRECT,
            code_verifier="v",
            account_level=False,
        )
    assert str(caught.value).startswith("sam@outlook.com is a personal Microsoft account")


@respx.mock
async def test_connect_without_id_token_uses_the_calendar_when_it_may(
    host: Any, context: Any
) -> None:
    respx.post(f"{LOGIN}/token").respond(
        json=_token_body(tid=None, scope="User.Read OnlineMeetings.ReadWrite Calendars.Read")
    )
    respx.get(f"{GRAPH}/me").respond(
        json={"id": "00037ffe8a3b1c2d", "userPrincipalName": "sam@outlook.com"}
    )
    calendar = respx.get(f"{GRAPH}/me/calendar").respond(
        json={"allowedOnlineMeetingProviders": ["skypeForConsumer"]}
    )
    with pytest.raises(UnsupportedAccount):
        await host.call(
            "connect",
            "teams",
            context=context,
            code="c",
            redirect_uri=REDIRECT,
            code_verifier="v",
            account_level=False,
        )
    assert calendar.called


@respx.mock
async def test_connect_refuses_a_grant_without_online_meetings(host: Any, context: Any) -> None:
    respx.post(f"{LOGIN}/token").respond(json=_token_body(scope="openid User.Read"))
    with pytest.raises(InsufficientScope) as caught:
        await host.call(
            "connect",
            "teams",
            context=context,
            code="c",
            redirect_uri=REDIRECT,
            code_verifier="v",
            account_level=False,
        )
    assert "OnlineMeetings.ReadWrite" in str(caught.value)


# -- refresh ---------------------------------------------------------------------------------


@respx.mock
async def test_refresh_sends_the_refresh_token_and_keeps_the_new_one(
    host: Any, context: Any
) -> None:
    route = respx.post(f"{LOGIN}/token").respond(
        json={
            "token_type": "Bearer",
            "scope": "User.Read OnlineMeetings.ReadWrite",
            "expires_in": 4000,
            "access_token": "at-2",
            "refresh_token": "rt-2",
        }
    )
    new = await host.call("refresh_credentials", "teams", context=context, tokens=_tokens())
    assert _form(route.calls.last.request) == {
        "grant_type": "refresh_token",
        "refresh_token": "rt-1",
        "client_id": "app-id",
        "client_secret": "s3cr3t-value",
        "scope": "openid offline_access User.Read OnlineMeetings.ReadWrite",
    }
    assert (new.access_token, new.refresh_token) == (Secret("at-2"), Secret("rt-2"))


@respx.mock
async def test_invalid_grant_is_grant_revoked_with_the_first_line_only(
    host: Any, context: Any
) -> None:
    respx.post(f"{LOGIN}/token").respond(
        400,
        json={
            "error": "invalid_grant",
            "error_description": "AADSTS700082: The refresh token has expired due to"
            " inactivity.\r\nTrace ID: 1f2e\r\nCorrelation ID: 3c4d\r\nTimestamp: 2026-03-02",
            "error_codes": [700082],
            "trace_id": "1f2e",
            "correlation_id": "3c4d",
        },
    )
    with pytest.raises(GrantRevoked) as caught:
        await host.call("refresh_credentials", "teams", context=context, tokens=_tokens())
    assert caught.value.provider_code == "AADSTS700082"
    assert "AADSTS700082: The refresh token has expired due to inactivity." in str(caught.value)
    assert "Trace ID" not in str(caught.value)
    assert "rt-1" not in str(caught.value) and "s3cr3t" not in str(caught.value)


@respx.mock
async def test_bad_client_secret_on_refresh_is_a_configuration_error_not_a_dead_grant(
    host: Any, context: Any
) -> None:
    respx.post(f"{LOGIN}/token").respond(
        401,
        json={
            "error": "invalid_client",
            "error_codes": [7000222],
            "error_description": "AADSTS7000222: The provided client secret keys are expired.",
        },
    )
    with pytest.raises(ProviderError) as caught:
        await host.call("refresh_credentials", "teams", context=context, tokens=_tokens())
    assert not isinstance(caught.value, GrantRevoked)
    assert "expired" in str(caught.value) and "operator" in str(caught.value)


@respx.mock
async def test_token_endpoint_outage_is_provider_unavailable(host: Any, context: Any) -> None:
    respx.post(f"{LOGIN}/token").respond(503, headers={"Retry-After": "12"}, json={})
    with pytest.raises(ProviderUnavailable) as caught:
        await host.call("refresh_credentials", "teams", context=context, tokens=_tokens())
    assert caught.value.retry_after == 12


# -- meetings --------------------------------------------------------------------------------


@respx.mock
async def test_create_posts_create_or_get_then_patches_the_lobby(host: Any, context: Any) -> None:
    create = respx.post(f"{GRAPH}/me/onlineMeetings/createOrGet").respond(201, json=_meeting())
    patch = respx.patch(url__regex=rf"{GRAPH}/me/onlineMeetings/.+").respond(
        json=_meeting(lobbyBypassSettings={"scope": "organizer", "isDialInBypassEnabled": False})
    )

    meeting = await host.call(
        "create_meeting",
        "teams",
        context=context,
        request=meeting_request(),
        credentials=_credentials(context),
    )

    sent = create.calls.last.request
    assert sent.headers["authorization"] == "Bearer at-1"
    assert json.loads(sent.content) == {
        "externalId": "booking-1",
        "subject": "Intro call with Sam",
        "startDateTime": "2026-03-09T14:00:00Z",
        "endDateTime": "2026-03-09T14:30:00Z",
    }
    patched = patch.calls.last.request
    assert patched.url.raw_path.decode().endswith(
        MEETING_ID.replace("/", "%2F").replace("+", "%2B").replace("=", "%3D")
    )
    assert json.loads(patched.content) == {
        "lobbyBypassSettings": {"scope": "organizer", "isDialInBypassEnabled": False}
    }
    assert (meeting.external_id, meeting.passcode) == (MEETING_ID, "aB3dE9")
    assert meeting.extra["join_meeting_id"] == "123456789012"


@respx.mock
async def test_create_or_get_finding_a_matching_meeting_makes_no_patch(
    host: Any, context: Any
) -> None:
    respx.post(f"{GRAPH}/me/onlineMeetings/createOrGet").respond(
        200,
        json=_meeting(lobbyBypassSettings={"scope": "organizer", "isDialInBypassEnabled": False}),
    )
    patch = respx.patch(url__regex=rf"{GRAPH}/me/onlineMeetings/.+")
    await host.call(
        "create_meeting",
        "teams",
        context=context,
        request=meeting_request(),
        credentials=_credentials(context),
    )
    assert not patch.called


@respx.mock
async def test_update_sends_both_times_subject_and_lobby(host: Any, context: Any) -> None:
    route = respx.patch(url__regex=rf"{GRAPH}/me/onlineMeetings/.+").respond(json=_meeting())
    await host.call(
        "update_meeting",
        "teams",
        context=context,
        meeting=MeetingRef(MEETING_ID),
        request=meeting_request(start=datetime(2026, 3, 10, 9, 5, tzinfo=UTC)),
        credentials=_credentials(context),
    )
    assert json.loads(route.calls.last.request.content) == {
        "subject": "Intro call with Sam",
        "startDateTime": "2026-03-10T09:05:00Z",
        "endDateTime": "2026-03-10T09:35:00Z",
        "lobbyBypassSettings": {"scope": "organizer", "isDialInBypassEnabled": False},
    }


@respx.mock
async def test_delete_404_is_already_gone(host: Any, context: Any) -> None:
    route = respx.delete(url__regex=rf"{GRAPH}/me/onlineMeetings/.+").mock(
        side_effect=[
            httpx.Response(204),
            httpx.Response(404, json={"error": {"code": "itemNotFound", "message": "Not found"}}),
        ]
    )
    credentials = _credentials(context)
    ref = MeetingRef(MEETING_ID)
    assert (
        await host.call(
            "delete_meeting", "teams", context=context, meeting=ref, credentials=credentials
        )
        == DeleteOutcome.DELETED
    )
    assert (
        await host.call(
            "delete_meeting", "teams", context=context, meeting=ref, credentials=credentials
        )
        == DeleteOutcome.ALREADY_GONE
    )
    assert route.call_count == 2


@respx.mock
async def test_401_refreshes_once_and_retries_once_only(host: Any, context: Any) -> None:
    unauthorized = {
        "error": {
            "code": "InvalidAuthenticationToken",
            "message": "Access token has expired or is not yet valid.",
        }
    }
    route = respx.post(f"{GRAPH}/me/onlineMeetings/createOrGet").respond(401, json=unauthorized)
    credentials = _credentials(context)
    with pytest.raises(GrantRevoked):
        await host.call(
            "create_meeting",
            "teams",
            context=context,
            request=meeting_request(),
            credentials=credentials,
        )
    assert route.call_count == 2
    assert [c.request.headers["authorization"] for c in route.calls] == [
        "Bearer at-1",
        "Bearer at-2",
    ]
    assert credentials.refresh_count == 1


@respx.mock
async def test_retry_after_as_http_date_is_understood(host: Any, context: Any) -> None:
    respx.post(f"{GRAPH}/me/onlineMeetings/createOrGet").respond(
        429,
        headers={"Retry-After": "Mon, 02 Mar 2026 15:00:30 GMT"},
        json={"error": {"code": "TooManyRequests", "message": "Slow down"}},
    )
    with pytest.raises(RateLimited) as caught:
        await host.call(
            "create_meeting",
            "teams",
            context=context,
            request=meeting_request(),
            credentials=_credentials(context),
        )
    assert caught.value.retry_after == 30


@respx.mock
async def test_429_without_retry_after_or_body_is_still_rate_limited(
    host: Any, context: Any
) -> None:
    respx.post(f"{GRAPH}/me/onlineMeetings/createOrGet").respond(429, text="busy")
    with pytest.raises(RateLimited) as caught:
        await host.call(
            "create_meeting",
            "teams",
            context=context,
            request=meeting_request(),
            credentials=_credentials(context),
        )
    assert caught.value.retry_after is None


@pytest.mark.parametrize(
    ("exc", "ambiguous"),
    [
        (httpx.ReadTimeout("slow"), True),
        (httpx.RemoteProtocolError("peer closed"), True),
        (httpx.ConnectError("refused"), False),
        (httpx.ConnectTimeout("no route"), False),
    ],
)
@respx.mock
async def test_network_failures_say_whether_the_create_may_have_happened(
    host: Any, context: Any, exc: Exception, ambiguous: bool
) -> None:
    respx.post(f"{GRAPH}/me/onlineMeetings/createOrGet").mock(side_effect=exc)
    with pytest.raises(ProviderUnavailable) as caught:
        await host.call(
            "create_meeting",
            "teams",
            context=context,
            request=meeting_request(),
            credentials=_credentials(context),
        )
    assert caught.value.ambiguous is ambiguous
    assert "at-1" not in str(caught.value)


@respx.mock
async def test_failed_lobby_patch_after_creating_is_ambiguous(host: Any, context: Any) -> None:
    respx.post(f"{GRAPH}/me/onlineMeetings/createOrGet").respond(201, json=_meeting())
    respx.patch(url__regex=rf"{GRAPH}/me/onlineMeetings/.+").respond(
        503, json={"error": {"code": "serviceNotAvailable", "message": "later"}}
    )
    with pytest.raises(ProviderUnavailable) as caught:
        await host.call(
            "create_meeting",
            "teams",
            context=context,
            request=meeting_request(),
            credentials=_credentials(context),
        )
    assert caught.value.ambiguous is True


# -- the plain helpers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "description", "expected"),
    [
        (
            "consent_required",
            "AADSTS65001: The user or administrator has not consented",
            "administrator",
        ),
        (
            "access_denied",
            "AADSTS90094: The grant requires admin permission.",
            "Grant admin consent",
        ),
        ("invalid_request", "AADSTS900941: Administrator consent is required.", "administrator"),
        ("access_denied", "AADSTS65004: User declined to consent to access the app.", "Accept"),
        (
            "invalid_request",
            "AADSTS50020: User account from identity provider 'live.com'",
            "personal Microsoft account",
        ),
        ("invalid_request", "AADSTS50011: The redirect URI does not match", "redirect URI"),
        ("server_error", "AADSTS50000: There was an error issuing a token.", "Try connecting"),
    ],
)
def test_explain_authorization_error(error: str, description: str, expected: str) -> None:
    assert expected in oauth.explain_authorization_error(error, description)


def test_explain_with_settings_gives_the_admin_consent_url(context: Any) -> None:
    message = oauth.explain_authorization_error(
        "consent_required", "AADSTS65001: not consented", settings=context.settings
    )
    assert (
        "https://login.microsoftonline.com/organizations/v2.0/adminconsent?client_id=app-id"
        in message
    )


def test_preflight_warns_only_for_personal_accounts(host: Any) -> None:
    work = ConnectedAccount(
        tokens=_tokens(),
        external_account_id=USER_ID,
        email="a@b",
        account_type="work",
        organization_id=TENANT,
    )
    personal = ConnectedAccount(
        tokens=_tokens(),
        external_account_id="x",
        email="s@outlook.com",
        account_type="work",
        organization_id=oauth.PERSONAL_TENANT_ID,
    )
    assert preflight_warnings(work) == []
    [warning] = preflight_warnings(personal)
    assert warning.code == "teams_personal_account"
    assert "work or school" in warning.message


async def test_preflight_hook_through_the_host(host: Any, context: Any) -> None:
    class Stored:  # what the host knows of a stored connection
        account_type = "personal"
        organization_id = ""

    warnings = await host.call(
        "preflight", "teams", context=context, account=Stored(), duration_minutes=60
    )
    assert [w.code for w in warnings] == ["teams_personal_account"]


def test_secrets_never_show_in_a_token_set_repr() -> None:
    assert "rt-1" not in repr(_tokens()) and "at-1" not in repr(_tokens())


@respx.mock
async def test_unknown_lobby_setting_is_a_clear_provider_error(host: Any, context: Any) -> None:
    create = respx.post(f"{GRAPH}/me/onlineMeetings/createOrGet")
    with pytest.raises(ProviderError, match="Unknown Teams lobby setting 'nobody'") as caught:
        await host.call(
            "create_meeting",
            "teams",
            context=context,
            request=meeting_request(settings={"lobby_bypass_scope": "nobody"}),
            credentials=_credentials(context),
        )
    assert not caught.value.retryable
    assert not create.called  # refused before anything was made
