"""``/healthz`` is liveness only; ``/readyz`` says whether the process can serve: database,
schema at the migration head, encryption key. Failing checks are named, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory
from pydantic import SecretStr
from sqlalchemy import create_engine

from meetbridge import db
from meetbridge.observability.health import Readiness, expected_revision

pytest_plugins = ["tests.web_fixtures"]


def unreachable_engine(tmp_path: Path):
    """An engine whose database cannot be opened (its directory does not exist)."""
    return create_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'nowhere.sqlite3'}")


async def get(stack, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        return await client.get(path)


async def test_readyz_is_ready_when_database_schema_and_key_are_fine(stack) -> None:
    answer = await get(stack, "/readyz")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "ready" and "failing" not in body
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "schema": True,
        "vault": True,
    }
    assert body["checks"]["schema"]["revision"] == db.head_revision()


async def test_healthz_stays_up_when_the_database_is_down(
    stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(stack.services, "engine", unreachable_engine(tmp_path))
    health = await get(stack, "/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert {"zoom", "google_meet", "teams"} <= set(health.json()["providers"])
    ready = await get(stack, "/readyz")
    assert ready.status_code == 503


async def test_readyz_names_the_database_when_it_does_not_answer(
    stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(stack.services, "engine", unreachable_engine(tmp_path))
    answer = await get(stack, "/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "not_ready"
    assert body["failing"] == ["database", "schema"]
    assert body["checks"]["database"]["error"] == (
        "The database does not answer (OperationalError)."
    )
    assert body["checks"]["vault"]["ok"] is True
    assert str(tmp_path) not in answer.text  # no URL, path or driver message in the body


async def test_readyz_names_the_schema_when_migrations_are_behind(
    stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'behind.sqlite3'}"
    first = ScriptDirectory.from_config(db.alembic_config(url)).get_base()
    assert first is not None and first != expected_revision()
    db.upgrade(url, first)
    behind = create_engine(url)
    monkeypatch.setattr(stack.services, "engine", behind)
    answer = await get(stack, "/readyz")
    behind.dispose()
    assert answer.status_code == 503
    body = answer.json()
    assert body["failing"] == ["schema"]
    schema = body["checks"]["schema"]
    assert schema["revision"] == first and schema["expected"] == db.head_revision()
    assert "meetbridge db upgrade" in schema["error"]


async def test_readyz_names_the_schema_of_a_database_never_migrated(
    stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = create_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    monkeypatch.setattr(stack.services, "engine", empty)
    answer = await get(stack, "/readyz")
    empty.dispose()
    assert answer.status_code == 503 and answer.json()["failing"] == ["schema"]
    assert answer.json()["checks"]["schema"]["revision"] == "none"


async def test_readyz_names_the_vault_when_no_key_is_loaded(
    stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack.services, "vault", None)
    answer = await get(stack, "/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["failing"] == ["vault"]
    assert body["checks"]["vault"] == {"ok": False, "error": "No encryption key is loaded."}


async def test_readyz_names_the_vault_when_the_key_file_is_gone_without_showing_it(
    stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = stack.services.settings.secret_keys[0].get_secret_value()
    key_file = tmp_path / "keys" / "secret.keys"
    file_settings = stack.services.settings.model_copy(
        update={"secret_keys": [], "key_file": key_file, "env": "production"}
    )
    monkeypatch.setattr(stack.services, "settings", file_settings)
    answer = await get(stack, "/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["failing"] == ["vault"]
    assert "missing or unusable" in body["checks"]["vault"]["error"]
    assert str(key_file) not in answer.text and key not in answer.text


async def test_readyz_turns_ready_again_when_the_key_file_is_restored(
    stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from meetbridge.vault import write_key_file

    key_file = tmp_path / "secret.keys"
    keys = [k.get_secret_value() for k in stack.services.settings.secret_keys]
    monkeypatch.setattr(
        stack.services,
        "settings",
        stack.services.settings.model_copy(
            update={"secret_keys": [], "key_file": key_file, "env": "production"}
        ),
    )
    assert (await get(stack, "/readyz")).status_code == 503
    write_key_file(key_file, keys)
    assert (await get(stack, "/readyz")).status_code == 200


async def test_a_hanging_check_answers_503_in_time(meetbridge_services) -> None:
    import threading

    release = threading.Event()

    class Hanging:
        def connect(self):
            release.wait(10)
            raise RuntimeError("gave up")

    meetbridge_services.engine, real = Hanging(), meetbridge_services.engine
    try:
        readiness = Readiness(meetbridge_services, timeout=0.2)
        first = await readiness.run()
        inflight = readiness._running["database"]
        second = await readiness.run()  # joins the check still running: no second thread
        assert readiness._running["database"] is inflight and not inflight.done()
        assert not first["database"].ok and first["database"].error == "No answer within 0.2 s."
        assert not second["schema"].ok and first["vault"].ok
        release.set()
        late = await inflight  # the hung check ends by itself, with its own verdict
        assert late["database"].error == "The database does not answer (RuntimeError)."
    finally:
        release.set()
        meetbridge_services.engine = real


def test_metrics_token_is_a_secret_setting() -> None:
    from meetbridge.settings import Settings

    settings = Settings(web={"metrics_token": "scrape-me"})
    assert settings.web.metrics_token == SecretStr("scrape-me")
    assert "scrape-me" not in str(settings.masked())
