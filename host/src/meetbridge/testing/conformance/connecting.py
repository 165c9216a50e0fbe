"""Contract: connecting an account, and the ways a connect goes wrong.

A bad ``state`` is refused by the host before any plugin is asked, so it is not here. What the
plugin answers for is the URL it builds, the code exchange, and clear ``ConnectFailed`` errors
for a code that is wrong or already used; a person who declines must come back to meetbridge
with ``error=access_denied`` and the same ``state``.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from meetbridge.providers import (
    Capability,
    ConnectedAccount,
    ConnectFailed,
    PreflightWarning,
    Room,
    Secret,
)
from meetbridge.testing.conformance.kit import Kit, contract


def assert_no_secret_in(message: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in message, "an error message shows a code, verifier or token"


class ConnectContract:
    @contract(Capability.CONNECT)
    async def test_the_authorization_url_carries_state_redirect_and_pkce(self, kit: Kit) -> None:
        """The URL has the exact redirect URI, the state, and the S256 code challenge."""
        attempt = await kit.start_connect()
        query = attempt.query
        authorize = urlsplit(kit.harness.context().endpoint("authorize_url"))
        assert urlsplit(attempt.url).netloc == authorize.netloc, "not the authorize_url setting"
        assert query.get("state") == attempt.state
        assert query.get("redirect_uri") == kit.harness.redirect_uri
        assert query.get("code_challenge"), "no PKCE code_challenge in the authorization URL"
        assert query.get("code_challenge_method") == "S256"
        assert attempt.code_verifier not in attempt.url

    @contract(Capability.CONNECT)
    async def test_connect_returns_the_account_and_its_tokens(self, kit: Kit) -> None:
        """Whose account it is (id, email) and tokens wrapped as secrets, expiring in future."""
        account = await kit.connect()
        assert isinstance(account, ConnectedAccount)
        assert account.external_account_id, "ConnectedAccount.external_account_id is empty"
        assert "@" in account.email, f"ConnectedAccount.email is {account.email!r}"
        assert isinstance(account.tokens.access_token, Secret) and account.tokens.access_token
        if account.tokens.expires_at is not None:
            assert account.tokens.expires_at.tzinfo is not None, "expires_at must be aware (UTC)"
            assert account.tokens.expires_at > kit.harness.clock()
        if kit.supports(Capability.REFRESH):
            assert account.tokens.refresh_token, (
                "a provider that refreshes must keep a refresh token"
            )
        assert account.tokens.access_token.reveal() not in repr(account)

    @contract(Capability.CONNECT)
    async def test_a_wrong_code_is_connect_failed(self, kit: Kit) -> None:
        """A code the provider never issued: ConnectFailed, saying what to do, showing no secret."""
        attempt = await kit.start_connect()
        code = "not-a-code-the-provider-issued"
        with pytest.raises(ConnectFailed) as failure:
            await kit.finish_connect(attempt, code)
        assert failure.value.message.strip()
        assert not failure.value.retryable
        assert_no_secret_in(str(failure.value), code, attempt.code_verifier)

    @contract(Capability.CONNECT)
    async def test_a_used_code_is_connect_failed(self, kit: Kit) -> None:
        """Codes work once: the second exchange of the same code is ConnectFailed."""
        attempt = await kit.start_connect()
        back = await kit.harness.consent(attempt.url)
        await kit.finish_connect(attempt, back["code"])
        with pytest.raises(ConnectFailed) as failure:
            await kit.finish_connect(attempt, back["code"])
        assert_no_secret_in(str(failure.value), back["code"], attempt.code_verifier)

    @contract(Capability.CONNECT)
    async def test_declining_comes_back_as_access_denied_with_the_state(self, kit: Kit) -> None:
        """The person clicks Deny: back to meetbridge with error=access_denied, same state."""
        attempt = await kit.start_connect()
        back = await kit.harness.consent(attempt.url, allow=False)
        assert back.get("error") == "access_denied", dict(back)
        assert back.get("state") == attempt.state
        assert "code" not in back

    @contract(Capability.ACCOUNT_LEVEL)
    async def test_an_account_level_connection_is_an_admin_account(self, kit: Kit) -> None:
        """An organisation-wide connection is made by, and marked as, an admin of the account."""
        account = await kit.connect(account_level=True)
        assert account.is_admin
        assert account.organization_id, "an account-level connection names its organisation"

    @contract(Capability.ROOMS)
    async def test_rooms_are_listed_for_an_account_level_connection(self, kit: Kit) -> None:
        """list_rooms answers a list of Room for an account-level connection."""
        account = await kit.connect(account_level=True)
        rooms = await kit.call("list_rooms", credentials=kit.credentials(account))
        assert isinstance(rooms, list) and all(isinstance(r, Room) for r in rooms)

    @contract(Capability.PREFLIGHT)
    async def test_preflight_answers_a_list_of_warnings(self, kit: Kit) -> None:
        """Right after connecting and for a meeting type's duration: a list, maybe empty."""
        account = await kit.connect()
        for duration in (None, 30, 90):
            warnings = await kit.call("preflight", account=account, duration_minutes=duration)
            assert isinstance(warnings, list)
            assert all(isinstance(w, PreflightWarning) and w.code and w.message for w in warnings)

    @contract(Capability.CONNECT)
    async def test_the_connected_tokens_work_for_a_meeting(self, kit: Kit) -> None:
        """What connect returned is enough to create a meeting (no hidden setup step)."""
        account = await kit.connect()
        request = kit.request(start=kit.harness.clock() + timedelta(days=3))
        meeting = await kit.create(kit.credentials(account), request)
        assert meeting.external_id
