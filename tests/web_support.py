"""The web application on a real uvicorn server, with the provider sandboxes mounted, for the
HTTP and browser tests (the fixtures are in :mod:`tests.web_fixtures`).

One server runs for the whole test session (starting uvicorn is the slow part); each test gets
a fresh app on a fresh database and fresh sandboxes, swapped in behind it. The organisation is
"Acme": an admin and two members (ann, bob) who can sign in, available every day 09:00-17:00.
Tests talk to the app over HTTP: its services belong to the server's event loop (use
:meth:`Stack.on_server` to run a coroutine there).
"""

from __future__ import annotations

import asyncio
import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from meetbridge.accounts import create_account, hash_password
from meetbridge.directory import get_or_create_organization
from meetbridge.models import Organization, Role
from meetbridge.plugins import build_plugin_host
from meetbridge.scheduling.availability import OFFICE_HOURS
from meetbridge.scheduling.meeting_types import MeetingTypeSpec, save_meeting_type
from meetbridge.scheduling.slots import Window
from meetbridge.services import Services
from meetbridge.web import create_app
from meetbridge.web.api_keys import create_api_key
from meetbridge.web.sandbox import SandboxMount, answer_consent, build_sandboxes, sandbox_settings
from meetbridge.web.scripted_browser import ScriptedBrowser

PASSWORD = "correct horse battery"
PEOPLE = {
    "admin": ("admin@acme.test", Role.ADMIN),
    "ann": ("ann@acme.test", Role.MEMBER),
    "bob": ("bob@acme.test", Role.MEMBER),
}
ALL_WEEK = [Window(d, OFFICE_HOURS[0].start, OFFICE_HOURS[0].end) for d in range(7)]
ZOOM_LICENSED = "lena.licensed@example.com"
ZOOM_BASIC = "bo.basic@example.com"
GOOGLE_ACCOUNT = "alice@example.com"


class Switch:
    """The ASGI app the session's server runs: forwards to the current test's app."""

    def __init__(self) -> None:
        self.app: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.loop = asyncio.get_running_loop()
        if self.app is None:
            raise RuntimeError("no web app installed for this test")
        await self.app(scope, receive, send)


@functools.cache
def password_hash() -> str:
    return hash_password(PASSWORD)


@dataclass
class Stack:
    """The app under test and what it was seeded with."""

    base_url: str
    services: Services
    app: Any
    sandboxes: dict[str, SandboxMount]
    org_id: int
    users: dict[str, int]
    switch: Any
    browsers: list[ScriptedBrowser] = field(default_factory=list)

    def email(self, who: str) -> str:
        return PEOPLE[who][0]

    def browser(self) -> ScriptedBrowser:
        browser = ScriptedBrowser(self.base_url)
        self.browsers.append(browser)
        return browser

    async def signed_in(self, who: str) -> ScriptedBrowser:
        browser = self.browser()
        await browser.sign_in(self.email(who), PASSWORD)
        return browser

    def api(self, key: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key or self.api_key()}"}
        client = httpx.AsyncClient(base_url=self.base_url + "/api/v1", headers=headers, timeout=30)
        self.browsers.append(client)  # type: ignore[arg-type]
        return client

    def api_key(self, who: str = "admin") -> str:
        with self.services.sessions() as session, session.begin():
            from meetbridge.models import User

            admin = session.get(User, self.users[who])
            _, key = create_api_key(session, admin, f"platform {who}")
        return key

    async def connect(
        self,
        browser: ScriptedBrowser,
        provider: str,
        account: str,
        *,
        allow: bool = True,
        scope: str = "",
    ) -> httpx.Response:
        """Connect through the sandbox's consent page, as the browser's person would."""
        start = await browser.get(f"/connect/{provider}" + (f"?scope={scope}" if scope else ""))
        back = await answer_consent(browser, start, provider, account, allow=allow)
        assert back.status_code == 302, back.text
        return await browser.follow(back)

    def meeting_type(self, **spec: Any) -> str:
        values: dict[str, Any] = dict(
            name="Intro call", duration_minutes=30, hosts=["ann@acme.test"]
        )
        values.update(spec)
        with self.services.sessions() as session, session.begin():
            org = session.get(Organization, self.org_id)
            mt = save_meeting_type(
                session, org, MeetingTypeSpec(**values), list(self.services.plugins.providers())
            )
            return mt.slug

    async def first_slot(self, slug: str, *, skip: int = 0) -> datetime:
        client = self.api()
        answer = await client.get(f"/meeting-types/{slug}/slots")
        assert answer.status_code == 200, answer.text
        return datetime.fromisoformat(answer.json()["slots"][skip]["start"])

    def count(self, model: Any) -> int:
        with self.services.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    def on_server(self, coro: Any, timeout: float = 20) -> Any:
        """Run ``coro`` on the server's event loop (the services belong to it)."""
        assert self.switch.loop is not None, "the server has not served a request yet"
        return asyncio.run_coroutine_threadsafe(coro, self.switch.loop).result(timeout)


def build_stack(switch: Switch, url: str, settings: Any) -> Stack:
    from meetbridge_zoom import limits

    limits.reset()
    settings = settings.model_copy(update={"base_url": url})
    plugins = build_plugin_host(env={})
    mounts = build_sandboxes(plugins, url)
    services = Services(settings=sandbox_settings(settings, mounts), plugins=plugins)
    users: dict[str, int] = {}
    with services.sessions() as session, session.begin():
        org = get_or_create_organization(session, "Acme")
        for who, (email, role) in PEOPLE.items():
            user = create_account(session, org, email, role=role, availability=ALL_WEEK)
            user.password_hash = password_hash()  # hashing once per session saves seconds
            users[who] = user.id
        org_id = org.id
    app = create_app(services, sandboxes=mounts)
    switch.app = app
    return Stack(url, services, app, {m.provider: m for m in mounts}, org_id, users, switch)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def soon(days: int = 1) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


# Columns that change on every request made with them, accepted or refused: a key's last use.
VOLATILE_COLUMNS = {("api_keys", "last_used_at")}


def table_fingerprint(services: Services) -> str:
    """A hash of the content of every table (rows in primary key order): equal before and
    after a request that stored nothing (``VOLATILE_COLUMNS`` aside)."""
    import hashlib

    import meetbridge.models  # noqa: F401  (every table on the metadata)
    from meetbridge import db

    digest = hashlib.sha256()
    with services.sessions() as session:
        for table in db.Base.metadata.sorted_tables:
            columns = [c for c in table.columns if (table.name, c.name) not in VOLATILE_COLUMNS]
            order = list(table.primary_key.columns) or columns
            rows = session.execute(select(*columns).order_by(*order)).all()
            digest.update(f"{table.name}:{len(rows)}:{rows!r}".encode())
    return digest.hexdigest()


def settle(stack: Stack) -> None:
    """Wait for the server's background work (meetings made after an answer)."""
    if stack.switch.loop is not None:
        stack.on_server(stack.app.state.web.bookings.worker.wait_background())
