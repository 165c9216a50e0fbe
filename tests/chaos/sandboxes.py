"""The three provider sandboxes of a campaign: served over HTTP, seeded, read back.

Each sandbox runs on uvicorn on 127.0.0.1 in a thread of the campaign process and uses the
campaign's clock. This module also clicks through each sandbox's consent page the way a
person does (the OAuth flow of :class:`~meetbridge.conferencing.connections.ConnectionService`
runs for real), and lists the meetings that exist at each provider, each with the booking key
it carries, so the invariants can be checked against the provider side.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from meetbridge.testing.server import serve_in_thread
from meetbridge_google_meet import sandbox as google
from meetbridge_google_meet.events import KEY_PROPERTY, key_tag
from meetbridge_google_meet.info import CALENDAR_EVENTS_SCOPE
from meetbridge_teams import sandbox as teams
from meetbridge_zoom import sandbox as zoom
from tests.chaos.secrets import harness

ZOOM_ACCOUNT = "SbxAcct1Q2uLZwqf0wM0bA"  # the seeded Pro account
ZOOM_ADMIN = "ada.admin@example.com"  # its admin, who connects the organisation's Zoom
_ZOOM_MARKER = re.compile(r"\[meetbridge:([A-Za-z0-9._:-]+)\]")


@dataclass(frozen=True)
class ProviderMeeting:
    """A live meeting at a provider, as the provider itself has it."""

    provider: str
    external_id: str
    key: str  # the booking key it carries (Google: the digest of it)
    owner: str  # the provider account hosting it (email)
    start: datetime
    end: datetime


class Sandboxes:
    """Zoom, Google and Microsoft sandboxes sharing one clock."""

    def __init__(self, clock: Any, *, hang_seconds: float) -> None:
        self.clock = clock
        self.zoom = zoom.SandboxState(clock=clock)
        self.zoom.hang_seconds = hang_seconds
        self.google = google.SandboxState(clock=clock)
        self.google.faults.hang_seconds = hang_seconds
        self.teams = teams.SandboxState(clock=clock)
        self.teams.faults.hang_seconds = hang_seconds
        self.teams.faults.retry_after_seconds = 2
        self.urls: dict[str, str] = {}

    @contextmanager
    def serving(self) -> Iterator[Sandboxes]:
        with ExitStack() as stack:
            self.urls["zoom"] = stack.enter_context(serve_in_thread(zoom.create_app(self.zoom)))
            self.urls["google_meet"] = stack.enter_context(
                serve_in_thread(google.create_app(self.google))
            )
            self.urls["teams"] = stack.enter_context(serve_in_thread(teams.create_app(self.teams)))
            # The sandboxes drop connections on purpose; uvicorn logs each drop as an error.
            # (Set after the servers start: starting one configures uvicorn's loggers.)
            logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
            yield self

    # -- settings ------------------------------------------------------------------------------
    def provider_settings(self) -> dict[str, Any]:
        """The ``providers`` settings section pointing every plugin at its sandbox."""
        return {
            "zoom": {
                "client_id": zoom.DEFAULT_CLIENT_ID,
                "client_secret": zoom.DEFAULT_CLIENT_SECRET,
                "webhook_secret": zoom.DEFAULT_WEBHOOK_SECRET,
                **zoom.sandbox_endpoints(self.urls["zoom"]),
                "options": {
                    "account_level_client_id": zoom.DEFAULT_ADMIN_CLIENT_ID,
                    "account_level_client_secret": zoom.DEFAULT_ADMIN_CLIENT_SECRET,
                },
            },
            "google_meet": {
                "client_id": google.SANDBOX_CLIENT_ID,
                "client_secret": google.SANDBOX_CLIENT_SECRET,
                **google.sandbox_endpoints(self.urls["google_meet"]),
                # Keep the plugin's own waits short: the campaign is about the host's retries.
                "options": {
                    "conference_poll_interval_seconds": 0.01,
                    "rate_limit_retries": 1,
                    "rate_limit_backoff_seconds": 0.01,
                },
            },
            "teams": {
                "client_id": teams.DEFAULT_CLIENT_ID,
                "client_secret": teams.DEFAULT_CLIENT_SECRET,
                **teams.sandbox_endpoints(self.urls["teams"]),
            },
        }

    # -- people --------------------------------------------------------------------------------
    def add_zoom_user(self, email: str) -> None:
        """A licensed member of the seeded Pro account (so account-level meetings work too)."""
        if self.zoom.user(email) is None:
            user_id = "Chx" + hashlib.sha256(email.encode()).hexdigest()[:19]
            self.zoom.add_user(user_id, email, email.split("@")[0], "Chaos", ZOOM_ACCOUNT)

    def add_google_account(self, email: str) -> None:
        self.google.add_account(email, name=email.split("@")[0], hosted_domain="chaos.test")

    def add_teams_account(self, email: str) -> None:
        if self.teams.account_by_login(email) is None:
            self.teams.add_account(
                teams.Account(
                    str(uuid.uuid5(uuid.NAMESPACE_URL, email)),
                    teams.CONTOSO_TENANT_ID,
                    email,
                    email,
                    email.split("@")[0],
                )
            )

    # -- consent -------------------------------------------------------------------------------
    async def consent(self, provider: str, url: str, login: str) -> dict[str, str]:
        """Approve the consent page at ``url`` as ``login``; the redirect's query (code, state)."""
        with harness():  # the person's browser, not meetbridge: it sees the code
            return await self._consent(provider, url, login)

    async def _consent(self, provider: str, url: str, login: str) -> dict[str, str]:
        async with httpx.AsyncClient(timeout=10.0) as http:
            page = (await http.get(url)).text
            action = html.unescape(
                re.search(r"<form method=.?post.? action=['\"]([^'\"]+)", page)[1]
            )
            hidden = {
                html.unescape(k): html.unescape(v)
                for k, v in re.findall(
                    r"<input type=.?hidden.? name=['\"]([^'\"]+)['\"] value=['\"]([^'\"]*)", page
                )
            }
            if provider == "zoom":
                form = [*hidden.items(), ("user", login), ("decision", "allow")]
            elif provider == "google_meet":
                form = [*hidden.items(), ("account", login), ("decision", "allow")]
                form.append(("scope", CALENDAR_EVENTS_SCOPE))
            else:
                form = [*hidden.items(), ("login", login), ("decision", "accept")]
            answer = await http.post(
                action,
                content=urlencode(form).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        if answer.status_code != 302:
            raise RuntimeError(f"{provider} consent for {login} failed: {answer.status_code}")
        return dict(httpx.URL(answer.headers["location"]).params)

    # -- out-of-band events --------------------------------------------------------------------
    def revoke(self, provider: str, login: str) -> None:
        """The person revokes meetbridge's access at the provider (not through meetbridge)."""
        if provider == "zoom":
            self.zoom.revoke_user_grants(login)
        elif provider == "google_meet":
            account = self.google.account_by_email(login)
            assert account is not None
            self.google.revoke_grant(google.SANDBOX_CLIENT_ID, account.sub)
        else:
            account = self.teams.account_by_login(login)
            assert account is not None
            self.teams.revoke_grant(account.id)

    # -- faults --------------------------------------------------------------------------------
    def arm(self, provider: str, path: str, kind: str, method: str | None) -> None:
        if provider == "zoom":
            self.zoom.faults.fail_next(path, kind, method=method)
        elif provider == "google_meet":
            self.google.faults.fail_next(path, kind, method=method)
        else:
            self.teams.faults.fail_next(path, kind, method=method)

    def clear_faults(self) -> None:
        for state in (self.zoom, self.google, self.teams):
            state.faults.clear()

    def fired(self) -> list[tuple[str, str]]:
        """(provider, kind) of every fault that happened."""
        out = [("zoom", kind) for kind, _ in self.zoom.faults.fired]
        out += [("google_meet", kind) for _, kind in self.google.faults.triggered]
        out += [("teams", kind) for kind, _ in self.teams.faults.fired]
        return out

    # -- the provider side ---------------------------------------------------------------------
    def live_meetings(self) -> list[ProviderMeeting]:
        out: list[ProviderMeeting] = []
        for m in self.zoom.live_meetings():
            found = _ZOOM_MARKER.search(m["agenda"] or "")
            out.append(
                ProviderMeeting(
                    "zoom",
                    str(m["id"]),
                    found.group(1) if found else "",
                    m["host_email"],
                    m["start"],
                    m["start"] + timedelta(minutes=m["duration"]),
                )
            )
        for e in self.google.live_events():
            private = (e.fields.get("extendedProperties") or {}).get("private") or {}
            out.append(
                ProviderMeeting(
                    "google_meet",
                    e.id,
                    str(private.get(KEY_PROPERTY, "")),
                    self.google.accounts[e.sub].email,
                    e.start,
                    e.end,
                )
            )
        for t in list(self.teams.meetings.values()):
            out.append(
                ProviderMeeting(
                    "teams",
                    t.id,
                    t.external_id or "",
                    self.teams.accounts[t.owner_id].user_principal_name,
                    t.start,
                    t.end,
                )
            )
        return out

    @staticmethod
    def key_seen_at(provider: str, idempotency_key: str) -> str:
        """How a meeting made for ``idempotency_key`` shows its key at ``provider``."""
        if provider == "google_meet":
            return key_tag(idempotency_key, google.SANDBOX_CLIENT_ID)
        return idempotency_key
