"""Helpers for the Google Meet plugin's tests (used by conftest.py and the test modules).

A uniquely named module rather than imports from ``conftest``, so it never collides with
another plugin's test helpers on ``sys.path``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from meetbridge.plugins import PluginHost
from meetbridge.providers import ConnectedAccount, MeetingRequest, ProviderContext, TokenSet
from meetbridge.settings import ProviderSettings, Settings
from meetbridge.testing.credentials import MemoryCredentials
from meetbridge_google_meet.info import CALENDAR_EVENTS_SCOPE
from meetbridge_google_meet.sandbox import ManualClock, SandboxState

PROVIDER = "google_meet"
CLIENT_ID = "test-client.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-test-secret"
REDIRECT_URI = "http://127.0.0.1:9/connect/google_meet/callback"
# Options that keep the plugin's waits in milliseconds.
FAST_OPTIONS = {
    "conference_poll_interval_seconds": 0.01,
    "rate_limit_backoff_seconds": 0.01,
}
# ../shared/specs relative to the repository root (tests -> google_meet -> plugins -> repo).
SPECS_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "specs"


def provider_context(
    host: PluginHost,
    http: httpx.AsyncClient,
    clock: Any,
    *,
    endpoints: dict[str, str] | None = None,
    options: dict[str, Any] | None = None,
    client_id: str = CLIENT_ID,
    client_secret: str = CLIENT_SECRET,
) -> ProviderContext:
    """The context the host would lend the plugin, with settings resolved the host's way."""
    section = ProviderSettings(
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=REDIRECT_URI,
        options={**FAST_OPTIONS, **(options or {})},
        **(endpoints or {}),
    )
    settings = Settings(providers={PROVIDER: section}).provider(host.provider(PROVIDER))
    return ProviderContext(settings=settings, http=http, clock=clock)


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.decode().rstrip("=")


def meeting_request(key: str = "booking-1", **overrides: Any) -> MeetingRequest:
    values: dict[str, Any] = {
        "idempotency_key": key,
        "topic": "Intro call with Dana",
        "start": datetime(2026, 3, 9, 15, 0, tzinfo=UTC),
        "duration_minutes": 30,
        "timezone": "America/New_York",
        "agenda": "Booked through meetbridge",
    }
    values.update(overrides)
    return MeetingRequest(**values)


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def open_consent(http: httpx.AsyncClient, url: str) -> tuple[str, str]:
    """GET the consent page; return (form action, consent id)."""
    page = await http.get(url)
    assert page.status_code == 200, page.text
    consent_id = re.search(r"name='consent_id' value='([^']+)'", page.text)
    action = re.search(r"<form method='post' action='([^']+)'", page.text)
    assert consent_id and action, "the consent page has no form"
    return unescape(action.group(1)), unescape(consent_id.group(1))


async def post_form(
    http: httpx.AsyncClient, url: str, form: list[tuple[str, str]]
) -> httpx.Response:
    """POST a urlencoded form that may repeat a field (checkboxes)."""
    return await http.post(
        url,
        content=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


async def consent(
    http: httpx.AsyncClient,
    url: str,
    *,
    account: str = "alice@example.com",
    scopes: tuple[str, ...] = (CALENDAR_EVENTS_SCOPE,),
    allow: bool = True,
) -> dict[str, str]:
    """Click through the sandbox's consent page like a person; return the redirect's query."""
    action, consent_id = await open_consent(http, url)
    form: list[tuple[str, str]] = [
        ("consent_id", consent_id),
        ("account", account),
        ("decision", "allow" if allow else "deny"),
    ]
    form += [("scope", scope) for scope in scopes]
    answer = await post_form(http, action, form)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI)
    return query_of(location)


@dataclass
class GoogleHarness:
    """Drives the plugin through a real plugin host against the sandbox, as the host would."""

    host: PluginHost
    context: ProviderContext
    http: httpx.AsyncClient
    state: SandboxState
    clock: ManualClock
    connected: dict[str, ConnectedAccount] = field(default_factory=dict)

    async def call(self, hook: str, **kwargs: Any) -> Any:
        return await self.host.call(hook, PROVIDER, context=self.context, **kwargs)

    async def start(self, state: str = "st-1") -> tuple[str, str]:
        """Run ``authorization_url``; return (url, code_verifier)."""
        verifier, challenge = pkce_pair()
        start = await self.call(
            "authorization_url",
            redirect_uri=REDIRECT_URI,
            state=state,
            code_challenge=challenge,
            account_level=False,
        )
        return start.url, verifier

    async def finish(self, code: str, verifier: str) -> ConnectedAccount:
        return await self.call(
            "connect",
            code=code,
            redirect_uri=REDIRECT_URI,
            code_verifier=verifier,
            account_level=False,
        )

    async def connect(
        self, account: str = "alice@example.com", **consent_kw: Any
    ) -> ConnectedAccount:
        url, verifier = await self.start()
        answer = await consent(self.http, url, account=account, **consent_kw)
        assert answer.get("state") == "st-1"
        connected = await self.finish(answer["code"], verifier)
        self.connected[account] = connected
        return connected

    def credentials(self, connected: ConnectedAccount) -> MemoryCredentials:
        """Host-like credentials: refresh through the plugin's refresh_credentials hook."""

        async def refresh(tokens: TokenSet) -> TokenSet:
            return await self.call("refresh_credentials", tokens=tokens)

        return MemoryCredentials(
            connected.tokens,
            refresh,
            external_account_id=connected.external_account_id,
            email=connected.email,
            clock=self.clock,
        )
