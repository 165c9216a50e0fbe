"""Tokens and errors over real HTTP: rotating refresh tokens, one retry on a rejected token,
dead grants, throttling with Retry-After, the monthly meetings quota, missing permissions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from teams_support import PERSONAL, WORK, Teams, meeting_request

from meetbridge.providers import (
    ConnectedAccount,
    GrantRevoked,
    InsufficientScope,
    ProviderUnavailable,
    RateLimited,
    TokenSet,
    UnsupportedAccount,
)
from meetbridge_teams.client import MonthlyMeetingLimitReached
from meetbridge_teams.sandbox import DEFAULT_CLIENT_ID


async def test_refresh_rotates_and_the_new_refresh_token_is_kept(teams: Teams) -> None:
    account = await teams.connect(WORK)
    first = account.tokens
    second = await teams.call("refresh_credentials", tokens=first)
    third = await teams.call("refresh_credentials", tokens=second)

    assert second.refresh_token != first.refresh_token
    assert third.refresh_token != second.refresh_token
    assert second.access_token != first.access_token
    assert teams.state.refresh_calls == 2
    # Microsoft leaves the previous refresh token valid until it expires.
    again = await teams.call("refresh_credentials", tokens=first)
    assert again.refresh_token not in {first.refresh_token, second.refresh_token}


async def test_expired_access_token_is_refreshed_once_before_the_call(teams: Teams) -> None:
    account = await teams.connect(WORK)
    credentials = teams.credentials(account)
    teams.clock.advance(hours=2)  # past the access token's expiry

    meeting = await teams.call("create_meeting", request=meeting_request(), credentials=credentials)
    assert meeting.join_url
    assert credentials.refresh_count == 1
    assert credentials.tokens.refresh_token != account.tokens.refresh_token


async def test_concurrent_calls_with_an_expired_token_cause_one_refresh(teams: Teams) -> None:
    account = await teams.connect(WORK)
    credentials = teams.credentials(account)
    teams.clock.advance(hours=2)
    await asyncio.gather(
        *(
            teams.call(
                "create_meeting",
                credentials=credentials,
                request=meeting_request(idempotency_key=f"booking-{i}"),
            )
            for i in range(5)
        )
    )
    assert teams.state.refresh_calls == 1
    assert len(teams.state.meetings) == 5


async def test_rejected_token_is_refreshed_once_and_the_call_retried_once(teams: Teams) -> None:
    account = await teams.connect(WORK)
    credentials = teams.credentials(account)
    teams.state.access_tokens[account.tokens.access_token.reveal()].revoked = True

    meeting = await teams.call("create_meeting", request=meeting_request(), credentials=credentials)
    assert meeting.external_id in teams.state.meetings
    assert credentials.refresh_count == 1


async def test_dead_grant_raises_grant_revoked_with_the_aadsts_reason(teams: Teams) -> None:
    account = await teams.connect(WORK)
    credentials = teams.credentials(account)
    teams.state.faults.fail_next("/v1.0/me/onlineMeetings", "revoke_grant")

    with pytest.raises(GrantRevoked) as caught:
        await teams.call("create_meeting", request=meeting_request(), credentials=credentials)

    message = str(caught.value)
    assert caught.value.provider_code == "AADSTS50173"
    assert "AADSTS50173" in message and "Reconnect Microsoft Teams" in message
    assert "Trace ID" not in message  # only the first line of the description
    for secret in (account.tokens.access_token.reveal(), account.tokens.refresh_token.reveal()):
        assert secret not in message and secret not in repr(caught.value)
    assert teams.state.meetings == {}


async def test_consent_removed_by_the_person_is_a_dead_grant(teams: Teams) -> None:
    account = await teams.connect(WORK)
    person = teams.state.account_by_login(WORK)
    tenant = teams.state.tenants[person.tenant_id]
    tenant.consented_clients.discard(DEFAULT_CLIENT_ID)  # consent was the user's own
    teams.state.remove_consent(person.id, DEFAULT_CLIENT_ID)
    with pytest.raises(GrantRevoked) as caught:
        await teams.call("refresh_credentials", tokens=account.tokens)
    assert caught.value.provider_code == "AADSTS65001"


async def test_refresh_token_unused_for_90_days_is_a_dead_grant(teams: Teams) -> None:
    account = await teams.connect(WORK)
    teams.clock.advance(days=91)
    with pytest.raises(GrantRevoked) as caught:
        await teams.call("refresh_credentials", tokens=account.tokens)
    assert caught.value.provider_code == "AADSTS700082"


async def test_disconnect_returns_false_without_calling_microsoft(teams: Teams) -> None:
    account = await teams.connect(WORK)
    calls_before = (teams.state.token_calls, teams.state.graph_calls)

    class NoNetwork:
        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"disconnect used the network ({name})")

    assert (
        await teams.call(
            "disconnect", context=teams.context(http=NoNetwork()), tokens=account.tokens
        )
        is False
    )
    assert (teams.state.token_calls, teams.state.graph_calls) == calls_before


@pytest.mark.parametrize(
    ("fault", "error", "status"),
    [
        ("rate_limit_qps", RateLimited, 429),
        ("503_retry_after", ProviderUnavailable, 503),
    ],
)
async def test_throttling_honours_retry_after_seconds(
    teams: Teams, fault: str, error: type[Exception], status: int
) -> None:
    account = await teams.connect(WORK)
    teams.state.faults.fail_next("/v1.0/me/onlineMeetings", fault)
    with pytest.raises(error) as caught:
        await teams.call(
            "create_meeting", request=meeting_request(), credentials=teams.credentials(account)
        )
    assert caught.value.retry_after == 7
    assert caught.value.retryable
    assert caught.value.provider_code.startswith(str(status))
    assert not isinstance(caught.value, MonthlyMeetingLimitReached)


async def test_configured_per_second_limit_throttles_with_retry_after(teams: Teams) -> None:
    account = await teams.connect(WORK)
    teams.state.rate_limit_per_second = 1
    credentials = teams.credentials(account)
    with pytest.raises(RateLimited) as caught:
        # createOrGet then the lobby PATCH: the second call in the same second is throttled.
        await teams.call("create_meeting", request=meeting_request(), credentials=credentials)
    assert caught.value.retry_after == 1
    assert caught.value.ambiguous  # the meeting exists; a retry finds it


async def test_server_error_is_provider_unavailable(teams: Teams) -> None:
    account = await teams.connect(WORK)
    teams.state.faults.fail_next("/v1.0/me/onlineMeetings", "5xx")
    with pytest.raises(ProviderUnavailable) as caught:
        await teams.call(
            "create_meeting", request=meeting_request(), credentials=teams.credentials(account)
        )
    assert "generalException" in caught.value.provider_code


@pytest.mark.parametrize("how", ["quota", "fault"])
async def test_monthly_meetings_quota_is_reported_with_when_it_resets(
    teams: Teams, how: str
) -> None:
    account = await teams.connect(WORK)
    if how == "quota":
        teams.state.set_monthly_count(account.external_account_id, DEFAULT_CLIENT_ID, 2000)
    else:
        teams.state.faults.fail_next("/v1.0/me/onlineMeetings/createOrGet", "rate_limit_daily")

    with pytest.raises(MonthlyMeetingLimitReached) as caught:
        await teams.call(
            "create_meeting", request=meeting_request(), credentials=teams.credentials(account)
        )

    error = caught.value
    assert isinstance(error, RateLimited)
    assert error.resets_at == datetime(2026, 4, 1, tzinfo=UTC)
    assert error.retry_after == (datetime(2026, 4, 1, tzinfo=UTC) - teams.clock()).total_seconds()
    assert "2,000 Teams meetings per user per month" in str(error)
    assert "2026-04-01" in str(error)
    assert WORK in str(error)


async def test_monthly_quota_is_per_month(teams: Teams) -> None:
    account = await teams.connect(WORK)
    teams.state.monthly_meeting_limit = 1
    credentials = teams.credentials(account)
    await teams.call("create_meeting", request=meeting_request(), credentials=credentials)
    with pytest.raises(MonthlyMeetingLimitReached):
        await teams.call(
            "create_meeting",
            request=meeting_request(idempotency_key="b-2"),
            credentials=credentials,
        )
    teams.clock.advance(days=30)  # April now
    credentials.tokens = await teams.call("refresh_credentials", tokens=credentials.tokens)
    meeting = await teams.call(
        "create_meeting", request=meeting_request(idempotency_key="b-2"), credentials=credentials
    )
    assert meeting.join_url


async def test_missing_permission_is_insufficient_scope_naming_it(teams: Teams) -> None:
    account = await teams.connect(WORK)
    teams.state.access_tokens[account.tokens.access_token.reveal()].scopes = ("User.Read",)
    with pytest.raises(InsufficientScope) as caught:
        await teams.call(
            "create_meeting", request=meeting_request(), credentials=teams.credentials(account)
        )
    assert "OnlineMeetings.ReadWrite" in str(caught.value)
    assert "admin consent" in str(caught.value)


async def test_personal_account_that_slipped_through_gets_a_clear_refusal(teams: Teams) -> None:
    person = teams.state.account_by_login(PERSONAL)
    body = teams.state.issue_tokens(
        person,
        DEFAULT_CLIENT_ID,
        ("offline_access", "User.Read", "OnlineMeetings.ReadWrite"),
        tenant_path="common",
    )
    account = ConnectedAccount(
        tokens=TokenSet.from_oauth_response(body, teams.clock()),
        external_account_id=person.id,
        email=PERSONAL,
    )
    with pytest.raises(UnsupportedAccount) as caught:
        await teams.call(
            "create_meeting", request=meeting_request(), credentials=teams.credentials(account)
        )
    assert "personal Microsoft accounts" in str(caught.value)
    assert caught.value.provider_code == "AuthenticationError"
