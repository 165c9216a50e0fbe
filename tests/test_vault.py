"""The token vault: encryption round trip, key rotation, key files, and no plaintext at rest."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from meetbridge.cli import main
from meetbridge.models import Connection, Organization, User
from meetbridge.providers import Secret, TokenSet
from meetbridge.settings import Settings
from meetbridge.vault import Vault, VaultError, generate_key, load_keys, vault_from_settings

ACCESS = "zoom-access-token-PLAINTEXT-marker-1234567890"
REFRESH = "zoom-refresh-token-PLAINTEXT-marker-0987654321"


def _tokens() -> TokenSet:
    return TokenSet(
        access_token=Secret(ACCESS),
        refresh_token=Secret(REFRESH),
        expires_at=datetime(2026, 12, 1, tzinfo=UTC),
        scope=("meeting:write",),
        extra={"api_url": "https://api.zoom.us"},
    )


def test_tokens_round_trip() -> None:
    vault = Vault([generate_key()])
    blob = vault.encrypt_tokens(_tokens())
    assert ACCESS.encode() not in blob and REFRESH.encode() not in blob
    assert vault.decrypt_tokens(blob) == _tokens()


def test_old_key_still_decrypts_and_rotation_moves_to_the_new_key() -> None:
    old, new = generate_key(), generate_key()
    blob = Vault([old]).encrypt("secret")
    both = Vault([new, old])
    assert both.decrypt(blob) == "secret"
    rotated = both.rotate(blob)
    assert Vault([new]).decrypt(rotated) == "secret"
    with pytest.raises(VaultError, match="cannot be decrypted"):
        Vault([old]).decrypt(rotated)


def test_invalid_key_is_a_clear_error() -> None:
    with pytest.raises(VaultError, match="not a valid Fernet key"):
        Vault(["not-a-key"])


def test_secret_hides_itself() -> None:
    secret = Secret("hunter2")
    assert "hunter2" not in repr(secret) and "hunter2" not in str(secret)
    assert "hunter2" not in repr(_tokens()) or False
    assert ACCESS not in repr(_tokens())


def test_development_creates_a_0600_key_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    keys = load_keys(settings)
    path = settings.effective_key_file
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_keys(settings) == keys  # reused, not regenerated


def test_production_without_a_key_refuses_to_start(tmp_path: Path) -> None:
    settings = Settings(env="production", data_dir=tmp_path / "data")
    with pytest.raises(VaultError, match="refuses to start in production"):
        vault_from_settings(settings)
    assert not settings.effective_key_file.exists()


def test_world_readable_key_file_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    load_keys(settings)
    os.chmod(settings.effective_key_file, 0o644)
    with pytest.raises(VaultError, match="chmod 600"):
        load_keys(settings)


def _store_connection(services) -> int:
    with services.sessions() as session, session.begin():
        org = Organization(name="Acme", slug="acme")
        user = User(organization=org, email="ann@acme.test")
        conn = Connection(
            organization=org,
            owner=user,
            provider="zoom",
            token_ciphertext=services.vault.encrypt_tokens(_tokens()),
            token_expires_at=datetime.now(UTC) + timedelta(hours=1),
        )
        session.add_all([org, user, conn])
        session.flush()
        return conn.id


def test_database_never_holds_a_token_in_plaintext(meetbridge_services) -> None:
    conn_id = _store_connection(meetbridge_services)
    engine = meetbridge_services.engine
    if engine.dialect.name == "sqlite":
        meetbridge_services.close()  # flush the WAL into the file, then read raw bytes
        raw = Path(engine.url.database).read_bytes()
        wal = Path(engine.url.database + "-wal")
        raw += wal.read_bytes() if wal.exists() else b""
        assert b"zoom-access-token" not in raw and b"PLAINTEXT-marker" not in raw
    with meetbridge_services.sessions() as session:
        stored = session.scalar(select(Connection.token_ciphertext).where(Connection.id == conn_id))
    assert ACCESS.encode() not in stored and REFRESH.encode() not in stored
    assert meetbridge_services.vault.decrypt_tokens(stored).access_token.reveal() == ACCESS


def test_keys_rotate_command_reencrypts_everything(
    meetbridge_services,
    meetbridge_database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = meetbridge_services.settings.secret_keys[0].get_secret_value()
    conn_id = _store_connection(meetbridge_services)
    new = generate_key()
    monkeypatch.setenv("MEETBRIDGE_DATABASE_URL", meetbridge_database_url)
    monkeypatch.setenv("MEETBRIDGE_SECRET_KEYS", f"{new},{old}")
    result = CliRunner().invoke(main, ["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 1 secrets" in result.output
    with meetbridge_services.sessions() as session:
        stored = session.scalar(select(Connection.token_ciphertext).where(Connection.id == conn_id))
    assert Vault([new]).decrypt_tokens(stored).refresh_token == Secret(REFRESH)
    with pytest.raises(VaultError):
        Vault([old]).decrypt(stored)


def test_keys_rotate_with_a_missing_old_key_changes_nothing(
    meetbridge_services,
    meetbridge_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn_id = _store_connection(meetbridge_services)
    with meetbridge_services.sessions() as session:
        before = session.scalar(select(Connection.token_ciphertext).where(Connection.id == conn_id))
    monkeypatch.setenv("MEETBRIDGE_DATABASE_URL", meetbridge_database_url)
    monkeypatch.setenv("MEETBRIDGE_SECRET_KEYS", generate_key())
    result = CliRunner().invoke(main, ["keys", "rotate"])
    assert result.exit_code == 1
    assert "Nothing was changed" in result.output
    with meetbridge_services.sessions() as session:
        after = session.scalar(select(Connection.token_ciphertext).where(Connection.id == conn_id))
    assert after == before


def test_keys_generate_add_puts_the_new_key_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEETBRIDGE_SECRET_KEYS", raising=False)
    monkeypatch.setenv("MEETBRIDGE_DATA_DIR", str(tmp_path))
    settings = Settings()
    first = load_keys(settings)
    result = CliRunner().invoke(main, ["keys", "generate", "--add"])
    assert result.exit_code == 0, result.output
    keys = load_keys(Settings())
    assert len(keys) == 2 and keys[1] == first[0]
    assert stat.S_IMODE(settings.effective_key_file.stat().st_mode) == 0o600


async def test_keys_rotate_covers_sealed_values_in_queued_messages(
    world,
    meetbridge_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A queued confirmation carries the manage link sealed; rotation must re-seal it."""
    import asyncio

    from meetbridge.models import OutboundMessage
    from meetbridge.notifications.outbox import SEALED_KEY

    slug = world.meeting_type(location="phone", location_value="+1 555 0100")
    await world.book(slug)
    old = world.services.settings.secret_keys[0].get_secret_value()
    new = generate_key()
    monkeypatch.setenv("MEETBRIDGE_DATABASE_URL", meetbridge_database_url)
    monkeypatch.setenv("MEETBRIDGE_SECRET_KEYS", f"{new},{old}")
    monkeypatch.setenv("MEETBRIDGE_DATA_DIR", str(world.services.settings.data_dir))
    result = await asyncio.to_thread(CliRunner().invoke, main, ["keys", "rotate"])
    assert result.exit_code == 0, result.output
    with world.services.sessions() as session:
        sealed = [
            m.payload[SEALED_KEY]
            for m in session.scalars(select(OutboundMessage))
            if (m.payload or {}).get(SEALED_KEY)
        ]
    assert sealed, "the confirmation should carry a sealed manage link"
    for values in sealed:
        for ciphertext in values.values():
            assert Vault([new]).decrypt(ciphertext.encode("ascii"))
