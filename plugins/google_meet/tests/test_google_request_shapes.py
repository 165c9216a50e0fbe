"""What the plugin sends to Google, and how it reads Google's answers (respx doubles)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from google_meet_testkit import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, meeting_request
from google_meet_testkit import provider_context as make_context

from meetbridge.plugins import PluginHost
from meetbridge.providers import (
    ConnectFailed,
    DeleteOutcome,
    GrantRevoked,
    InsufficientScope,
    MeetingGone,
    MeetingRef,
    ProviderContext,
    ProviderError,
    Secret,
    TokenSet,
)
from meetbridge.testing.credentials import MemoryCredentials
from meetbridge_google_meet.events import event_id_for, key_tag

API = "https://www.googleapis.com/calendar/v3"
EVENTS = f"{API}/calendars/primary/events"
TOKEN_URL = "https://oauth2.googleapis.com/token"
USERINFO_URL = "https://openidconnect.googleapis.com/v1/userinfo"
REVOKE_URL = "https://oauth2.googleapis.com/revoke"
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
CAL = "https://www.googleapis.com/auth/calendar.events"


@pytest.fixture
async def ctx(host: PluginHost) -> AsyncIterator[ProviderContext]:
    async with httpx.AsyncClient() as http:
        yield make_context(host, http, lambda: NOW)


@pytest.fixture
def router() -> AsyncIterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


def creds() -> MemoryCredentials:
    tokens = TokenSet(
        access_token=Secret("ya29.first"),
        refresh_token=Secret("1//refresh"),
        expires_at=NOW + timedelta(hours=1),
        scope=(CAL,),
    )

    def refresh(old: TokenSet) -> TokenSet:
        return TokenSet(
            access_token=Secret("ya29.second"),
            refresh_token=old.refresh_token,
            expires_at=NOW + timedelta(hours=2),
            scope=old.scope,
        )

    return MemoryCredentials(
        tokens, refresh, external_account_id="1102", email="a@example.com", clock=lambda: NOW
    )


def event(
    event_id: str, *, status: str = "success", tag: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": event_id,
        "status": "confirmed",
        "summary": "Intro call with Dana",
        "start": {"dateTime": "2026-03-09T11:00:00-04:00", "timeZone": "America/New_York"},
        "end": {"dateTime": "2026-03-09T11:30:00-04:00", "timeZone": "America/New_York"},
        "conferenceData": {
            "createRequest": {
                "requestId": "r",
                "status": {"statusCode": status},
                "conferenceSolutionKey": {"type": "hangoutsMeet"},
            },
        },
    }
    if tag is not None:
        body["extendedProperties"] = {"private": {"meetbridgeKey": tag}}
    if status == "success":
        body["conferenceData"]["entryPoints"] = [
            {"entryPointType": "video", "uri": "https://meet.google.com/abc-defg-hij"},
            {
                "entryPointType": "phone",
                "uri": "tel:+1-555-0100",
                "label": "+1 555-0100",
                "pin": "123456789",
                "regionCode": "US",
            },
        ]
        body["hangoutLink"] = "https://meet.google.com/abc-defg-hij"
    body.update(extra)
    return body


def cancelled(body: dict[str, Any]) -> dict[str, Any]:
    """The event as Google reads it back after it was deleted."""
    return {**body, "status": "cancelled"}


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def ids(namespace: str = CLIENT_ID, key: str = "booking-1") -> list[str]:
    return [event_id_for(key, namespace, n) for n in range(3)]


TAG = key_tag("booking-1", CLIENT_ID)


# -- OAuth -------------------------------------------------------------------------------------
async def test_connect_sends_client_secret_and_verifier_in_the_form_then_reads_userinfo(
    host: PluginHost, ctx: ProviderContext, router: respx.MockRouter
) -> None:
    token = router.post(TOKEN_URL).respond(
        json={
            "access_token": "ya29.a",
            "refresh_token": "1//r",
            "expires_in": 3599,
            "scope": f"openid https://www.googleapis.com/auth/userinfo.email {CAL}",
            "token_type": "Bearer",
            "id_token": "x.y.z",
        }
    )
    info = router.get(USERINFO_URL).respond(
        json={"sub": "1102", "email": "a@example.com", "email_verified": True, "hd": "example.com"}
    )
    account = await host.call(
        "connect",
        "google_meet",
        context=ctx,
        code="4/code",
        redirect_uri=REDIRECT_URI,
        code_verifier="v" * 50,
        account_level=False,
    )
    assert form(token.calls.last.request) == {
        "grant_type": "authorization_code",
        "code": "4/code",
        "redirect_uri": REDIRECT_URI,
        "code_verifier": "v" * 50,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    assert "authorization" not in token.calls.last.request.headers
    assert info.calls.last.request.headers["authorization"] == "Bearer ya29.a"
    assert (account.external_account_id, account.email) == ("1102", "a@example.com")
    assert account.tokens.expires_at == NOW + timedelta(seconds=3599)
    assert "id_token" not in account.tokens.extra


async def test_connect_accepts_the_full_calendar_scope_in_place_of_calendar_events(
    host: PluginHost, ctx: ProviderContext, router: respx.MockRouter
) -> None:
    router.post(TOKEN_URL).respond(
        json={
            "access_token": "a",
            "refresh_token": "r",
            "expires_in": 3599,
            "scope": "openid email https://www.googleapis.com/auth/calendar",
        }
    )
    router.get(USERINFO_URL).respond(json={"sub": "1", "email": "p@gmail.com"})
    account = await host.call(
        "connect",
        "google_meet",
        context=ctx,
        code="c",
        redirect_uri=REDIRECT_URI,
        code_verifier="v",
        account_level=False,
    )
    assert account.account_type == "personal"


async def test_connect_without_a_refresh_token_says_to_remove_access_and_reconnect(
    host: PluginHost, ctx: ProviderContext, router: respx.MockRouter
) -> None:
    router.post(TOKEN_URL).respond(
        json={"access_token": "a", "expires_in": 3599, "scope": f"openid email {CAL}"}
    )
    info = router.get(USERINFO_URL).respond(json={"sub": "1", "email": "a@example.com"})
    revoke = router.post(REVOKE_URL).respond(200)
    with pytest.raises(ConnectFailed) as caught:
        await host.call(
            "connect",
            "google_meet",
            context=ctx,
            code="c",
            redirect_uri=REDIRECT_URI,
            code_verifier="v",
            account_level=False,
        )
    assert "myaccount.google.com/permissions" in caught.value.message
    assert caught.value.provider_code == "no_refresh_token"
    # An earlier connection may hold the grant's refresh token: it must not be revoked.
    assert not revoke.called and not info.called


async def test_connect_with_the_calendar_scope_unticked_revokes_and_raises(
    host: PluginHost, ctx: ProviderContext, router: respx.MockRouter
) -> None:
    router.post(TOKEN_URL).respond(
        json={
            "access_token": "a",
            "refresh_token": "1//r",
            "expires_in": 3599,
            "scope": "openid email",
        }
    )
    revoke = router.post(REVOKE_URL).respond(200)
    with pytest.raises(InsufficientScope):
        await host.call(
            "connect",
            "google_meet",
            context=ctx,
            code="c",
            redirect_uri=REDIRECT_URI,
            code_verifier="v",
            account_level=False,
        )
    assert form(revoke.calls.last.request) == {"token": "1//r"}


async def test_an_organisation_wide_connection_is_refused_plainly(
    host: PluginHost, ctx: ProviderContext
) -> None:
    with pytest.raises(ConnectFailed) as caught:
        await host.call(
            "authorization_url",
            "google_meet",
            context=ctx,
            redirect_uri=REDIRECT_URI,
            state="s",
            code_challenge="c",
            account_level=True,
        )
    assert "each person's own Google account" in caught.value.message


async def test_refresh_posts_the_refresh_token_and_keeps_it(
    host: PluginHost, ctx: ProviderContext, router: respx.MockRouter
) -> None:
    route = router.post(TOKEN_URL).respond(
        json={"access_token": "ya29.new", "expires_in": 3599, "scope": CAL, "token_type": "Bearer"}
    )
    old = creds().tokens
    new = await host.call("refresh_credentials", "google_meet", context=ctx, tokens=old)
    assert form(route.calls.last.request) == {
        "grant_type": "refresh_token",
        "refresh_token": "1//refresh",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    assert new.access_token == Secret("ya29.new")
    assert new.refresh_token == old.refresh_token
    assert new.expires_at == NOW + timedelta(seconds=3599)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            400,
            {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
            GrantRevoked,
        ),
        (401, {"error": "unauthorized_client", "error_description": "Unauthorized"}, GrantRevoked),
        (401, {"error": "invalid_client", "error_description": "Unauthorized"}, ProviderError),
    ],
)
async def test_refresh_failures_tell_a_dead_grant_from_a_misconfigured_client(
    host: PluginHost,
    ctx: ProviderContext,
    router: respx.MockRouter,
    status: int,
    body: dict[str, str],
    expected: type[ProviderError],
) -> None:
    router.post(TOKEN_URL).respond(status, json=body)
    with pytest.raises(expected) as caught:
        await host.call("refresh_credentials", "google_meet", context=ctx, tokens=creds().tokens)
    assert type(caught.value) is expected
    assert body["error_description"] in caught.value.message or "CLIENT_ID" in caught.value.message
    assert "1//refresh" not in caught.value.message


# -- create --------------------------------------------------------------------------------------
async def test_insert_request_shape(
    host: PluginHost, ctx: ProviderContext, router: respx.MockRouter
) -> None:
    route = router.post(EVENTS).respond(json=event(ids()[0], tag=TAG))
    meeting = await host.call(
        "create_meeting", "google_meet", context=ctx, request=meeting_request(), credentials=creds()
    )
    sent = route.calls.last.request
    assert sent.headers["authorization"] == "Bearer ya29.first"
    assert dict(sent.url.params) == {"conferenceDataVersion": "1", "sendUpdates": "none"}
    body = json.loads(sent.content)
    assert re.fullmatch(r"[a-v0-9]{5,1024}", body["id"])
    assert body == {
        "id": ids()[0],
        "summary": "Intro call with Dana",
        "description": "Booked through meetbridge",
        "start": {"dateTime": "2026-03-09T11:00:00-04:00", "timeZone": "America/New_York"},
        "end": {"dateTime": "2026-03-09T11:30:00-04:00", "timeZone": "America/New_York"},
        "conferenceData": {
            "createRequest": {
                "requestId": f"{ids()[0]}-create",
                "conferenceSolutionKey": {"type": "hangoutsMeet"},
            }
        },
        "extendedProperties": {"private": {"meetbridgeKey": TAG}},
    }
    assert meeting.external_id == ids()[0]
    assert meeting.join_url == "https://meet.google.com/abc-defg-hij"
    assert meeting.dial_in == ("+1 555-0100 (US) PIN: 123456789#",)


def test_event_ids_are_stable_per_booking_and_distinct_across_bookings_and_installs() -> None:
    assert event_id_for("booking-1", "ns") == event_id_for("booking-1", "ns")
    assert event_id_for("booking-1", "ns") != event_id_for("booking-2", "ns")
    assert event_id_for("booking-1", "ns") != event_id_for("booking-1", "other-install")
    assert event_id_for("booking-1", "ns", 0) != event_id_for("booking-1", "ns", 1)


async def test_send_updates_and_attendees_follow_the_options(
    host: PluginHost, router: respx.MockRouter
) -> None:
    route = router.post(EVENTS).respond(json=event(ids()[0]))
    async with httpx.AsyncClient() as http:
        ctx = make_context(
            host,
            http,
            lambda: NOW,
            options={"send_updates": "externalOnly", "invite_attendees": "true"},
        )
        await host.call(
            "create_meeting",
            "google_meet",
            context=ctx,
            request=meeting_request(attendees=("d@client.example",)),
            credentials=creds(),
        )
    sent = route.calls.last.request
    assert sent.url.params["sendUpdates"] == "externalOnly"
    assert json.loads(sent.content)["attendees"] == [{"email": "d@client.example"}]


async def test_an_invalid_send_updates_option_is_a_clear_error(
    host: PluginHost, router: respx.MockRouter
) -> None:
    async with httpx.AsyncClient() as http:
        ctx = make_context(host, http, lambda: NOW, options={"send_updates": "everyone"})
        with pytest.raises(ProviderError) as caught:
            await host.call(
                "create_meeting",
                "google_meet",
                context=ctx,
                request=meeting_request(),
                credentials=creds(),
            )
    assert "send_updates" in caught.value.message
    assert not router.calls


async def test_409_picks_up_our_live_event_without_a_second_insert(
    host: PluginHost, ctx: ProviderContext, router: respx.MockRouter
) -> None:
    insert = router.post(EVENTS).respond(
        409,
        json={
            "error": {
                "errors": [
                    {
                        "domain": "global",
                        "reason": "duplicate",
                        "message": "The requested identifier already exists.",
                    }
                ],
                "code": 409,
                "message": "The requested identifier already exists.",
            }
        },
    )
    get = router.get(f"{EVENTS}/{ids()[0]}").respond(json=event(ids()[0], tag=TAG))
    meeting = await host.call(
        "create_meeting", "google_meet", context=ctx, request=meeting_request(), credentials=creds()
    )
    assert meeting.external_id == ids()[0]
    assert insert.call_count == 1 and get.call_count == 1


@pytest.mark.parametrize(
    "taken",
    [cancelled(event(ids()[0], tag=TAG)), event(ids()[0], tag="someone-else")],
    ids=["deleted-in-google", "not-ours"],
)
async def test_409_on_a_deleted_or_foreign_event_moves_to_the_next_id(
    host: PluginHost, ctx: ProviderContext, router: respx.MockRouter, taken: dict[str, Any]
) -> None:
    first, second = ids()[:2]
    router.post(EVENTS).mock(
        side_effect=[
            httpx.Response(
                409,
                json={
                    "error": {"code": 409, "message": "exists", "errors": [{"reason": "duplicate"}]}
                },
            ),
            httpx.Response(200, json=event(second, tag=TAG)),
        ]
    )
    router.get(f"{EVENTS}/{first}").respond(json=taken)
    meeting = await host.call(
        "create_meeting", "google_meet", context=ctx, request=meeting_request(), credentials=creds()
    )
    assert meeting.external_id == second
    assert json.loads(router.calls.last.request.content)["id"] == second


async def test_pending_conference_is_polled_and_the_link_falls_back_to_hangout_link(
    host: PluginHost, ctx: ProviderContext, router: respx.MockRouter
) -> None:
    first = ids()[0]
    router.post(EVENTS).respond(json=event(first, status="pending"))
    ready = event(first, status="success")
    ready["conferenceData"]["entryPoints"] = []  # no video entry point: use hangoutLink
    router.get(f"{EVENTS}/{first}").mock(
        side_effect=[
            httpx.Response(200, json=event(first, status="pending")),
            httpx.Response(200, json=ready),
        ]
    )
    meeting = await host.call(
        "create_meeting", "google_meet", context=ctx, request=meeting_request(), credentials=creds()
    )
    assert meeting.join_url == "https://meet.google.com/abc-defg-hij"


async def test_failed_conference_deletes_the_event_and_raises(
    host: PluginHost, ctx: ProviderContext, router: respx.MockRouter
) -> None:
    first = ids()[0]
    router.post(EVENTS).respond(json=event(first, status="failure"))
    delete = router.delete(f"{EVENTS}/{first}").respond(204)
    with pytest.raises(ProviderError) as caught:
        await host.call(
            "create_meeting",
            "google_meet",
            context=ctx,
            request=meeting_request(),
            credentials=creds(),
        )
    assert not caught.value.retryable
    assert delete.called


async def test_an_event_without_conference_gets_one_added_with_a_fresh_request_id(
    host: PluginHost, ctx: ProviderContext, router: respx.MockRouter
) -> None:
    first = ids()[0]
    bare = event(first)
    del bare["conferenceData"], bare["hangoutLink"]
    router.post(EVENTS).respond(json=bare)
    patch = router.patch(f"{EVENTS}/{first}").respond(json=event(first))
    meeting = await host.call(
        "create_meeting", "google_meet", context=ctx, request=meeting_request(), credentials=creds()
    )
    sent = patch.calls.last.request
    assert sent.url.params["conferenceDataVersion"] == "1"
    request_id = json.loads(sent.content)["conferenceData"]["createRequest"]["requestId"]
    assert request_id != f"{first}-create"
    assert meeting.join_url


# -- update and delete ---------------------------------------------------------------------------
async def test_patch_request_shape(
    host: PluginHost, ctx: ProviderContext, router: respx.MockRouter
) -> None:
    route = router.patch(f"{EVENTS}/evt12345").respond(json=event("evt12345"))
    request = meeting_request(
        start=datetime(2026, 11, 1, 6, 30, tzinfo=UTC), topic="Moved", agenda=""
    )
    await host.call(
        "update_meeting",
        "google_meet",
        context=ctx,
        meeting=MeetingRef(external_id="evt12345"),
        request=request,
        credentials=creds(),
    )
    sent = route.calls.last.request
    assert dict(sent.url.params) == {"conferenceDataVersion": "1", "sendUpdates": "none"}
    assert json.loads(sent.content) == {
        "summary": "Moved",
        "start": {"dateTime": "2026-11-01T01:30:00-05:00", "timeZone": "America/New_York"},
        "end": {"dateTime": "2026-11-01T02:00:00-05:00", "timeZone": "America/New_York"},
    }


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(
            404,
            json={
                "error": {"code": 404, "message": "Not Found", "errors": [{"reason": "notFound"}]}
            },
        ),
        httpx.Response(
            410,
            json={
                "error": {
                    "code": 410,
                    "message": "Resource has been deleted",
                    "errors": [{"reason": "deleted"}],
                }
            },
        ),
        httpx.Response(200, json=cancelled(event("evt12345"))),
    ],
    ids=["404", "410", "cancelled"],
)
async def test_update_of_a_gone_event_raises_meeting_gone(
    host: PluginHost, ctx: ProviderContext, router: respx.MockRouter, answer: httpx.Response
) -> None:
    router.patch(f"{EVENTS}/evt12345").mock(return_value=answer)
    with pytest.raises(MeetingGone):
        await host.call(
            "update_meeting",
            "google_meet",
            context=ctx,
            meeting=MeetingRef(external_id="evt12345"),
            request=meeting_request(),
            credentials=creds(),
        )


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (204, DeleteOutcome.DELETED),
        (404, DeleteOutcome.ALREADY_GONE),
        (410, DeleteOutcome.ALREADY_GONE),
    ],
)
async def test_delete_request_shape_and_outcomes(
    host: PluginHost,
    ctx: ProviderContext,
    router: respx.MockRouter,
    status: int,
    outcome: DeleteOutcome,
) -> None:
    route = router.delete(f"{EVENTS}/evt12345").respond(status)
    result = await host.call(
        "delete_meeting",
        "google_meet",
        context=ctx,
        meeting=MeetingRef(external_id="evt12345"),
        credentials=creds(),
    )
    assert result == outcome
    assert dict(route.calls.last.request.url.params) == {"sendUpdates": "none"}


# -- 401 handling --------------------------------------------------------------------------------
async def test_a_401_refreshes_once_and_retries_once_with_the_new_token(
    host: PluginHost, ctx: ProviderContext, router: respx.MockRouter
) -> None:
    route = router.delete(f"{EVENTS}/evt12345").mock(
        side_effect=[
            httpx.Response(
                401,
                json={
                    "error": {
                        "code": 401,
                        "message": "Invalid Credentials",
                        "errors": [{"reason": "authError"}],
                    }
                },
            ),
            httpx.Response(204),
        ]
    )
    credentials = creds()
    result = await host.call(
        "delete_meeting",
        "google_meet",
        context=ctx,
        meeting=MeetingRef(external_id="evt12345"),
        credentials=credentials,
    )
    assert result == DeleteOutcome.DELETED
    assert [c.request.headers["authorization"] for c in route.calls] == [
        "Bearer ya29.first",
        "Bearer ya29.second",
    ]
    assert credentials.refresh_count == 1


async def test_a_second_401_after_refreshing_is_a_dead_grant(
    host: PluginHost, ctx: ProviderContext, router: respx.MockRouter
) -> None:
    route = router.delete(f"{EVENTS}/evt12345").respond(
        401,
        json={
            "error": {
                "code": 401,
                "message": "Invalid Credentials",
                "errors": [{"reason": "authError"}],
            }
        },
    )
    with pytest.raises(GrantRevoked) as caught:
        await host.call(
            "delete_meeting",
            "google_meet",
            context=ctx,
            meeting=MeetingRef(external_id="evt12345"),
            credentials=creds(),
        )
    assert route.call_count == 2
    assert "ya29" not in caught.value.message
