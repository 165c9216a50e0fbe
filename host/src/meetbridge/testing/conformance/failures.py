"""Contract: failures map to meetbridge's errors, and a retried create makes no duplicate.

The host decides from the exception class alone whether to retry later, ask the person to
reconnect or fall back, so a provider's 5xx must be ``ProviderUnavailable`` (retryable), a
throttle ``RateLimited``, and a request that may have been carried out although no answer came
back must say so (``ambiguous``): the retry then looks before it creates.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from meetbridge.providers import (
    Capability,
    DeleteOutcome,
    GrantRevoked,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
)
from meetbridge.testing.conformance.kit import Kit, contract


def assert_clean(error: BaseException, *secrets: str) -> None:
    """A message a person can read, with no token in it."""
    assert str(error).strip(), f"{type(error).__name__} without a message"
    for secret in secrets:
        assert secret not in str(error), "an error message shows a token"


class FailureContract:
    @contract(keeps_meetings=True)
    async def test_a_retry_after_an_ambiguous_create_makes_no_second_meeting(
        self, kit: Kit
    ) -> None:
        """The provider made the meeting but the answer was lost; the retry returns that one."""
        credentials = kit.credentials(await kit.account())
        request = kit.request()
        kit.harness.fail_next("create", "reset_after_acting")
        with pytest.raises(ProviderError) as failure:
            await kit.create(credentials, request)
        assert failure.value.retryable and failure.value.ambiguous, (
            f"a lost answer must be retryable and ambiguous, got {failure.value!r}"
        )
        assert len(await kit.live()) == 1, "the sandbox did not act before dropping the answer"

        retry = replace(request, attempt=2, previous_attempt_ambiguous=True)
        meeting = await kit.create(credentials, retry)
        held = await kit.live()
        assert len(held) == 1, f"the retry made a second meeting: the provider holds {held}"
        assert held[0].external_id == meeting.external_id

    @contract(Capability.IDEMPOTENT_CREATE, keeps_meetings=True)
    async def test_a_repeated_create_for_the_same_booking_returns_the_same_meeting(
        self, kit: Kit
    ) -> None:
        """With IDEMPOTENT_CREATE, a second attempt with the same key never makes another."""
        credentials = kit.credentials(await kit.account())
        request = kit.request()
        first = await kit.create(credentials, request)
        again = await kit.create(credentials, replace(request, attempt=2))
        assert again.external_id == first.external_id
        assert len(await kit.live()) == 1

    @contract(keeps_meetings=True)
    async def test_a_5xx_on_create_is_provider_unavailable_and_makes_nothing(
        self, kit: Kit
    ) -> None:
        """A 500 is retryable, not ambiguous (the provider said it did nothing)."""
        account = await kit.account()
        kit.harness.fail_next("create", "5xx")
        with pytest.raises(ProviderUnavailable) as failure:
            await kit.create(kit.credentials(account), kit.request())
        assert failure.value.retryable and not failure.value.ambiguous
        assert_clean(failure.value, *_tokens(account))
        assert await kit.live() == []

    @contract(keeps_meetings=True)
    async def test_a_5xx_on_update_is_provider_unavailable(self, kit: Kit) -> None:
        credentials = kit.credentials(await kit.account())
        request = kit.request()
        meeting = await kit.create(credentials, request)
        kit.harness.fail_next("update", "5xx")
        with pytest.raises(ProviderUnavailable) as failure:
            await kit.update(credentials, meeting, request)
        assert failure.value.retryable

    @contract(keeps_meetings=True)
    async def test_a_5xx_on_delete_is_provider_unavailable_not_done(self, kit: Kit) -> None:
        """A failed delete must not be reported as done: the meeting is still there."""
        credentials = kit.credentials(await kit.account())
        meeting = await kit.create(credentials, kit.request())
        kit.harness.fail_next("delete", "5xx")
        with pytest.raises(ProviderUnavailable):
            await kit.delete(credentials, meeting)
        assert await kit.observe(meeting.external_id) is not None
        assert await kit.delete(credentials, meeting) == DeleteOutcome.DELETED

    @contract(keeps_meetings=True)
    async def test_a_throttled_create_is_rate_limited(self, kit: Kit) -> None:
        """However the provider says "slow down", the host sees RateLimited (retryable)."""
        credentials = kit.credentials(await kit.account())
        kit.harness.fail_next("create", "rate_limit", times=5)
        with pytest.raises(RateLimited) as failure:
            await kit.create(credentials, kit.request())
        assert failure.value.retryable
        assert failure.value.retry_after is None or failure.value.retry_after >= 0

    @contract(keeps_meetings=True)
    async def test_an_unreachable_provider_is_unavailable_and_not_ambiguous(self, kit: Kit) -> None:
        """Nothing was sent when the connection is refused, so the retry need not look first."""
        credentials = kit.credentials(await kit.account())
        with pytest.raises(ProviderUnavailable) as failure:
            await kit.call(
                "create_meeting",
                context=kit.harness.unreachable_context(),
                request=kit.request(),
                credentials=credentials,
            )
        assert failure.value.retryable and not failure.value.ambiguous

    @contract(Capability.REFRESH)
    async def test_a_5xx_on_refresh_is_retryable_not_a_dead_grant(self, kit: Kit) -> None:
        """An outage at the token endpoint must never make people reconnect."""
        account = await kit.connect()
        kit.harness.fail_next("refresh", "5xx")
        with pytest.raises(ProviderError) as failure:
            await kit.call("refresh_credentials", tokens=account.tokens)
        assert not isinstance(failure.value, GrantRevoked), "a 5xx is not a dead grant"
        assert failure.value.retryable, f"{failure.value!r} should be retryable"
        assert_clean(failure.value, *_tokens(account))


def _tokens(account: object) -> list[str]:
    tokens = getattr(account, "tokens", None)
    if tokens is None:
        return []
    found = [tokens.access_token.reveal()]
    if tokens.refresh_token:
        found.append(tokens.refresh_token.reveal())
    return found
