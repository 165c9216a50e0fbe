"""``meetbridge users`` and ``meetbridge serve`` (a real process, with --sandbox)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from meetbridge.accounts import authenticate
from meetbridge.cli import main
from meetbridge.models import User
from meetbridge.services import Services
from meetbridge.testing.server import free_port
from meetbridge.web.sandbox import answer_consent
from meetbridge.web.scripted_browser import ScriptedBrowser


@pytest.fixture
def cli(meetbridge_settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("MEETBRIDGE_DATABASE_URL", meetbridge_settings.database_url)
    monkeypatch.setenv(
        "MEETBRIDGE_SECRET_KEYS", meetbridge_settings.secret_keys[0].get_secret_value()
    )
    monkeypatch.setenv("MEETBRIDGE_DATA_DIR", str(meetbridge_settings.data_dir))

    def run(*args: str, code: int = 0, input: str | None = None) -> str:
        result = CliRunner().invoke(main, list(args), input=input)
        assert result.exit_code == code, result.output
        return result.output

    return run


def users(settings: Any) -> dict[str, User]:
    services = Services(settings=settings)
    try:
        with services.sessions() as session:
            return {u.email: u for u in session.scalars(select(User))}
    finally:
        services.close()


def test_users_create_an_admin_who_can_sign_in(cli, meetbridge_settings) -> None:
    out = cli(
        "users",
        "create",
        "Root@Example.com",
        "--admin",
        "--password",
        "a long password",
        "--timezone",
        "Europe/Paris",
    )
    assert "root@example.com (admin, Europe/Paris)" in out
    [user] = users(meetbridge_settings).values()
    assert (
        user.password_hash.startswith("$argon2id$") and "a long password" not in user.password_hash
    )
    services = Services(settings=meetbridge_settings)
    try:
        with services.sessions() as session:
            assert authenticate(session, "root@example.com", "a long password") is not None
            assert authenticate(session, "root@example.com", "a long passworD") is None
    finally:
        services.close()


def test_users_create_prompts_for_the_password_without_echo(cli, meetbridge_settings) -> None:
    out = cli(
        "users", "create", "ann@example.com", "--prompt", input="secret pass 1\nsecret pass 1\n"
    )
    assert "secret pass 1" not in out
    assert users(meetbridge_settings)["ann@example.com"].password_hash


def test_bad_users_are_refused_clearly_and_nothing_is_stored(cli, meetbridge_settings) -> None:
    assert "at least 10 characters" in cli(
        "users", "create", "a@example.com", "--password", "short", code=1
    )
    assert "Unknown timezone" in cli(
        "users", "create", "a@example.com", "--timezone", "Mars/Base", code=1
    )
    assert "not an email" in cli("users", "create", "not-an-email", code=1)
    assert users(meetbridge_settings) == {}
    cli("users", "create", "a@example.com")
    assert "already exists" in cli("users", "create", "A@example.com", code=1)


def test_users_list_and_roles(cli) -> None:
    cli("users", "create", "boss@example.com", "--admin", "--password", "0123456789")
    cli("users", "create", "member@example.com")
    rows = {r["email"]: r for r in json.loads(cli("users", "list", "--json"))}
    assert rows["boss@example.com"]["role"] == "admin" and rows["boss@example.com"]["can_sign_in"]
    assert rows["member@example.com"]["can_sign_in"] is False
    assert "only admin" in cli("users", "set-role", "boss@example.com", "member", code=1)
    cli("users", "set-role", "member@example.com", "admin")
    cli("users", "set-role", "boss@example.com", "member")
    rows = {r["email"]: r["role"] for r in json.loads(cli("users", "list", "--json"))}
    assert rows == {"boss@example.com": "member", "member@example.com": "admin"}
    cli("users", "set-password", "member@example.com", "--password", "9876543210")
    assert "No user" in cli(
        "users", "set-password", "ghost@example.com", "--password", "9876543210", code=1
    )


# -- serve ------------------------------------------------------------------------------------
class Served:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = re.search(pattern, line)
                if found:
                    return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} never appeared:\n{''.join(self.lines)}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Served, str]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEETBRIDGE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "meetbridge", "serve", "--sandbox", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = Served(proc)
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_serve_sandbox_upgrades_the_database_prints_logins_and_works_offline(
    served, tmp_path
) -> None:
    server, url = served
    member = server.wait_for(r"sign in as (member@\S+) / (\S+) \(member\)")
    server.wait_for(r"Uvicorn running|Application startup complete")
    assert (tmp_path / "meetbridge-data" / "meetbridge.sqlite3").exists()
    async with httpx.AsyncClient(base_url=url) as client:
        health = await client.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert {"zoom", "google_meet", "teams"} <= set(health.json()["providers"])
    browser = ScriptedBrowser(url)
    try:
        await browser.sign_in(member[1], member[2])
        consent = await browser.get("/connect/zoom")
        assert str(consent.url).startswith(f"{url}/sandbox/zoom/oauth/authorize")
        back = await answer_consent(browser, consent, "zoom", "lena.licensed@example.com")
        page = await browser.follow(back)
        assert "Active" in page.text and "lena.licensed@example.com" in page.text
        sandboxes = await browser.get("/sandbox")
        assert "/sandbox/google_meet" in sandboxes.text and "/sandbox/teams" in sandboxes.text
        types = await browser.get("/meeting-types")
        assert f"{url}/book/intro-call" in types.text  # sandbox mode seeds one to try
    finally:
        await browser.aclose()
    server.wait_for(r"embedded worker started")
    server.proc.send_signal(signal.SIGINT)
    assert server.proc.wait(timeout=20) == 0
    output = "".join(server.lines)
    assert output.count(member[2]) == 1  # the password was printed once, at start, only
    assert "GET /connect/zoom/callback 303" in output  # the access log...
    assert "code=" not in output and "state=" not in output  # ...never carries query strings
