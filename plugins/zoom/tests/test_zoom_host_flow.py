"""The Zoom plugin driven by the host's connection service, on a real database, against the
sandbox: connect (and a wrong state), disconnect, and Zoom-side uninstall with replays.

These tests use the host's ``ConnectionService`` and ``TokenManager`` as they are; the hook
level is covered in the other test files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from zoom_harness import LICENSED, FakeClock, meeting_request, zoom_settings

from meetbridge.conferencing.connections import ConnectionService
from meetbridge.models import Connection, ConnectionStatus, Organization, Role, User
from meetbridge.plugins import build_plugin_host
from meetbridge.providers import ConnectFailed, GrantRevoked
from meetbridge.services import Services
from meetbridge.settings import Settings
from meetbridge_zoom.sandbox import sandbox_endpoints


@pytest.fixture
def services(
    meetbridge_settings: Any, plugin_host: Any, sandbox_url: str, clock: FakeClock
) -> Iterator[Services]:
    zoom = zoom_settings(sandbox_endpoints(sandbox_url)).providers["zoom"]
    settings = meetbridge_settings.model_copy(update={"providers": {"zoom": zoom}})
    built = Services(settings=settings, plugins=plugin_host, clock=clock)
    yield built
    built.close()


@pytest.fixture
async def service(services: Services) -> Any:
    yield ConnectionService(services)
    await services.aclose()


@pytest.fixture
def member_id(services: Services) -> int:
    with services.sessions() as session, session.begin():
        org = Organization(name="Acme", slug="acme")
        session.add(org)
        session.flush()
        user = User(organization_id=org.id, email=LICENSED, role=Role.MEMBER)
        session.add(user)
        session.flush()
        return user.id


async def connect(zoom, service, member_id) -> Connection:
    pending = await service.start_connect(user_id=member_id, provider="zoom")
    back = await zoom.consent(pending.url, LICENSED)
    return await service.complete_connect(
        pending, state=back.params["state"], code=back.params["code"]
    )


def load(services: Services, connection_id: int) -> Connection:
    with services.sessions() as session:
        return session.get(Connection, connection_id)


async def test_connect_stores_the_zoom_account(zoom, service, services, member_id):
    conn = await connect(zoom, service, member_id)
    stored = load(services, conn.id)
    assert stored.status == ConnectionStatus.ACTIVE
    assert (stored.external_account_id, stored.email, stored.account_type) == (
        "L1censedLenaTO8WbOqwIQ",
        LICENSED,
        "licensed",
    )
    assert stored.provider_org_id == "SbxAcct1Q2uLZwqf0wM0bA"
    assert "meeting:write:meeting" in stored.scopes and stored.token_ciphertext


async def test_a_wrong_state_is_refused_and_nothing_is_stored(zoom, service, services, member_id):
    pending = await service.start_connect(user_id=member_id, provider="zoom")
    back = await zoom.consent(pending.url, LICENSED)
    with pytest.raises(ConnectFailed, match="state"):
        await service.complete_connect(pending, state="forged", code=back.params["code"])
    with services.sessions() as session:
        assert session.query(Connection).count() == 0


async def test_a_dead_grant_marks_the_connection_needs_reconnect(
    zoom, service, services, member_id
):
    conn = await connect(zoom, service, member_id)
    zoom.state.revoke_user_grants(LICENSED)
    zoom.clock.advance(hours=1)
    creds = service.credentials(load(services, conn.id))
    ctx = services.provider_context("zoom")
    with pytest.raises(GrantRevoked):
        await services.plugins.call(
            "create_meeting", "zoom", context=ctx, request=meeting_request(), credentials=creds
        )
    stored = load(services, conn.id)
    assert stored.status == ConnectionStatus.NEEDS_RECONNECT
    assert "Invalid Token!" in stored.last_error and stored.token_ciphertext is None


async def test_disconnect_deletes_tokens_and_revokes_them_at_zoom(
    zoom, service, services, member_id
):
    conn = await connect(zoom, service, member_id)
    assert await service.disconnect(conn.id, actor=LICENSED) is True
    stored = load(services, conn.id)
    assert stored.token_ciphertext is None and stored.status == ConnectionStatus.REVOKED
    assert zoom.state.revoke_calls == 1
    assert all(g.revoked for g in zoom.state.grants.values())


async def test_disconnect_when_zoom_is_down_still_deletes_the_tokens(
    zoom, service, services, member_id
):
    conn = await connect(zoom, service, member_id)
    zoom.state.faults.fail_next("/oauth/revoke", "5xx", times=2)
    assert await service.disconnect(conn.id, actor=LICENSED) is False
    assert load(services, conn.id).token_ciphertext is None


async def test_uninstall_in_zoom_forgets_the_account_once_and_refuses_replays(
    zoom, service, services, member_id
):
    conn = await connect(zoom, service, member_id)
    headers, body = zoom.state.deauthorize(LICENSED)

    result = await service.handle_webhook("zoom", headers, body)
    assert result.status_code == 200
    assert await service.apply_webhook_events("zoom", result.events) == 1
    stored = load(services, conn.id)
    assert stored.status == ConnectionStatus.REVOKED and stored.token_ciphertext is None
    assert stored.external_account_id == "" and stored.email == ""

    replay = await service.handle_webhook("zoom", headers, body)
    assert replay.status_code == 409 and replay.events == ()

    zoom.clock.advance(minutes=5)  # Zoom's own retry: signed anew, same event
    retry_headers, retry_body = zoom.state.signed_webhook(
        "app_deauthorized", json.loads(body)["payload"]
    )
    retry = await service.handle_webhook("zoom", retry_headers, retry_body)
    assert retry.status_code == 200
    assert await service.apply_webhook_events("zoom", retry.events) == 0


async def test_forged_and_stale_uninstalls_change_nothing(zoom, service, services, member_id):
    conn = await connect(zoom, service, member_id)
    headers, body = zoom.state.deauthorize(LICENSED)
    forged = await service.handle_webhook("zoom", {**headers, "x-zm-signature": "v0=00"}, body)
    assert forged.status_code == 401 and forged.events == ()
    zoom.clock.advance(minutes=6)
    stale = await service.handle_webhook("zoom", headers, body)
    assert stale.status_code == 401 and stale.events == ()
    assert load(services, conn.id).status == ConnectionStatus.ACTIVE


def test_settings_come_from_the_documented_environment_variables(monkeypatch):
    monkeypatch.setenv("MEETBRIDGE_PROVIDERS__ZOOM__CLIENT_ID", "env-client")
    monkeypatch.setenv("MEETBRIDGE_PROVIDERS__ZOOM__CLIENT_SECRET", "env-secret")
    monkeypatch.setenv("MEETBRIDGE_PROVIDERS__ZOOM__WEBHOOK_SECRET", "env-webhook")
    monkeypatch.setenv("MEETBRIDGE_PROVIDERS__ZOOM__OPTIONS__ACCOUNT_LEVEL_CLIENT_ID", "env-admin")
    resolved = Settings().provider(build_plugin_host(env={}).provider("zoom"))
    assert resolved.client_id == "env-client" and resolved.client_secret.reveal() == "env-secret"
    assert resolved.webhook_secret.reveal() == "env-webhook"
    assert resolved.options["account_level_client_id"] == "env-admin"
    assert resolved.redirect_uri.endswith("/connect/zoom/callback")
    assert resolved.redirect_uri == "http://127.0.0.1:8000/connect/zoom/callback"
    assert resolved.endpoint("api_base_url") == "https://api.zoom.us/v2"
