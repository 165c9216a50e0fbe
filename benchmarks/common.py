"""What the benchmarks share: the sandbox process, throwaway databases, a seeded organisation.

Everything here talks only to 127.0.0.1 and every wait is bounded.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

HERE = Path(__file__).resolve().parent
SANDBOX_SCRIPT = HERE / "sandbox_server.py"
START_TIMEOUT_SECONDS = 20.0
# Every day 00:00-24:00 (time(0) as the end means midnight at the end of the day).
ALL_DAY = [(d, dtime(0), dtime(0)) for d in range(7)]
PG_URL_ENV = "MEETBRIDGE_DATABASE_URL"


def exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so a stopped benchmark still drops its PostgreSQL
    database, removes its files and stops its sandbox (they are context managers)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


# -- numbers --------------------------------------------------------------------------------
def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p99 / mean / max of ``seconds``, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "p50_ms": round(percentile(ms, 50), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "mean_ms": round(statistics.fmean(ms), 2) if ms else 0.0,
        "max_ms": round(max(ms), 2) if ms else 0.0,
    }


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


# -- the sandbox ----------------------------------------------------------------------------
class SandboxProcess:
    """The Zoom sandbox in its own process (see ``sandbox_server.py``)."""

    def __init__(self, *, members: int, latency_ms: float) -> None:
        self.members = members
        self.latency_ms = latency_ms
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> SandboxProcess:
        cmd = [
            sys.executable,
            str(SANDBOX_SCRIPT),
            f"--members={self.members}",
            f"--latency-ms={self.latency_ms}",
        ]
        self._proc = subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
            cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if not line.startswith("PORT "):
            self.__exit__(None, None, None)
            raise RuntimeError(f"the sandbox did not start (said {line!r})")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                self.control("stats", method="GET")
                return self
            except httpx.TransportError:
                if time.monotonic() > deadline or self._proc.poll() is not None:
                    self.__exit__(None, None, None)
                    raise RuntimeError("the sandbox did not answer in time") from None
                time.sleep(0.05)

    def __exit__(self, *_exc: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        self._proc = None

    def control(self, action: str, method: str = "POST", **options: Any) -> dict[str, Any]:
        """Call the sandbox's ``/_bench`` control API (no added latency)."""
        response = httpx.request(
            method, f"{self.url}/_bench/{action}", content=json.dumps(options), timeout=10.0
        )
        response.raise_for_status()
        return response.json()


# -- databases ------------------------------------------------------------------------------
@dataclass
class Database:
    """A migrated database of its own: a SQLite file, or a PostgreSQL database it created."""

    kind: str  # "sqlite" or "postgresql"
    url: str
    _cleanup: Any = None

    def drop(self) -> None:
        if self._cleanup is not None:
            self._cleanup()
            self._cleanup = None


def postgres_server_url() -> str | None:
    """The PostgreSQL server to benchmark on, when ``MEETBRIDGE_DATABASE_URL`` names one."""
    url = os.environ.get(PG_URL_ENV, "")
    if url and make_url(url).get_backend_name() == "postgresql":
        return url
    return None


@contextlib.contextmanager
def database(kind: str, workdir: Path) -> Iterator[Database]:
    """A freshly migrated database; a PostgreSQL one is created here and dropped after."""
    from meetbridge import db

    if kind == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:8]}.sqlite3"
        url = f"sqlite:///{path}"
        db.upgrade(url)
        yield Database(kind, url)
        return
    server = postgres_server_url()
    if server is None:
        raise RuntimeError(f"{PG_URL_ENV} does not name a PostgreSQL server")
    admin_url = make_url(server).set(database="postgres")
    name = f"meetbridge_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    handle = Database(kind, url, drop)
    try:
        db.upgrade(url)
        yield handle
    finally:
        handle.drop()


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="meetbridge-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# -- an organisation with Zoom-connected hosts ----------------------------------------------
@dataclass
class Org:
    """The seeded organisation: ``hosts[i]`` is the email of member ``i``, whose one-person
    meeting type is ``slugs[i]`` (30 minutes, Zoom, bookable around the clock)."""

    services: Any
    org_id: int
    hosts: list[str] = field(default_factory=list)
    user_ids: list[int] = field(default_factory=list)
    slugs: list[str] = field(default_factory=list)
    type_ids: list[int] = field(default_factory=list)
    connection_ids: list[int] = field(default_factory=list)


def bench_settings(
    db_url: str,
    data_dir: Path,
    sandbox_url: str,
    *,
    secret_key: str | None = None,
    **zoom_options: Any,
) -> Any:
    """Settings for a benchmark's host; processes that share a database pass the same
    ``secret_key`` (the vault's), so each can decrypt the tokens another stored."""
    from sandbox_server import REDIRECT_URI

    from meetbridge.settings import Settings
    from meetbridge.vault import generate_key
    from meetbridge_zoom.sandbox import (
        DEFAULT_ADMIN_CLIENT_ID,
        DEFAULT_ADMIN_CLIENT_SECRET,
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        DEFAULT_WEBHOOK_SECRET,
        sandbox_endpoints,
    )

    return Settings(
        data_dir=data_dir,
        database_url=db_url,
        secret_keys=[secret_key or generate_key()],
        providers={
            "zoom": {
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": DEFAULT_CLIENT_SECRET,
                "webhook_secret": DEFAULT_WEBHOOK_SECRET,
                "redirect_uri": REDIRECT_URI,
                **sandbox_endpoints(sandbox_url),
                "options": {
                    "account_level_client_id": DEFAULT_ADMIN_CLIENT_ID,
                    "account_level_client_secret": DEFAULT_ADMIN_CLIENT_SECRET,
                    **zoom_options,
                },
            }
        },
    )


def build_services(settings: Any) -> Any:
    from meetbridge.plugins import build_plugin_host
    from meetbridge.services import Services

    # Only the Zoom plugin: the other providers are never asked for a Zoom-located type.
    return Services(settings=settings, plugins=build_plugin_host(env={}))


def seed_org(services: Any, hosts: int) -> Org:
    """An organisation, an admin, and ``hosts`` members with one meeting type each."""
    from sandbox_server import member_email

    from meetbridge.directory import create_user, get_or_create_organization
    from meetbridge.models import Organization, Role
    from meetbridge.scheduling.availability import set_weekly_availability
    from meetbridge.scheduling.meeting_types import MeetingTypeSpec, save_meeting_type
    from meetbridge.scheduling.slots import Window

    org = Org(services=services, org_id=0)
    installed = list(services.plugins.providers())
    with services.sessions() as session, session.begin():
        organization = get_or_create_organization(session, "Bench Co", timezone="UTC")
        create_user(session, organization, "admin@bench.test", role=Role.ADMIN)
        for i in range(hosts):
            email = member_email(i)
            user = create_user(session, organization, email, timezone="UTC")
            set_weekly_availability(session, user, [Window(*w) for w in ALL_DAY])
            mt = save_meeting_type(
                session,
                session.get(Organization, organization.id),
                MeetingTypeSpec(
                    name=f"Call with host {i}",
                    slug=f"call-{i}",
                    duration_minutes=30,
                    hosts=[email],
                    location="zoom",
                ),
                installed=installed,
            )
            org.hosts.append(email)
            org.user_ids.append(user.id)
            org.slugs.append(mt.slug)
            org.type_ids.append(mt.id)
        org.org_id = organization.id
    return org


async def consent(http: httpx.AsyncClient, url: str, email: str) -> httpx.URL:
    """Click "Allow" on the sandbox's consent page as ``email``; the redirect it answers."""
    page = await http.get(url)
    page.raise_for_status()
    found = re.search(r"<form method='post' action='([^']+)'", page.text)
    if found is None:
        raise RuntimeError("the sandbox consent page has no form")
    fields = {
        html.unescape(k): html.unescape(v)
        for k, v in re.findall(r"<input type='hidden' name='([^']+)' value='([^']*)'>", page.text)
    }
    answer = await http.post(
        html.unescape(found[1]), data={**fields, "user": email, "decision": "allow"}
    )
    if answer.status_code != 302:
        raise RuntimeError(f"consent answered {answer.status_code}")
    return httpx.URL(answer.headers["location"])


async def connect_all(org: Org) -> None:
    """Each host connects their own Zoom through the real OAuth flow (host service + sandbox)."""
    from meetbridge.conferencing.connections import ConnectionService

    service = ConnectionService(org.services)
    async with httpx.AsyncClient(timeout=10.0) as http:
        for user_id, email in zip(org.user_ids, org.hosts, strict=True):
            pending = await service.start_connect(user_id=user_id, provider="zoom")
            back = await consent(http, pending.url, email)
            conn = await service.complete_connect(
                pending, state=back.params["state"], code=back.params["code"]
            )
            org.connection_ids.append(conn.id)


def first_slot(now: datetime) -> datetime:
    """The first half-hour boundary a day after ``now`` (beyond any minimum notice)."""
    day = (now + timedelta(days=1)).date()
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def slot_plan(count: int, hosts: int, start: datetime) -> list[tuple[int, datetime]]:
    """``count`` (host index, start) pairs that never collide: hosts in turn, then the next
    half hour."""
    return [(i % hosts, start + timedelta(minutes=30 * (i // hosts))) for i in range(count)]
