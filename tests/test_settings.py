"""Settings: precedence (code > environment > TOML file > defaults), validation, masking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from meetbridge.cli import main
from meetbridge.plugins import build_plugin_host
from meetbridge.settings import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("MEETBRIDGE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _toml(path: Path) -> Path:
    path.write_text("""
base_url = "https://book.acme.test"
http_timeout_seconds = 5

[organization]
timezone = "Europe/Paris"

[providers.zoom]
client_id = "from-toml"
client_secret = "toml-secret-value"
api_base_url = "http://127.0.0.1:9999/v2"
""")
    return path


def test_defaults() -> None:
    s = Settings()
    assert s.organization.timezone == "America/New_York"
    assert s.organization.fallback_order == ["zoom", "google_meet", "teams"]
    assert s.effective_database_url.startswith("sqlite:///")
    assert s.effective_database_url.endswith("meetbridge-data/meetbridge.sqlite3")


def test_toml_file_then_environment_then_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEETBRIDGE_CONFIG", str(_toml(tmp_path / "mb.toml")))
    s = Settings()
    assert s.base_url == "https://book.acme.test"
    assert s.providers["zoom"].client_id == "from-toml"
    assert s.organization.timezone == "Europe/Paris"

    monkeypatch.setenv("MEETBRIDGE_PROVIDERS__ZOOM__CLIENT_ID", "from-env")
    monkeypatch.setenv("MEETBRIDGE_BASE_URL", "https://env.acme.test")
    s = Settings()
    assert s.providers["zoom"].client_id == "from-env"
    assert s.base_url == "https://env.acme.test"
    assert s.http_timeout_seconds == 5  # untouched by the environment: still from the file

    s = Settings(base_url="https://code.acme.test")
    assert s.base_url == "https://code.acme.test"


def test_local_meetbridge_toml_is_read_when_present(tmp_path: Path) -> None:
    _toml(tmp_path / "meetbridge.toml")
    assert Settings().base_url == "https://book.acme.test"


def test_missing_config_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEETBRIDGE_CONFIG", "/nonexistent/mb.toml")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Settings()


def test_provider_endpoints_default_to_the_plugin_and_can_be_overridden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    zoom = build_plugin_host(env={}).provider("zoom")
    monkeypatch.setenv("MEETBRIDGE_PROVIDERS__ZOOM__TOKEN_URL", "http://127.0.0.1:1/oauth/token")
    resolved = Settings(base_url="https://book.acme.test/").provider(zoom)
    assert resolved.endpoint("token_url") == "http://127.0.0.1:1/oauth/token"
    assert resolved.redirect_uri == "https://book.acme.test/connect/zoom/callback"
    for key, url in zoom.endpoints.items():
        if key != "token_url":
            assert resolved.endpoint(key) == url.rstrip("/")


def test_secret_keys_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEETBRIDGE_SECRET_KEYS", "k1, k2")
    assert [k.get_secret_value() for k in Settings().secret_keys] == ["k1", "k2"]


def test_unknown_timezone_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEETBRIDGE_ORGANIZATION__TIMEZONE", "Mars/Olympus_Mons")
    with pytest.raises(ValidationError, match="Unknown timezone 'Mars/Olympus_Mons'"):
        Settings()


def test_config_show_masks_every_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEETBRIDGE_CONFIG", str(_toml(tmp_path / "mb.toml")))
    monkeypatch.setenv("MEETBRIDGE_SECRET_KEYS", "fernet-key-value-abc")
    monkeypatch.setenv("MEETBRIDGE_DATABASE_URL", "postgresql://mb:db-password-xyz@db/mb")
    monkeypatch.setenv("MEETBRIDGE_PROVIDERS__GOOGLE_MEET__CLIENT_SECRET", "google-secret-1")
    result = CliRunner().invoke(main, ["config", "show", "--json"])
    assert result.exit_code == 0, result.output
    for secret in (
        "toml-secret-value",
        "fernet-key-value-abc",
        "db-password-xyz",
        "google-secret-1",
    ):
        assert secret not in result.output
    data = json.loads(result.output)
    assert data["providers"]["zoom"]["client_id"] == "from-toml"
    assert data["providers"]["zoom"]["api_base_url"] == "http://127.0.0.1:9999/v2"
    assert data["database_url"] == "postgresql://mb:***@db/mb"


def test_config_show_reports_invalid_settings_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEETBRIDGE_ORGANIZATION__TIMEZONE", "Nowhere/City")
    result = CliRunner().invoke(main, ["config", "show"])
    assert result.exit_code == 1
    assert "invalid settings" in result.output and "Nowhere/City" in result.output


def test_config_show_gives_each_providers_effective_endpoints(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEETBRIDGE_PROVIDERS__ZOOM__API_BASE_URL", "http://127.0.0.1:7/v2")
    monkeypatch.setenv("MEETBRIDGE_PROVIDERS__ZOOM__CLIENT_SECRET", "zoom-secret-zzz")
    result = CliRunner().invoke(main, ["config", "show", "--json"])
    data = json.loads(result.output)
    zoom = data["effective_providers"]["zoom"]
    assert zoom["endpoints"]["api_base_url"] == "http://127.0.0.1:7/v2"
    assert zoom["client_secret"] == "***" and "zoom-secret-zzz" not in result.output
    assert {"zoom", "google_meet", "teams"} <= set(data["effective_providers"])


def test_config_show_masks_secrets_inside_provider_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "MEETBRIDGE_PROVIDERS__ZOOM__OPTIONS__ACCOUNT_LEVEL_CLIENT_SECRET", "admin-app-secret-123"
    )
    monkeypatch.setenv("MEETBRIDGE_PROVIDERS__ZOOM__OPTIONS__ZOOM_PLAN", "business")
    result = CliRunner().invoke(main, ["config", "show", "--json"])
    assert "admin-app-secret-123" not in result.output
    options = json.loads(result.output)["providers"]["zoom"]["options"]
    assert options == {"account_level_client_secret": "***", "zoom_plan": "business"}
