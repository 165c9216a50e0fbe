"""Connections on the host: connect, refresh serialisation, dead grants, disconnect, uninstall."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from meetbridge.conferencing.connections import ConnectionService
from meetbridge.conferencing.credentials import ConnectionUnusable
from meetbridge.models import AuditEvent, Connection, ConnectionStatus, Organization, Role, User
from meetbridge.providers import AccountLevelNotAllowed, ConnectFailed, GrantRevoked, Secret
from meetbridge.services import Services
from tests.fakes import FakeProvider


@pytest.fixture
def fake() -> FakeProvider:
    return FakeProvider("fakevideo")


@pytest.fixture
def services(meetbridge_settings: Any, fake: FakeProvider) -> Any:
    from meetbridge.plugins import build_plugin_host

    host = build_plugin_host(env={}, plugins=[("fakevideo", fake)])
    svc = Services(settings=meetbridge_settings, plugins=host)
    yield svc
    svc.close()


@pytest.fixture
def people(services: Services) -> dict[str, int]:
    with services.sessions() as session, session.begin():
        org = Organization(name="Acme", slug="acme")
        admin = User(organization=org, email="admin@acme.test", role=Role.ADMIN)
        member = User(organization=org, email="mia@acme.test")
        session.add_all([org, admin, member])
        session.flush()
        return {"org": org.id, "admin": admin.id, "member": member.id}


async def _connect(
    service: ConnectionService, user_id: int, code: str = "mia", account_level: bool = False
) -> Connection:
    pending = await service.start_connect(
        user_id=user_id, provider="fakevideo", account_level=account_level
    )
    return await service.complete_connect(pending, state=pending.state, code=code)


def _connections(services: Services) -> list[Connection]:
    with services.sessions() as session:
        return list(session.scalars(select(Connection)))


async def test_connect_stores_the_account_with_encrypted_tokens(
    services: Services, people: dict[str, int]
) -> None:
    service = ConnectionService(services)
    pending = await service.start_connect(user_id=people["member"], provider="fakevideo")
    assert f"state={pending.state}" in pending.url
    assert "code_challenge=" in pending.url and pending.code_verifier not in pending.url
    conn = await service.complete_connect(pending, state=pending.state, code="mia")
    assert conn.status == ConnectionStatus.ACTIVE
    assert (conn.email, conn.external_account_id) == ("mia@fake.example", "user-mia")
    assert conn.owner_user_id == people["member"] and conn.scopes == ["meetings"]
    assert b"access-0" not in conn.token_ciphertext
    assert services.vault.decrypt_tokens(conn.token_ciphertext).access_token == Secret("access-0")


async def test_wrong_state_stores_nothing(services: Services, people: dict[str, int]) -> None:
    service = ConnectionService(services)
    pending = await service.start_connect(user_id=people["member"], provider="fakevideo")
    with pytest.raises(ConnectFailed, match="state does not match"):
        await service.complete_connect(pending, state="forged", code="mia")
    assert _connections(services) == []


async def test_access_denied_stores_nothing(services: Services, people: dict[str, int]) -> None:
    service = ConnectionService(services)
    pending = await service.start_connect(user_id=people["member"], provider="fakevideo")
    with pytest.raises(ConnectFailed, match="You declined access"):
        await service.complete_connect(pending, state=pending.state, error="access_denied")
    assert _connections(services) == []


async def test_only_admins_start_an_account_level_connection(
    services: Services, people: dict[str, int]
) -> None:
    service = ConnectionService(services)
    with pytest.raises(AccountLevelNotAllowed, match="Only an organisation admin"):
        await service.start_connect(
            user_id=people["member"], provider="fakevideo", account_level=True
        )
    conn = await _connect(service, people["admin"], "org-admin", account_level=True)
    assert conn.is_account_level and conn.owner_user_id is None


async def test_reconnecting_reuses_the_connection_row(
    services: Services, people: dict[str, int]
) -> None:
    service = ConnectionService(services)
    first = await _connect(service, people["member"])
    await service.disconnect(first.id, actor="mia@acme.test")
    second = await _connect(service, people["member"])
    assert second.id == first.id and second.status == ConnectionStatus.ACTIVE


async def _expire(services: Services, conn_id: int) -> None:
    with services.sessions() as session, session.begin():
        conn = session.get(Connection, conn_id)
        tokens = services.vault.decrypt_tokens(conn.token_ciphertext)
        from dataclasses import replace

        expired = replace(tokens, expires_at=datetime.now(UTC) - timedelta(seconds=5))
        conn.token_ciphertext = services.vault.encrypt_tokens(expired)


async def test_200_concurrent_calls_with_an_expired_token_refresh_once(
    services: Services, people: dict[str, int], fake: FakeProvider
) -> None:
    service = ConnectionService(services)
    conn = await _connect(service, people["member"])
    await _expire(services, conn.id)
    fake.refresh_delay = 0.05  # widen the race window
    creds = service.credentials(conn)
    tokens = await asyncio.gather(*(creds.access_token() for _ in range(200)))
    assert fake.refresh_calls == 1
    assert set(tokens) == {"access-1"}
    with services.sessions() as session:
        stored = session.get(Connection, conn.id)
        assert stored.refresh_count == 1
        # The new pair was persisted (the old refresh token is dead at rotating providers).
        assert services.vault.decrypt_tokens(stored.token_ciphertext).refresh_token == Secret(
            "refresh-1"
        )


async def test_token_refreshed_a_minute_before_expiry(
    services: Services, people: dict[str, int], fake: FakeProvider
) -> None:
    fake.expires_in = 30  # expires inside the one-minute margin
    service = ConnectionService(services)
    conn = await _connect(service, people["member"])
    assert await service.credentials(conn).access_token() == "access-1"
    assert fake.refresh_calls == 1


async def test_rejected_token_is_refreshed_once_for_everyone(
    services: Services, people: dict[str, int], fake: FakeProvider
) -> None:
    service = ConnectionService(services)
    conn = await _connect(service, people["member"])
    creds = service.credentials(conn)
    fake.refresh_delay = 0.02
    results = await asyncio.gather(*(creds.refreshed_access_token("access-0") for _ in range(20)))
    assert fake.refresh_calls == 1 and set(results) == {"access-1"}


async def test_dead_grant_marks_needs_reconnect_and_drops_tokens(
    services: Services, people: dict[str, int], fake: FakeProvider
) -> None:
    service = ConnectionService(services)
    conn = await _connect(service, people["member"])
    await _expire(services, conn.id)
    fake.dead_grant = True
    with pytest.raises(GrantRevoked, match="Invalid Token!"):
        await service.credentials(conn).access_token()
    [stored] = _connections(services)
    assert stored.status == ConnectionStatus.NEEDS_RECONNECT
    assert stored.last_error == "Invalid Token!"
    assert stored.token_ciphertext is None
    with pytest.raises(ConnectionUnusable, match="needs reconnect"):
        await service.credentials(conn).access_token()
    assert fake.refresh_calls == 1  # no hammering of a dead grant


async def test_disconnect_deletes_tokens_and_revokes(
    services: Services, people: dict[str, int], fake: FakeProvider
) -> None:
    service = ConnectionService(services)
    conn = await _connect(service, people["member"])
    assert await service.disconnect(conn.id, actor="mia@acme.test") is True
    assert fake.revoked == ["access-0"]
    [stored] = _connections(services)
    assert stored.status == ConnectionStatus.REVOKED and stored.token_ciphertext is None
    with services.sessions() as session:
        actions = [e.action for e in session.scalars(select(AuditEvent))]
    assert actions == ["connection.connected", "connection.disconnected"]


async def test_disconnect_deletes_tokens_even_when_the_provider_is_unreachable(
    services: Services, people: dict[str, int], fake: FakeProvider
) -> None:
    fake.revoke_fails = True
    service = ConnectionService(services)
    conn = await _connect(service, people["member"])
    assert await service.disconnect(conn.id, actor="mia@acme.test") is False
    [stored] = _connections(services)
    assert stored.token_ciphertext is None and stored.status == ConnectionStatus.REVOKED


async def test_deauthorization_webhook_forgets_the_account_once(
    services: Services, people: dict[str, int]
) -> None:
    service = ConnectionService(services)
    await _connect(service, people["member"])
    headers = {"x-fake-signature": "good", "x-fake-id": "delivery-1"}
    result = await service.handle_webhook("fakevideo", headers, b"user-mia")
    assert result.status_code == 200
    assert await service.apply_webhook_events("fakevideo", result.events) == 1
    [stored] = _connections(services)
    assert stored.status == ConnectionStatus.REVOKED
    assert (stored.token_ciphertext, stored.email, stored.external_account_id) == (None, "", "")
    # The provider retries the same event in a new delivery: accepted, applied no second time.
    retry = await service.handle_webhook(
        "fakevideo", {**headers, "x-fake-id": "delivery-2"}, b"user-mia"
    )
    assert retry.status_code == 200
    assert await service.apply_webhook_events("fakevideo", retry.events) == 0


async def test_replayed_and_forged_webhooks_are_rejected(
    services: Services, people: dict[str, int]
) -> None:
    service = ConnectionService(services)
    await _connect(service, people["member"])
    headers = {"x-fake-signature": "good", "x-fake-id": "delivery-1"}
    assert (await service.handle_webhook("fakevideo", headers, b"nobody")).status_code == 200
    replay = await service.handle_webhook("fakevideo", headers, b"nobody")
    assert replay.status_code == 409 and replay.events == ()
    forged = await service.handle_webhook("fakevideo", {"x-fake-signature": "bad"}, b"user-mia")
    assert forged.status_code == 401 and forged.events == ()
    [stored] = _connections(services)
    assert stored.status == ConnectionStatus.ACTIVE


def test_refresh_across_processes_happens_once(
    services: Services, people: dict[str, int], meetbridge_database_url: str
) -> None:
    """Several worker processes on one database: the row lock lets exactly one refresh."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    conn = asyncio.run(_connect(ConnectionService(services), people["member"]))
    asyncio.run(_expire(services, conn.id))
    key = services.settings.secret_keys[0].get_secret_value()
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEETBRIDGE_")}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.refresh_race_process",
                meetbridge_database_url,
                key,
                str(conn.id),
                "25",
            ],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    refreshes_per_process = [int(out.split()[0]) for out, _ in outputs]
    assert sum(refreshes_per_process) == 1
    with services.sessions() as session:
        assert session.get(Connection, conn.id).refresh_count == 1
