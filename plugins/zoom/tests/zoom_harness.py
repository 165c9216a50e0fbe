"""The harness the Zoom plugin tests share: a fake clock, settings, and hook calls.

Hooks are called through a real plugin host with settings whose endpoints point at the
sandbox (served on uvicorn on 127.0.0.1 by the fixtures in ``conftest.py``). One fake clock
drives the sandbox (code and token expiry, daily caps), the plugin (``context.clock``) and
the credentials. The module name is unique so it never collides with other plugins' tests.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from meetbridge.conferencing import oauth as host_oauth
from meetbridge.plugins import PluginHost
from meetbridge.providers import (
    ConnectedAccount,
    MeetingRequest,
    ProviderContext,
    Secret,
    TokenSet,
)
from meetbridge.settings import Settings
from meetbridge.testing.credentials import MemoryCredentials
from meetbridge_zoom.sandbox import (
    DEFAULT_ADMIN_CLIENT_ID,
    DEFAULT_ADMIN_CLIENT_SECRET,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_WEBHOOK_SECRET,
    SandboxState,
    sandbox_endpoints,
)

SPECS = Path(__file__).resolve().parents[3] / ".." / "shared" / "specs"
REDIRECT_URI = "http://127.0.0.1:8000/connect/zoom/callback"
LICENSED = "lena.licensed@example.com"
BASIC = "bo.basic@example.com"
ADMIN = "ada.admin@example.com"


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def zoom_settings(endpoints: dict[str, str], **options: Any) -> Settings:
    return Settings(
        providers={
            "zoom": {
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": DEFAULT_CLIENT_SECRET,
                "webhook_secret": DEFAULT_WEBHOOK_SECRET,
                "redirect_uri": REDIRECT_URI,
                **endpoints,
                "options": {
                    "account_level_client_id": DEFAULT_ADMIN_CLIENT_ID,
                    "account_level_client_secret": DEFAULT_ADMIN_CLIENT_SECRET,
                    **options,
                },
            }
        }
    )


@dataclass
class Zoom:
    """Calls the Zoom plugin's hooks through a real plugin host, against the sandbox."""

    host: PluginHost
    state: SandboxState
    url: str
    http: httpx.AsyncClient
    clock: FakeClock
    options: dict[str, Any] = field(default_factory=dict)

    def context(
        self, *, client_id: str | None = None, client_secret: str | None = None, **options: Any
    ) -> ProviderContext:
        """A context whose endpoints point at the sandbox (optionally another app's keys)."""
        settings = zoom_settings(sandbox_endpoints(self.url), **{**self.options, **options})
        resolved = settings.provider(self.host.provider("zoom"))
        if client_id is not None or client_secret is not None:
            resolved = replace(
                resolved,
                client_id=client_id or resolved.client_id,
                client_secret=Secret(client_secret) if client_secret else resolved.client_secret,
            )
        return ProviderContext(settings=resolved, http=self.http, clock=self.clock)

    async def call(self, hook: str, context: ProviderContext | None = None, **kwargs: Any) -> Any:
        return await self.host.call(hook, "zoom", context=context or self.context(), **kwargs)

    async def consent(self, url: str, email: str, decision: str = "allow") -> httpx.URL:
        """Click through the sandbox's consent page as ``email``; the redirect it answers."""
        page = await self.http.get(url)
        assert page.status_code == 200, page.text
        action = html.unescape(re.search(r"<form method='post' action='([^']+)'", page.text)[1])
        fields = {
            html.unescape(k): html.unescape(v)
            for k, v in re.findall(
                r"<input type='hidden' name='([^']+)' value='([^']*)'>", page.text
            )
        }
        answer = await self.http.post(action, data={**fields, "user": email, "decision": decision})
        assert answer.status_code == 302, answer.text
        return httpx.URL(answer.headers["location"])

    async def start(
        self, *, account_level: bool = False, context: ProviderContext | None = None
    ) -> tuple[str, str, str]:
        """Begin a connect: (authorize URL, state, code verifier)."""
        state, verifier = host_oauth.new_state(), host_oauth.new_code_verifier()
        start = await self.call(
            "authorization_url",
            context=context,
            redirect_uri=REDIRECT_URI,
            state=state,
            code_challenge=host_oauth.code_challenge(verifier),
            account_level=account_level,
        )
        return start.url, state, verifier

    async def connect(
        self, email: str, *, account_level: bool = False, context: ProviderContext | None = None
    ) -> ConnectedAccount:
        """The whole connect: authorize URL, consent as ``email``, code exchange."""
        url, state, verifier = await self.start(account_level=account_level, context=context)
        back = await self.consent(url, email)
        assert back.params["state"] == state
        return await self.call(
            "connect",
            context=context,
            code=back.params["code"],
            redirect_uri=REDIRECT_URI,
            code_verifier=verifier,
            account_level=account_level,
        )

    def credentials(self, account: ConnectedAccount | TokenSet, **kwargs: Any) -> MemoryCredentials:
        """In-memory credentials that refresh through the plugin's hook, at the sandbox."""
        tokens = account.tokens if isinstance(account, ConnectedAccount) else account
        context = self.context(**kwargs.pop("options", {}))

        async def refresh(current: TokenSet) -> TokenSet:
            return await self.call("refresh_credentials", context=context, tokens=current)

        return MemoryCredentials(
            tokens,
            refresh,
            external_account_id=getattr(account, "external_account_id", ""),
            email=getattr(account, "email", ""),
            clock=self.clock,
            **kwargs,
        )

    def tokens_for(self, email: str, **kwargs: Any) -> TokenSet:
        """Tokens granted directly by the sandbox (no consent flow)."""
        body = self.state.grant_tokens(email, **kwargs)
        return TokenSet.from_oauth_response(body, self.clock())


def meeting_request(**overrides: Any) -> MeetingRequest:
    values: dict[str, Any] = {
        "idempotency_key": "booking-1",
        "topic": "Intro call with Sam",
        "start": datetime(2026, 3, 9, 14, 0, tzinfo=UTC),
        "duration_minutes": 30,
        "timezone": "America/New_York",
        "agenda": "Talk about the course.",
    }
    values.update(overrides)
    return MeetingRequest(**values)
