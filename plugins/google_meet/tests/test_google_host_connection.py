"""The Google Meet plugin under the host's own connection service and token manager
(database, vault, refresh lock), against the sandbox over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google_meet_testkit import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    consent,
    meeting_request,
)
from sqlalchemy import select

from meetbridge.conferencing.connections import ConnectionService, PendingConnect
from meetbridge.models import Connection, ConnectionStatus, Organization, User
from meetbridge.plugins import build_plugin_host
from meetbridge.providers import ConnectFailed, GrantRevoked, InsufficientScope
from meetbridge.services import Services
from meetbridge.settings import ProviderSettings
from meetbridge_google_meet.info import CALENDAR_EVENTS_SCOPE
from meetbridge_google_meet.sandbox import ManualClock, SandboxState, sandbox_endpoints

PROVIDER = "google_meet"


@pytest.fixture
def services(meetbridge_settings: Any, sandbox_url: str, clock: ManualClock) -> Iterator[Services]:
    google = ProviderSettings(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=REDIRECT_URI,
        options={"conference_poll_interval_seconds": 0.01},
        **sandbox_endpoints(sandbox_url),
    )
    settings = meetbridge_settings.model_copy(
        update={"providers": {**meetbridge_settings.providers, PROVIDER: google}}
    )
    svc = Services(settings=settings, plugins=build_plugin_host(env={}), clock=clock)
    yield svc
    svc.close()


@pytest.fixture
def member(services: Services) -> int:
    with services.sessions() as session, session.begin():
        org = Organization(name="Example", slug="example")
        user = User(organization=org, email="alice@example.com")
        session.add_all([org, user])
        session.flush()
        return user.id


def _connections(services: Services) -> list[Connection]:
    with services.sessions() as session:
        return list(session.scalars(select(Connection)))


async def _start(service: ConnectionService, member: int) -> PendingConnect:
    return await service.start_connect(user_id=member, provider=PROVIDER)


async def test_connect_refresh_and_dead_grant_through_the_host(
    services: Services,
    member: int,
    sandbox: SandboxState,
    clock: ManualClock,
    http: httpx.AsyncClient,
) -> None:
    service = ConnectionService(services)
    pending = await _start(service, member)
    back = await consent(http, pending.url)
    conn = await service.complete_connect(pending, state=back["state"], code=back["code"])
    alice = sandbox.account_by_email("alice@example.com")
    assert alice is not None
    assert conn.status == ConnectionStatus.ACTIVE
    assert (conn.external_account_id, conn.email) == (alice.sub, "alice@example.com")
    assert CALENDAR_EVENTS_SCOPE in conn.scopes
    assert conn.connected_at is not None

    # The access token expires: the host refreshes it and keeps Google's refresh token.
    clock.advance(hours=2)
    credentials = service.credentials(conn)
    ctx = services.provider_context(PROVIDER)
    meeting = await services.plugins.call(
        "create_meeting", PROVIDER, context=ctx, request=meeting_request(), credentials=credentials
    )
    assert meeting.join_url.startswith("https://meet.google.com/")
    assert services.vault is not None
    [stored] = _connections(services)
    tokens = services.vault.decrypt_tokens(stored.token_ciphertext or b"")
    assert tokens.refresh_token is not None
    assert tokens.refresh_token.reveal() in sandbox.refresh_tokens
    assert sandbox.refresh_calls == 1

    # The person removes meetbridge in their Google account; the next refresh finds out.
    sandbox.revoke_grant(CLIENT_ID, alice.sub)
    clock.advance(hours=2)
    with pytest.raises(GrantRevoked, match="Token has been expired or revoked"):
        await services.plugins.call(
            "create_meeting",
            PROVIDER,
            context=ctx,
            request=meeting_request("b-2"),
            credentials=credentials,
        )
    [after] = _connections(services)
    assert after.status == ConnectionStatus.NEEDS_RECONNECT
    assert after.token_ciphertext is None
    assert "Token has been expired or revoked." in (after.last_error or "")


async def test_unticked_calendar_scope_stores_nothing(
    services: Services, member: int, http: httpx.AsyncClient
) -> None:
    service = ConnectionService(services)
    pending = await _start(service, member)
    back = await consent(http, pending.url, scopes=())
    with pytest.raises(InsufficientScope, match="tick"):
        await service.complete_connect(pending, state=back["state"], code=back["code"])
    assert _connections(services) == []


async def test_access_denied_bad_state_and_reused_code_store_nothing_new(
    services: Services, member: int, http: httpx.AsyncClient
) -> None:
    service = ConnectionService(services)
    pending = await _start(service, member)
    denied = await consent(http, pending.url, allow=False)
    with pytest.raises(ConnectFailed, match="declined"):
        await service.complete_connect(pending, state=denied["state"], error=denied["error"])

    pending = await _start(service, member)
    back = await consent(http, pending.url)
    with pytest.raises(ConnectFailed, match="state does not match"):
        await service.complete_connect(pending, state="forged", code=back["code"])
    assert _connections(services) == []

    await service.complete_connect(pending, state=back["state"], code=back["code"])
    with pytest.raises(ConnectFailed, match="already used"):
        await service.complete_connect(pending, state=back["state"], code=back["code"])
    assert len(_connections(services)) == 1


async def test_disconnect_deletes_the_tokens_and_revokes_the_grant_at_google(
    services: Services, member: int, sandbox: SandboxState, http: httpx.AsyncClient
) -> None:
    service = ConnectionService(services)
    pending = await _start(service, member)
    back = await consent(http, pending.url)
    conn = await service.complete_connect(pending, state=back["state"], code=back["code"])
    assert sandbox.grants
    assert await service.disconnect(conn.id, actor="alice@example.com") is True
    [after] = _connections(services)
    assert (after.status, after.token_ciphertext) == (ConnectionStatus.REVOKED, None)
    assert sandbox.grants == {}
    assert sandbox.refresh_tokens == {} and sandbox.access_tokens == {}
