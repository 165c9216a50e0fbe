"""The Teams plugin under the host's own connection service and token manager (database,
vault, refresh lock), against the sandbox over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from teams_support import PERSONAL, REDIRECT_URI, WORK, FakeClock, Teams, meeting_request

from meetbridge.conferencing.connections import ConnectionService
from meetbridge.models import Connection, ConnectionStatus, Organization, User
from meetbridge.plugins import build_plugin_host
from meetbridge.providers import GrantRevoked, UnsupportedAccount
from meetbridge.services import Services
from meetbridge.settings import ProviderSettings
from meetbridge_teams.sandbox import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    SandboxState,
    sandbox_endpoints,
)


@pytest.fixture
def services(meetbridge_settings: Any, sandbox_url: str, clock: FakeClock) -> Iterator[Services]:
    teams = ProviderSettings(
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        redirect_uri=REDIRECT_URI,
        options={"tenant": "common"},
        **sandbox_endpoints(sandbox_url),
    )
    settings = meetbridge_settings.model_copy(
        update={"providers": {**meetbridge_settings.providers, "teams": teams}}
    )
    svc = Services(settings=settings, plugins=build_plugin_host(env={}), clock=clock)
    yield svc
    svc.close()


@pytest.fixture
def member(services: Services) -> int:
    with services.sessions() as session, session.begin():
        org = Organization(name="Contoso", slug="contoso")
        user = User(organization=org, email="adele@contoso.example")
        session.add_all([org, user])
        session.flush()
        return user.id


async def _sign_in(http: httpx.AsyncClient, url: str, login: str) -> httpx.URL:
    teams = Teams(None, None, "", http, None)  # type: ignore[arg-type]
    answer = await teams.sign_in(url, login)
    assert answer.status_code == 302, answer.text
    return httpx.URL(answer.headers["location"])


def _connections(services: Services) -> list[Connection]:
    with services.sessions() as session:
        return list(session.scalars(select(Connection)))


async def test_connect_refresh_and_dead_grant_through_the_host(
    services: Services,
    member: int,
    state: SandboxState,
    clock: FakeClock,
    http: httpx.AsyncClient,
) -> None:
    service = ConnectionService(services)
    pending = await service.start_connect(user_id=member, provider="teams")
    back = await _sign_in(http, pending.url, WORK)
    conn = await service.complete_connect(
        pending, state=back.params["state"], code=back.params["code"]
    )
    assert (conn.status, conn.email, conn.account_type) == (ConnectionStatus.ACTIVE, WORK, "work")
    assert conn.warnings == []

    # The access token expires; the host refreshes under its lock and stores the new pair.
    clock.advance(hours=2)
    credentials = service.credentials(conn)
    ctx = services.provider_context("teams")
    meeting = await services.plugins.call(
        "create_meeting", "teams", context=ctx, request=meeting_request(), credentials=credentials
    )
    assert meeting.external_id in state.meetings
    stored = services.vault.decrypt_tokens(_connections(services)[0].token_ciphertext)
    latest = max(state.refresh_tokens.values(), key=lambda t: t.issued_at)
    assert stored.refresh_token.reveal() == latest.value
    assert state.refresh_calls == 1

    # The grant dies at Microsoft: the connection needs reconnecting, tokens are gone.
    state.revoke_grant(state.account_by_login(WORK).id)
    with pytest.raises(GrantRevoked, match="AADSTS50173"):
        await services.plugins.call(
            "create_meeting",
            "teams",
            context=ctx,
            request=meeting_request(idempotency_key="b-2"),
            credentials=credentials,
        )
    [after] = _connections(services)
    assert after.status == ConnectionStatus.NEEDS_RECONNECT
    assert after.token_ciphertext is None
    assert "AADSTS50173" in after.last_error


async def test_personal_account_is_refused_and_nothing_is_stored(
    services: Services,
    member: int,
    http: httpx.AsyncClient,
) -> None:
    service = ConnectionService(services)
    pending = await service.start_connect(user_id=member, provider="teams")
    back = await _sign_in(http, pending.url, PERSONAL)
    with pytest.raises(UnsupportedAccount, match="personal Microsoft account"):
        await service.complete_connect(
            pending, state=back.params["state"], code=back.params["code"]
        )
    assert _connections(services) == []


async def test_disconnect_deletes_the_tokens_and_calls_nobody(
    services: Services,
    member: int,
    state: SandboxState,
    http: httpx.AsyncClient,
) -> None:
    service = ConnectionService(services)
    pending = await service.start_connect(user_id=member, provider="teams")
    back = await _sign_in(http, pending.url, WORK)
    conn = await service.complete_connect(
        pending, state=back.params["state"], code=back.params["code"]
    )
    calls = (state.token_calls, state.graph_calls)
    assert await service.disconnect(conn.id, actor=WORK) is False
    [after] = _connections(services)
    assert after.token_ciphertext is None
    assert (state.token_calls, state.graph_calls) == calls
