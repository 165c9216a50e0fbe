"""Contract: refreshing tokens, a dead grant, and disconnecting."""

from __future__ import annotations

import pytest

from meetbridge.providers import Capability, GrantRevoked
from meetbridge.testing.conformance.kit import Kit, contract


class TokenContract:
    @contract(Capability.REFRESH)
    async def test_refresh_returns_a_new_working_access_token(self, kit: Kit) -> None:
        """A new access token expiring later, a refresh token to use next time, and it works."""
        account = await kit.connect()
        fresh = await kit.call("refresh_credentials", tokens=account.tokens)
        assert fresh.access_token != account.tokens.access_token
        assert fresh.refresh_token, "the refreshed set has no refresh token for next time"
        if fresh.expires_at is not None:
            assert fresh.expires_at > kit.harness.clock()
        meeting = await kit.create(kit.credentials(fresh), kit.request())
        assert meeting.external_id

    @contract(Capability.REFRESH)
    async def test_a_dead_grant_is_grant_revoked_on_refresh(self, kit: Kit) -> None:
        """Revoked at the provider: GrantRevoked (not retryable) so the host asks to reconnect."""
        account = await kit.connect()
        kit.harness.kill_grant(account)
        with pytest.raises(GrantRevoked) as failure:
            await kit.call("refresh_credentials", tokens=account.tokens)
        assert not failure.value.retryable
        assert account.tokens.refresh_token is not None
        assert account.tokens.refresh_token.reveal() not in str(failure.value)

    @contract(Capability.REFRESH)
    async def test_a_dead_grant_surfaces_as_grant_revoked_from_a_meeting_call(
        self, kit: Kit
    ) -> None:
        """The rejected token is refreshed once through the host; the dead grant then shows."""
        account = await kit.connect()
        kit.harness.kill_grant(account)
        with pytest.raises(GrantRevoked):
            await kit.create(kit.credentials(account), kit.request())

    @contract(Capability.CONNECT)
    async def test_disconnect_answers_a_bool(self, kit: Kit) -> None:
        """True when the provider confirmed a revocation; False when it has no revoke endpoint."""
        account = await kit.connect()
        revoked = await kit.call("disconnect", tokens=account.tokens)
        assert isinstance(revoked, bool), f"disconnect returned {type(revoked).__name__}"
        assert revoked is kit.supports(Capability.REVOKE), (
            "disconnect must return True exactly when the provider confirmed revoking (REVOKE)"
        )

    @contract(Capability.REVOKE, Capability.REFRESH)
    async def test_after_disconnect_the_grant_is_dead(self, kit: Kit) -> None:
        account = await kit.connect()
        assert await kit.call("disconnect", tokens=account.tokens) is True
        with pytest.raises(GrantRevoked):
            await kit.call("refresh_credentials", tokens=account.tokens)

    @contract(Capability.CONNECT)
    async def test_disconnect_never_raises_when_the_provider_is_unreachable(self, kit: Kit) -> None:
        """The host already deleted the tokens; a network failure here is just False."""
        account = await kit.connect()
        revoked = await kit.call(
            "disconnect", context=kit.harness.unreachable_context(), tokens=account.tokens
        )
        assert revoked is False

    @contract(Capability.REVOKE)
    async def test_disconnect_never_raises_on_a_5xx(self, kit: Kit) -> None:
        account = await kit.connect()
        kit.harness.fail_next("revoke", "5xx", times=3)
        assert await kit.call("disconnect", tokens=account.tokens) is False
