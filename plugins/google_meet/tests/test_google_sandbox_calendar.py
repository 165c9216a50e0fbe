"""The sandbox's Calendar API and fault switches behave like Google (fidelity, real HTTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from google_meet_testkit import CLIENT_ID
from starlette.applications import Starlette
from starlette.routing import Mount

from meetbridge.testing.server import serve_in_thread
from meetbridge_google_meet.info import CALENDAR_EVENTS_SCOPE
from meetbridge_google_meet.sandbox import FAULT_KINDS, ManualClock, SandboxState, create_app

# A dropped connection reaches the client as either error, depending on whether the
# close races the request write (ECONNRESET) or follows it (no response).
DROPPED = (httpx.RemoteProtocolError, httpx.ReadError)

EVENTS = "/calendar/v3/calendars/primary/events"
MEET = {"createRequest": {"requestId": "req-1", "conferenceSolutionKey": {"type": "hangoutsMeet"}}}


@pytest.fixture
async def api(sandbox: SandboxState, sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client holding a valid calendar token of alice@example.com."""
    alice = sandbox.account_by_email("alice@example.com")
    assert alice is not None
    token = sandbox.issue_access_token(
        CLIENT_ID, alice.sub, frozenset({"openid", CALENDAR_EVENTS_SCOPE})
    )
    async with httpx.AsyncClient(
        base_url=sandbox_url, timeout=5.0, headers={"Authorization": f"Bearer {token.token}"}
    ) as client:
        yield client


def body(**extra: Any) -> dict[str, Any]:
    return {
        "summary": "Call",
        "start": {"dateTime": "2026-03-09T11:00:00-04:00", "timeZone": "America/New_York"},
        "end": {"dateTime": "2026-03-09T11:30:00-04:00", "timeZone": "America/New_York"},
        **extra,
    }


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    assert error["code"] == response.status_code
    assert error["message"] == error["errors"][0]["message"]
    return response.status_code, error["errors"][0]["reason"], error["message"]


async def test_without_conference_data_version_the_meet_request_is_dropped_silently(
    api: httpx.AsyncClient,
) -> None:
    response = await api.post(EVENTS, json=body(conferenceData=MEET))
    assert response.status_code == 200
    event = response.json()
    assert "conferenceData" not in event and "hangoutLink" not in event
    assert event["status"] == "confirmed"


async def test_with_version_1_the_event_gets_a_meet_with_video_and_phone_entry_points(
    api: httpx.AsyncClient,
) -> None:
    event = (
        await api.post(EVENTS, params={"conferenceDataVersion": 1}, json=body(conferenceData=MEET))
    ).json()
    data = event["conferenceData"]
    assert data["createRequest"]["status"] == {"statusCode": "success"}
    video = next(e for e in data["entryPoints"] if e["entryPointType"] == "video")
    assert video["uri"] == event["hangoutLink"] == f"https://meet.google.com/{data['conferenceId']}"
    assert data["conferenceSolution"]["key"] == {"type": "hangoutsMeet"}
    assert {e["entryPointType"] for e in data["entryPoints"]} == {"video", "phone", "more"}


async def test_a_pending_conference_succeeds_on_a_later_read(
    api: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    sandbox.conference_pending_reads = 2
    event = (
        await api.post(
            EVENTS,
            params={"conferenceDataVersion": 1},
            json=body(id="abcde12345", conferenceData=MEET),
        )
    ).json()
    assert event["conferenceData"]["createRequest"]["status"]["statusCode"] == "pending"
    assert "entryPoints" not in event["conferenceData"]
    first = (await api.get(f"{EVENTS}/abcde12345")).json()
    second = (await api.get(f"{EVENTS}/abcde12345")).json()
    assert first["conferenceData"]["createRequest"]["status"]["statusCode"] == "pending"
    assert second["conferenceData"]["createRequest"]["status"]["statusCode"] == "success"
    assert second["hangoutLink"]


async def test_an_account_with_meet_turned_off_gets_a_failed_conference(
    api: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    alice = sandbox.account_by_email("alice@example.com")
    assert alice is not None
    alice.meet_enabled = False
    event = (
        await api.post(EVENTS, params={"conferenceDataVersion": 1}, json=body(conferenceData=MEET))
    ).json()
    assert event["conferenceData"]["createRequest"]["status"]["statusCode"] == "failure"
    assert "hangoutLink" not in event


async def test_a_repeated_id_is_409_even_after_the_event_was_deleted(
    api: httpx.AsyncClient,
) -> None:
    assert (await api.post(EVENTS, json=body(id="abcde12345"))).status_code == 200
    duplicate = await api.post(EVENTS, json=body(id="abcde12345"))
    assert error_of(duplicate) == (409, "duplicate", "The requested identifier already exists.")
    assert (await api.delete(f"{EVENTS}/abcde12345")).status_code == 204
    assert (await api.post(EVENTS, json=body(id="abcde12345"))).status_code == 409


async def test_delete_is_204_then_410_and_unknown_is_404(api: httpx.AsyncClient) -> None:
    await api.post(EVENTS, json=body(id="abcde12345"))
    deleted = await api.delete(f"{EVENTS}/abcde12345")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert error_of(await api.delete(f"{EVENTS}/abcde12345")) == (
        410,
        "deleted",
        "Resource has been deleted",
    )
    assert error_of(await api.delete(f"{EVENTS}/zzzzz99999"))[:2] == (404, "notFound")
    assert error_of(await api.get(f"{EVENTS}/zzzzz99999"))[:2] == (404, "notFound")
    # A deleted event still reads back, marked cancelled.
    assert (await api.get(f"{EVENTS}/abcde12345")).json()["status"] == "cancelled"


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (body(id="UPPER-case!"), (400, "invalid", "Invalid resource id value.")),
        (body(id="abcd"), (400, "invalid", "Invalid resource id value.")),
        (
            body(end={"dateTime": "2026-03-09T10:00:00-04:00"}),
            (400, "timeRangeEmpty", "The specified time range is empty."),
        ),
        (
            body(start={"dateTime": "2026-03-09T11:00:00"}),
            (400, "required", "Missing time zone definition for start time."),
        ),
        (
            body(start={"dateTime": "2026-03-09T11:00:00", "timeZone": "Mars/Olympus"}),
            (400, "invalid", "Invalid time zone definition for start time."),
        ),
        ({"summary": "no times"}, (400, "required", "Missing start time.")),
        (
            body(
                conferenceData={
                    "createRequest": {"requestId": "r", "conferenceSolutionKey": {"type": "zoom"}}
                }
            ),
            (400, "invalid", "Invalid conference type value."),
        ),
    ],
)
async def test_invalid_events_are_rejected_in_googles_error_shape(
    api: httpx.AsyncClient, sent: dict[str, Any], expected: tuple[int, str, str]
) -> None:
    response = await api.post(EVENTS, params={"conferenceDataVersion": 1}, json=sent)
    assert error_of(response) == expected


async def test_a_wall_time_without_offset_is_read_in_its_zone(
    api: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    response = await api.post(
        EVENTS,
        json=body(
            id="abcde12345",
            start={"dateTime": "2026-07-01T09:00:00", "timeZone": "America/New_York"},
            end={"dateTime": "2026-07-01T10:00:00", "timeZone": "America/New_York"},
        ),
    )
    assert response.json()["start"]["dateTime"] == "2026-07-01T09:00:00-04:00"
    [event] = sandbox.live_events()
    assert event.start.isoformat() == "2026-07-01T13:00:00+00:00"


async def test_conference_data_version_and_send_updates_are_validated(
    api: httpx.AsyncClient,
) -> None:
    assert (
        await api.post(EVENTS, params={"conferenceDataVersion": 2}, json=body())
    ).status_code == 400
    assert (
        await api.post(EVENTS, params={"sendUpdates": "everybody"}, json=body())
    ).status_code == 400
    assert error_of(
        await api.post("/calendar/v3/calendars/someone@else.example/events", json=body())
    )[:2] == (404, "notFound")


async def test_patch_merges_fields_and_keeps_the_conference(api: httpx.AsyncClient) -> None:
    created = (
        await api.post(
            EVENTS,
            params={"conferenceDataVersion": 1},
            json=body(
                id="abcde12345", conferenceData=MEET, extendedProperties={"private": {"a": "1"}}
            ),
        )
    ).json()
    patched = (
        await api.patch(
            f"{EVENTS}/abcde12345",
            params={"conferenceDataVersion": 1},
            json={
                "summary": "Moved",
                "extendedProperties": {"private": {"b": "2"}},
                "start": {"dateTime": "2026-03-09T12:00:00-04:00"},
                "end": {"dateTime": "2026-03-09T12:30:00-04:00"},
            },
        )
    ).json()
    assert patched["summary"] == "Moved"
    assert patched["extendedProperties"] == {"private": {"a": "1", "b": "2"}}
    assert patched["hangoutLink"] == created["hangoutLink"]
    assert patched["sequence"] == 1


async def test_authentication_and_scope_errors_are_googles(
    sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient
) -> None:
    missing = await http.get(f"{sandbox_url}{EVENTS}/abcde12345")
    assert error_of(missing) == (401, "authError", "Invalid Credentials")
    assert missing.json()["error"]["errors"][0]["location"] == "Authorization"
    assert "www-authenticate" in missing.headers
    alice = sandbox.account_by_email("alice@example.com")
    assert alice is not None
    narrow = sandbox.issue_access_token(CLIENT_ID, alice.sub, frozenset({"openid"}))
    denied = await http.post(
        f"{sandbox_url}{EVENTS}", json=body(), headers={"Authorization": f"Bearer {narrow.token}"}
    )
    assert error_of(denied) == (403, "insufficientPermissions", "Insufficient Permission")


@pytest.mark.parametrize(
    ("status", "reason"), [(403, "userRateLimitExceeded"), (429, "rateLimitExceeded")]
)
async def test_configured_rate_limits_throttle_per_account_per_minute(
    api: httpx.AsyncClient, sandbox: SandboxState, clock: ManualClock, status: int, reason: str
) -> None:
    sandbox.limits.per_user_per_minute = 2
    sandbox.limits.status_code = status
    assert (await api.post(EVENTS, json=body())).status_code == 200
    assert (await api.post(EVENTS, json=body())).status_code == 200
    throttled = await api.post(EVENTS, json=body())
    assert error_of(throttled)[:2] == (status, reason)
    assert throttled.json()["error"]["errors"][0]["domain"] == "usageLimits"
    clock.advance(seconds=61)
    assert (await api.post(EVENTS, json=body())).status_code == 200


# -- fault switches ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "status", "reason"),
    [
        ("5xx", 500, "backendError"),
        ("503_retry_after", 503, "backendError"),
        ("rate_limit_qps", 403, "rateLimitExceeded"),
        ("rate_limit_429", 429, "rateLimitExceeded"),
        ("rate_limit_user", 403, "userRateLimitExceeded"),
        ("rate_limit_daily", 403, "dailyLimitExceeded"),
        ("calendar_usage_limit", 403, "quotaExceeded"),
    ],
)
async def test_error_faults_answer_once_in_googles_shape(
    api: httpx.AsyncClient, sandbox: SandboxState, kind: str, status: int, reason: str
) -> None:
    sandbox.faults.fail_next(EVENTS, kind)
    failed = await api.post(EVENTS, json=body())
    assert error_of(failed)[:2] == (status, reason)
    assert sandbox.live_events() == []
    assert (await api.post(EVENTS, json=body())).status_code == 200


async def test_oauth_faults_answer_in_the_oauth_shape(
    sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient
) -> None:
    sandbox.faults.fail_next("/token", "503_retry_after")
    response = await http.post(f"{sandbox_url}/token", data={"grant_type": "refresh_token"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.json()["error"] == "temporarily_unavailable"


async def test_reset_faults_drop_the_connection_before_or_after_acting(
    api: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    sandbox.faults.fail_next(EVENTS, "reset_before")
    with pytest.raises(DROPPED):
        await api.post(EVENTS, json=body())
    assert sandbox.live_events() == []
    sandbox.faults.fail_next(EVENTS, "reset_after_acting")
    with pytest.raises(DROPPED):
        await api.post(EVENTS, json=body())
    assert len(sandbox.live_events()) == 1


async def test_timeout_after_acting_hangs_past_the_client_timeout_after_doing_the_work(
    api: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    sandbox.faults.hang_seconds = 0.5
    sandbox.faults.fail_next(EVENTS, "timeout_after_acting")
    with pytest.raises(httpx.ReadTimeout):
        await api.post(EVENTS, json=body(), timeout=0.2)
    assert len(sandbox.live_events()) == 1


async def test_faults_match_by_method_and_reject_unknown_kinds(
    api: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    sandbox.faults.fail_next(EVENTS, "5xx", method="DELETE")
    assert (await api.post(EVENTS, json=body(id="abcde12345"))).status_code == 200
    assert (await api.delete(f"{EVENTS}/abcde12345")).status_code == 500
    with pytest.raises(ValueError, match="unknown fault kind"):
        sandbox.faults.fail_next(EVENTS, "explode")
    assert "revoke_grant" in FAULT_KINDS


async def test_mounted_under_a_prefix_every_url_carries_the_prefix(
    sandbox: SandboxState, http: httpx.AsyncClient
) -> None:
    outer = Starlette(routes=[Mount("/sandbox/google_meet", app=create_app(sandbox))])
    with serve_in_thread(outer) as base:
        index = (await http.get(f"{base}/sandbox/google_meet/")).json()
        assert index["endpoints"]["token_url"] == f"{base}/sandbox/google_meet/token"
        page = await http.get(
            index["endpoints"]["authorize_url"],
            params={
                "response_type": "code",
                "client_id": CLIENT_ID,
                "scope": "openid",
                "redirect_uri": next(iter(sandbox.clients[CLIENT_ID].redirect_uris)),
            },
        )
        assert f"action='{base}/sandbox/google_meet/o/oauth2/v2/auth/consent'" in page.text
        sandbox.faults.fail_next("/token", "5xx")  # fault paths are relative to the mount
        assert (await http.post(index["endpoints"]["token_url"])).status_code == 500
