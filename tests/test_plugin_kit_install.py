"""``meetbridge plugins install/uninstall``: the right installer, for the running interpreter.

The installer itself is replaced by a recorder (no network, and the shared environment stays
as it is); the listing afterwards comes from a fake ``meetbridge plugins --json``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from typing import Any

import pytest
from click.testing import CliRunner

from meetbridge.cli import main
from meetbridge.plugin_kit import installer

UV = "/opt/bin/uv"


class FakeSystem:
    """Records installer commands; answers the listing with ``providers_after``."""

    def __init__(self, *, returncode: int = 0, providers_after: list[str] | None = None) -> None:
        self.commands: list[list[str]] = []
        self.returncode = returncode
        self.providers_after = providers_after

    def run(self, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        if command[1:5] == ["-m", "meetbridge", "plugins", "--json"]:
            if self.providers_after is None:
                return subprocess.CompletedProcess(command, 1, "", "broken")
            rows = [{"name": p, "providers": [p]} for p in self.providers_after]
            return subprocess.CompletedProcess(command, 0, json.dumps(rows), "")
        self.commands.append(command)
        return subprocess.CompletedProcess(command, self.returncode)


@pytest.fixture
def system(monkeypatch: pytest.MonkeyPatch) -> FakeSystem:
    fake = FakeSystem(providers_after=["google_meet", "teams", "webex", "zoom"])
    monkeypatch.setattr(subprocess, "run", fake.run)
    monkeypatch.setattr(shutil, "which", lambda name: UV if name == "uv" else None)
    monkeypatch.setattr(
        "meetbridge.cli.plugins._installed_provider_names",
        lambda: frozenset({"google_meet", "teams", "zoom"}),
    )
    return fake


def test_install_uses_uv_for_the_running_interpreter(system: FakeSystem) -> None:
    result = CliRunner().invoke(main, ["plugins", "install", "meetbridge-webex"])
    assert result.exit_code == 0, result.output
    assert system.commands == [
        [UV, "pip", "install", "--python", sys.executable, "meetbridge-webex"]
    ]
    assert "new: webex." in result.output.lower()
    assert "Restart `meetbridge serve`" in result.output


def test_install_falls_back_to_pip_of_the_same_interpreter(
    system: FakeSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = CliRunner().invoke(
        main, ["plugins", "install", "--editable", "--upgrade", "./a", "./b"]
    )
    assert result.exit_code == 0, result.output
    assert system.commands == [
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--upgrade",
            "--editable",
            "./a",
            "--editable",
            "./b",
        ]
    ]


def test_uninstall_never_waits_for_a_question(
    system: FakeSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    system.providers_after = ["google_meet", "teams"]
    CliRunner().invoke(main, ["plugins", "uninstall", "meetbridge-zoom"])
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = CliRunner().invoke(main, ["plugins", "uninstall", "meetbridge-zoom"])
    assert system.commands == [
        [UV, "pip", "uninstall", "--python", sys.executable, "meetbridge-zoom"],
        [sys.executable, "-m", "pip", "uninstall", "--yes", "meetbridge-zoom"],
    ]
    assert "Removed: zoom." in result.output


def test_a_failed_install_is_an_error_with_the_exit_code(system: FakeSystem) -> None:
    system.returncode = 2
    result = CliRunner().invoke(main, ["plugins", "install", "meetbridge-nosuch"])
    assert result.exit_code == 1
    assert "The installer failed (exit code 2)" in result.output


def test_a_package_without_a_plugin_is_pointed_out(system: FakeSystem) -> None:
    system.providers_after = ["google_meet", "teams", "zoom"]
    result = CliRunner().invoke(main, ["plugins", "install", "requests"])
    assert result.exit_code == 0
    assert "brings no meetbridge plugin" in result.output


def test_nothing_to_install_is_refused_before_running_anything() -> None:
    with pytest.raises(installer.InstallerError, match="at least one package"):
        installer.installer_command("install", [])
    result = CliRunner().invoke(main, ["plugins", "install"])
    assert result.exit_code == 2 and "Missing argument" in result.output


def test_the_listing_still_works_beside_the_subcommands() -> None:
    result = CliRunner().invoke(main, ["plugins", "--json"])
    rows = json.loads(result.output)
    assert {"zoom", "google_meet", "teams"} <= {row["name"] for row in rows}
    assert all(
        set(row) == {"name", "distribution", "version", "hooks", "providers", "status"}
        for row in rows
    )
