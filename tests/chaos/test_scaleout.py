"""PostgreSQL scale-out: several worker processes, booking and serve processes on one database.

- the campaign with three worker processes (SIGKILLed now and then): every invariant, and no
  job ever ran in two processes at once (each execution is logged with its worker and times);
- one Zoom connection with an expired token, refreshed from four processes at once: exactly
  one refresh reaches Zoom (the sandbox counts them), and every process gets the new token;
- the same slots booked at once from four processes through the service layer, and through
  two ``meetbridge serve`` processes over the REST API: each slot is booked once per free host.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from meetbridge.models import Booking, Connection, User
from meetbridge.testing.database import configured_url, is_postgres
from meetbridge.testing.server import free_port
from meetbridge.web.api_keys import create_api_key
from tests.chaos import invariants, org
from tests.chaos.campaign import CampaignConfig, run_campaign
from tests.chaos.scenario import Scenario
from tests.chaos.workers import REPO

MEETBRIDGE = str(Path(sys.executable).with_name("meetbridge"))  # the installed command
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not is_postgres(configured_url()),
        reason="scale-out is PostgreSQL's job: set MEETBRIDGE_DATABASE_URL to a PostgreSQL URL",
    ),
]


async def _race(workdir: Path, *tasks: list[str]) -> list[dict[str, Any]]:
    """Run ``process_tasks`` once per argument list, in as many processes, all starting their
    work at the same moment (each says "ready"; then the go file appears)."""
    go = workdir / f"go-{time.monotonic_ns()}"
    pipe = asyncio.subprocess.PIPE
    command = [sys.executable, "-m", "tests.chaos.process_tasks"]
    procs = [
        await asyncio.create_subprocess_exec(
            *command, *args, "--go", str(go), cwd=REPO, stdout=pipe, stderr=pipe
        )
        for args in tasks
    ]
    for proc in procs:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
        assert line.strip() == b"ready", (await proc.stderr.read()).decode()[-2000:]  # type: ignore[union-attr]
    go.touch()
    results = []
    for proc in procs:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode == 0, err.decode()[-2000:]
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    return results


async def test_three_sigkilled_workers_on_postgresql_keep_every_invariant(
    meetbridge_database_url: str, tmp_path: Path
) -> None:
    report = await run_campaign(
        CampaignConfig(
            bookings=50,
            seed=5,
            database_url=meetbridge_database_url,
            fresh_database=False,
            workdir=tmp_path,
            workers=3,
            kills=3,
            drain_seconds=90,
        )
    )
    print(report.table())
    assert report.ok, report.table()
    assert report.kills >= 2  # two during the operations, one more if the drain ran long
    overlaps = next(c for c in report.checks if c.name == "jobs run twice at the same time")
    assert overlaps.value == 0


async def test_one_zoom_connection_refreshed_from_four_processes_refreshes_once(
    scenario: Scenario,
) -> None:
    stage = scenario.stage
    conn_id = stage.connection_ids["zoe@chaos.test"]
    _expire_stored_token(scenario, conn_id)
    before = stage.sandboxes.zoom.refresh_calls
    config = str(stage.process_config())
    results = await _race(stage.workdir, *(["refresh", config, str(conn_id), "25"],) * 4)
    assert stage.sandboxes.zoom.refresh_calls == before + 1
    tokens = {t for r in results for t in r["tokens"]}
    assert len(tokens) == 1  # 100 calls in four processes, one new token for all
    # The connection still works: the rotated refresh token was not lost in a race.
    slug = scenario.meeting_type("zoom", "zoe@chaos.test")
    booked = await scenario.book(slug, scenario.slot(slug, 3))
    assert booked.conferencing == "provisioned"


def _expire_stored_token(scenario: Scenario, conn_id: int) -> None:
    vault = scenario.stage.services.vault
    assert vault is not None
    with scenario.stage.services.sessions() as session, session.begin():
        conn = session.get(Connection, conn_id)
        tokens = vault.decrypt_tokens(conn.token_ciphertext)
        expired = replace(tokens, expires_at=scenario.stage.clock() - timedelta(minutes=1))
        conn.token_ciphertext = vault.encrypt_tokens(expired)
        conn.token_expires_at = expired.expires_at


async def test_four_processes_booking_the_same_slots_book_each_once(scenario: Scenario) -> None:
    one = scenario.meeting_type("zoom", "zoe@chaos.test")
    starts = [scenario.slot(one, 4, n) for n in range(3)]
    rr = "zoom-interview"  # round-robin over four hosts
    rr_start = next(s.start for s in _slots(scenario, rr, 6) if len(s.free_hosts) == 4)
    config = str(scenario.stage.process_config())
    # Each of four processes books the three one-person slots, and the round-robin slot twice.
    wanted = [f"{one}@{s.isoformat()}" for s in starts] + [f"{rr}@{rr_start.isoformat()}"] * 2
    results = await _race(scenario.stage.workdir, *(["book", config, *wanted],) * 4)
    got = [b for r in results for b in r["booked"]]
    assert sorted(b for b in got if b.startswith(one)) == sorted(wanted[:3])  # each slot once
    assert sum(1 for b in got if b.startswith(rr)) == 4  # once per free host (of 8 tries)
    assert invariants.no_double_booking(scenario.stage.services).ok


def _slots(scenario: Scenario, slug: str, days: int) -> list[Any]:
    start = scenario.stage.clock() + timedelta(days=days)
    return scenario.bookings.slots(slug, start, start + timedelta(days=1))


# -- two `meetbridge serve` processes --------------------------------------------------------------
@pytest.fixture
def two_servers(scenario: Scenario) -> Iterator[list[str]]:
    settings = scenario.stage.services.settings
    env = {
        **os.environ,
        "MEETBRIDGE_DATABASE_URL": settings.effective_database_url,
        "MEETBRIDGE_SECRET_KEYS": ",".join(k.get_secret_value() for k in settings.secret_keys),
        "MEETBRIDGE_DATA_DIR": str(settings.data_dir),
        "MEETBRIDGE_PROVIDERS": json.dumps(
            json.loads(scenario.stage.process_config().read_text())["settings"]["providers"]
        ),
    }
    env.pop("MEETBRIDGE_CONFIG", None)
    procs, urls = [], []
    for _ in range(2):
        port = free_port()
        cmd = [MEETBRIDGE, "serve", "--port", str(port), "--no-worker"]
        log = open(scenario.stage.workdir / f"serve-{port}.log", "wb")  # noqa: SIM115
        procs.append(subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=log))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url, proc in zip(urls, procs, strict=True):
            _wait_healthy(url, proc)
        yield urls
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"meetbridge serve exited with {proc.returncode}"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"meetbridge serve at {url} did not answer /healthz")


@pytest.fixture
async def api_key(scenario: Scenario) -> AsyncIterator[str]:
    with scenario.stage.services.sessions() as session, session.begin():
        admin = session.scalars(select(User).where(User.email == org.ADMIN)).one()
        _, key = create_api_key(session, admin, "scale-out test")
    yield key


async def test_two_serve_processes_book_a_slot_once(
    scenario: Scenario, two_servers: list[str], api_key: str
) -> None:
    slug = scenario.meeting_type("zoom", "zoe@chaos.test")
    start: datetime = scenario.slot(slug, 5)
    body = {
        "meeting_type": slug,
        "start": start.isoformat(),
        "name": "Racing Client",
        "email": "racer@example.org",
        "timezone": "Europe/Paris",
    }
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(timeout=30) as http:
        answers = await asyncio.gather(
            *(
                http.post(f"{two_servers[i % 2]}/api/v1/bookings", json=body, headers=headers)
                for i in range(8)
            )
        )
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * 7, [a.text for a in answers]
    assert all(
        a.json()["error"]["code"] == "slot_unavailable" for a in answers if a.status_code == 409
    )
    with scenario.stage.services.sessions() as session:
        assert len(session.scalars(select(Booking).where(Booking.start_at == start)).all()) == 1
