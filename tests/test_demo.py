"""``meetbridge demo``: the whole story offline, from an empty directory, exit code 0."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from meetbridge.cli import main

pytestmark = pytest.mark.slow


def test_the_demo_runs_the_whole_story_from_an_empty_directory(tmp_path: Path) -> None:
    # The environment as it is (CI points MEETBRIDGE_DATABASE_URL at PostgreSQL): the demo
    # keeps to its own directory and SQLite file whatever it says.
    proc = subprocess.run(
        [sys.executable, "-m", "meetbridge", "demo"],
        cwd=tmp_path,
        env=dict(os.environ, COLUMNS="120"),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    out = " ".join(proc.stdout.split())  # rich wraps long lines
    for line in (
        "sent to Zoom's consent page with state and a PKCE S256 challenge",
        "Integrations: Zoom Active, lena.licensed@example.com",
        "waiting_room=true, join_before_host=false, auto_recording=none",
        "the same Zoom meeting",
        "deleted on the Zoom sandbox",
        "tokens deleted here and the grant revoked at the Zoom sandbox",
        "conferencing provisioned on Google Meet",
        "signatures verified",
        "Where the emails went",
        "Demo complete",
    ):
        assert line in out, line
    data = tmp_path / "meetbridge-demo"
    assert (data / "meetbridge.sqlite3").exists()
    emails = list((data / "emails").glob("*.eml"))
    assert len(emails) >= 6 and str((data / "emails").resolve()) in out
    assert not any(p.name.startswith("meetbridge-data") for p in tmp_path.iterdir())


def test_the_demo_refuses_a_directory_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "meetbridge-demo").mkdir()
    (tmp_path / "meetbridge-demo" / "thesis.tex").write_text("precious")
    result = CliRunner().invoke(main, ["demo", "--data-dir", str(tmp_path / "meetbridge-demo")])
    assert result.exit_code != 0 and "not made by `meetbridge demo`" in result.output
    assert (tmp_path / "meetbridge-demo" / "thesis.tex").read_text() == "precious"


def test_a_failing_step_exits_non_zero_naming_the_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from meetbridge.web import sandbox

    real = sandbox.KNOWN["zoom"]

    def broken_zoom(base: str, callback: str):  # Zoom's token endpoint fails once
        app, state, settings, accounts = real(base, callback)
        state.faults.fail_next("/oauth/token", "5xx")
        return app, state, settings, accounts

    monkeypatch.setitem(sandbox.KNOWN, "zoom", broken_zoom)
    with ThreadPoolExecutor(1) as pool:  # the command runs its own event loop
        result = pool.submit(
            CliRunner().invoke, main, ["demo", "--data-dir", str(tmp_path / "d")]
        ).result()
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert 'Demo failed at step "Lena Tutor connects Zoom' in out
    assert "Integrations does not show Zoom as Active" in out
