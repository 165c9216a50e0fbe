"""Google's error answers and network failures, mapped to meetbridge's errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from google_meet_testkit import meeting_request
from google_meet_testkit import provider_context as make_context

from meetbridge.plugins import PluginHost
from meetbridge.providers import (
    DailyLimitReached,
    InsufficientScope,
    MeetingRef,
    ProviderContext,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    Secret,
    TokenSet,
    UnsupportedAccount,
    WrongCredential,
)
from meetbridge.testing.credentials import MemoryCredentials
from meetbridge_google_meet.errors import map_transport_error, retry_after_seconds

EVENTS = "https://www.googleapis.com/calendar/v3/calendars/primary/events"
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
async def ctx(host: PluginHost) -> AsyncIterator[ProviderContext]:
    async with httpx.AsyncClient() as http:
        # No inline retries here: each test sees the mapping of one answer.
        yield make_context(host, http, lambda: NOW, options={"rate_limit_retries": 0})


def creds() -> MemoryCredentials:
    tokens = TokenSet(
        access_token=Secret("ya29.secret-token"),
        refresh_token=Secret("1//r"),
        expires_at=NOW + timedelta(hours=1),
    )
    return MemoryCredentials(tokens, external_account_id="1", clock=lambda: NOW)


def google_error(status: int, reason: str, message: str, domain: str = "global") -> dict[str, Any]:
    return {
        "error": {
            "errors": [{"domain": domain, "reason": reason, "message": message}],
            "code": status,
            "message": message,
        }
    }


async def create(host: PluginHost, ctx: ProviderContext) -> Any:
    return await host.call(
        "create_meeting", "google_meet", context=ctx, request=meeting_request(), credentials=creds()
    )


@pytest.mark.parametrize(
    ("status", "reason", "domain", "expected", "retry_after"),
    [
        (403, "rateLimitExceeded", "usageLimits", RateLimited, 60.0),
        (429, "rateLimitExceeded", "usageLimits", RateLimited, 60.0),
        (403, "userRateLimitExceeded", "usageLimits", RateLimited, 60.0),
        (403, "quotaExceeded", "usageLimits", RateLimited, 3600.0),
        (403, "dailyLimitExceeded", "usageLimits", DailyLimitReached, 17 * 3600.0),
        (403, "insufficientPermissions", "global", InsufficientScope, None),
        (403, "domainPolicy", "global", UnsupportedAccount, None),
        (403, "forbiddenForNonOrganizer", "calendar", WrongCredential, None),
        (400, "timeRangeEmpty", "calendar", ProviderError, None),
        (500, "backendError", "global", ProviderUnavailable, None),
        (503, "backendError", "global", ProviderUnavailable, None),
    ],
)
async def test_google_error_reasons_map_to_meetbridge_errors(
    host: PluginHost,
    ctx: ProviderContext,
    status: int,
    reason: str,
    domain: str,
    expected: type[ProviderError],
    retry_after: float | None,
) -> None:
    with respx.mock:
        respx.post(EVENTS).respond(
            status, json=google_error(status, reason, "Google says no", domain)
        )
        with pytest.raises(expected) as caught:
            await create(host, ctx)
    error = caught.value
    assert type(error) is expected
    assert error.provider == "google_meet"
    assert error.provider_code == reason
    assert error.retry_after == retry_after
    assert error.retryable is (expected in (RateLimited, DailyLimitReached, ProviderUnavailable))
    assert "ya29.secret-token" not in error.message


async def test_insufficient_permissions_says_how_to_fix_it(
    host: PluginHost, ctx: ProviderContext
) -> None:
    with respx.mock:
        respx.post(EVENTS).respond(
            403,
            json=google_error(
                403, "insufficientPermissions", "Request had insufficient authentication scopes."
            ),
        )
        with pytest.raises(InsufficientScope) as caught:
            await create(host, ctx)
    assert "connect again" in caught.value.message
    assert "tick the box" in caught.value.message


async def test_retry_after_from_google_is_passed_on(host: PluginHost, ctx: ProviderContext) -> None:
    with respx.mock:
        respx.post(EVENTS).respond(
            429,
            headers={"Retry-After": "7"},
            json=google_error(429, "rateLimitExceeded", "slow down"),
        )
        with pytest.raises(RateLimited) as caught:
            await create(host, ctx)
    assert caught.value.retry_after == 7.0


async def test_a_bare_429_or_an_html_5xx_is_still_understood(
    host: PluginHost, ctx: ProviderContext
) -> None:
    with respx.mock:
        respx.post(EVENTS).respond(429, text="Too Many Requests")
        with pytest.raises(RateLimited):
            await create(host, ctx)
    with respx.mock:
        respx.post(EVENTS).respond(502, html="<html>Bad Gateway</html>")
        with pytest.raises(ProviderUnavailable):
            await create(host, ctx)


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    def answer(value: str) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": value})

    assert retry_after_seconds(answer("12"), NOW) == 12.0
    assert retry_after_seconds(answer("Mon, 02 Mar 2026 15:00:30 GMT"), NOW) == 30.0
    assert retry_after_seconds(answer("soon"), NOW) is None
    assert retry_after_seconds(httpx.Response(429), NOW) is None


@pytest.mark.parametrize(
    ("exc", "ambiguous"),
    [
        (httpx.ReadTimeout("timed out"), True),
        (httpx.RemoteProtocolError("peer closed connection"), True),
        (httpx.ReadError("connection reset"), True),
        (httpx.ConnectError("refused"), False),
        (httpx.ConnectTimeout("no route"), False),
    ],
)
async def test_network_failures_on_create_are_unavailable_and_ambiguous_once_sent(
    host: PluginHost, ctx: ProviderContext, exc: Exception, ambiguous: bool
) -> None:
    with respx.mock:
        respx.post(EVENTS).mock(side_effect=exc)
        with pytest.raises(ProviderUnavailable) as caught:
            await create(host, ctx)
    assert caught.value.ambiguous is ambiguous
    assert caught.value.retryable


async def test_a_failure_after_the_event_was_made_is_ambiguous_even_on_a_read(
    host: PluginHost, ctx: ProviderContext
) -> None:
    # The insert went through (conference pending) and then a poll timed out: the event
    # exists, so the host must treat the create as possibly done.
    with respx.mock:
        respx.post(EVENTS).respond(
            json={
                "id": "e1234",
                "conferenceData": {
                    "createRequest": {"requestId": "r", "status": {"statusCode": "pending"}}
                },
            }
        )
        respx.get(f"{EVENTS}/e1234").mock(side_effect=httpx.ReadTimeout("timed out"))
        with pytest.raises(ProviderUnavailable) as caught:
            await create(host, ctx)
    assert caught.value.ambiguous is True


def test_a_lost_answer_to_a_read_alone_is_not_ambiguous() -> None:
    error = map_transport_error(httpx.ReadTimeout("timed out"), action="read", mutating=False)
    assert (error.retryable, error.ambiguous) == (True, False)


async def test_deleting_with_a_non_organizer_account_is_a_wrong_credential(
    host: PluginHost, ctx: ProviderContext
) -> None:
    with respx.mock:
        respx.delete(f"{EVENTS}/evt12345").respond(
            403,
            json=google_error(403, "forbidden", "You need to have writer access to this calendar."),
        )
        with pytest.raises(WrongCredential):
            await host.call(
                "delete_meeting",
                "google_meet",
                context=ctx,
                meeting=MeetingRef(external_id="evt12345"),
                credentials=creds(),
            )
