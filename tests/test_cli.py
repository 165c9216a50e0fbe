"""The command line: help, version, plugins listing (stable JSON), database upgrade."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from meetbridge.cli import main


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # A real subprocess: what an operator types, with a clean environment for meetbridge.
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("MEETBRIDGE_")}
    return subprocess.run(
        [sys.executable, "-m", "meetbridge", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_lists_commands_without_loading_plugins(tmp_path: Path) -> None:
    proc = _run("--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for command in ("config", "db", "keys", "plugins"):
        assert command in proc.stdout
    assert not (tmp_path / "meetbridge-data").exists()  # --help touches nothing


def test_version_lists_the_plugins() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("meetbridge 0.1.0")
    assert "zoom" in result.output and "teams" in result.output


def test_plugins_json_is_a_stable_listing(tmp_path: Path) -> None:
    proc = _run("plugins", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {row["name"]: row for row in json.loads(proc.stdout)}
    assert {"zoom", "google_meet", "teams"} <= set(rows)
    assert set(rows["zoom"]) == {"name", "distribution", "version", "hooks", "providers", "status"}
    assert rows["google_meet"]["distribution"] == "meetbridge-google-meet"
    assert rows["teams"]["providers"] == ["teams"]
    assert "describe_provider" in rows["zoom"]["hooks"]


def test_plugins_all_shows_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    from meetbridge.plugins import get_plugin_host

    monkeypatch.setenv("MEETBRIDGE_BLOCK_PLUGINS", "teams")
    get_plugin_host.cache_clear()
    try:
        result = CliRunner().invoke(main, ["plugins", "--json", "--all"])
    finally:
        get_plugin_host.cache_clear()
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["teams"]["status"] == "blocked"
    assert rows["zoom"]["status"] == "loaded"


def test_db_upgrade_creates_the_sqlite_file_in_the_documented_place(tmp_path: Path) -> None:
    proc = _run("db", "upgrade", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "meetbridge-data" / "meetbridge.sqlite3").exists()
    assert "is at revision" in proc.stdout
    proc = _run("db", "current", cwd=tmp_path)
    assert "up to date" in proc.stdout


def test_invalid_database_url_is_reported(tmp_path: Path) -> None:
    import os

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MEETBRIDGE_")},
        "MEETBRIDGE_DATABASE_URL": "nosuchdb://x",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "meetbridge", "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "Error: cannot upgrade nosuchdb://x" in proc.stderr
    assert "Traceback" not in proc.stderr
