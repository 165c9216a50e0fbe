"""Helpers for the Teams plugin tests: a fake clock, the sandbox harness, request builders."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from meetbridge.conferencing import oauth as host_oauth
from meetbridge.plugins import PluginHost
from meetbridge.providers import ConnectedAccount, MeetingRequest, ProviderContext, TokenSet
from meetbridge.settings import Settings
from meetbridge.testing.credentials import MemoryCredentials
from meetbridge_teams.sandbox import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    SandboxState,
    sandbox_endpoints,
)

REDIRECT_URI = "http://127.0.0.1:8000/connect/teams/callback"
WORK = "adele@contoso.example"
WORK_NO_MAIL = "megan@contoso.example"
PERSONAL = "sam@outlook.example"
UNCONSENTED = "lee@fabrikam.example"
FABRIKAM_ADMIN = "admin@fabrikam.example"


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def teams_settings(endpoints: dict[str, str], **options: Any) -> Settings:
    return Settings(
        providers={
            "teams": {
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": DEFAULT_CLIENT_SECRET,
                "redirect_uri": REDIRECT_URI,
                **endpoints,
                "options": options,
            }
        }
    )


@dataclass
class Teams:
    """Calls the Teams plugin's hooks through a real plugin host, against the sandbox."""

    host: PluginHost
    state: SandboxState
    url: str
    http: httpx.AsyncClient
    clock: FakeClock

    def context(self, http: httpx.AsyncClient | None = None, **options: Any) -> ProviderContext:
        settings = teams_settings(sandbox_endpoints(self.url), **options)
        return ProviderContext(
            settings=settings.provider(self.host.provider("teams")),
            http=http or self.http,
            clock=self.clock,
        )

    async def call(self, hook: str, context: ProviderContext | None = None, **kwargs: Any) -> Any:
        return await self.host.call(hook, "teams", context=context or self.context(), **kwargs)

    async def sign_in(
        self, url: str, login: str, *, decision: str = "accept", for_organization: bool = False
    ) -> httpx.Response:
        """Click through the sandbox's sign-in/consent page as ``login``; its answer."""
        page = await self.http.get(url)
        assert page.status_code == 200, page.text
        return await self.submit(
            page.text, login=login, decision=decision, for_organization=for_organization
        )

    async def submit(self, page: str, **choices: Any) -> httpx.Response:
        action = html.unescape(re.search(r'<form method=post action="([^"]+)"', page)[1])
        fields = {
            html.unescape(k): html.unescape(v)
            for k, v in re.findall(r'<input type=hidden name="([^"]+)" value="([^"]*)">', page)
        }
        data = {**fields, "login": choices["login"], "decision": choices["decision"]}
        if choices.get("for_organization"):
            data["consent_for_organization"] = "1"
        return await self.http.post(action, data=data)

    async def start(self, **options: Any) -> tuple[str, str, str]:
        """Begin a connect: (authorize URL, state, code verifier)."""
        state, verifier = host_oauth.new_state(), host_oauth.new_code_verifier()
        start = await self.call(
            "authorization_url",
            context=self.context(**options),
            redirect_uri=REDIRECT_URI,
            state=state,
            code_challenge=host_oauth.code_challenge(verifier),
            account_level=False,
        )
        return start.url, state, verifier

    async def callback(self, login: str, **options: Any) -> tuple[httpx.URL, str, str]:
        """Sign in as ``login``; (the redirect back to meetbridge, state, verifier)."""
        url, state, verifier = await self.start(**options)
        answer = await self.sign_in(url, login)
        assert answer.status_code == 302, answer.text
        back = httpx.URL(answer.headers["location"])
        assert back.params["state"] == state
        return back, state, verifier

    async def connect(self, login: str = WORK, **options: Any) -> ConnectedAccount:
        back, _, verifier = await self.callback(login, **options)
        return await self.call(
            "connect",
            context=self.context(**options),
            code=back.params["code"],
            redirect_uri=REDIRECT_URI,
            code_verifier=verifier,
            account_level=False,
        )

    def credentials(self, account: ConnectedAccount, **kwargs: Any) -> MemoryCredentials:
        """In-memory credentials that refresh through the plugin's hook, at the sandbox."""
        context = self.context()

        async def refresh(current: TokenSet) -> TokenSet:
            return await self.call("refresh_credentials", context=context, tokens=current)

        return MemoryCredentials(
            account.tokens,
            refresh,
            external_account_id=account.external_account_id,
            email=account.email,
            clock=self.clock,
            **kwargs,
        )


def meeting_request(**overrides: Any) -> MeetingRequest:
    values: dict[str, Any] = {
        "idempotency_key": "booking-1",
        "topic": "Intro call with Sam",
        "start": datetime(2026, 3, 9, 14, 0, tzinfo=UTC),
        "duration_minutes": 30,
        "timezone": "America/New_York",
    }
    values.update(overrides)
    return MeetingRequest(**values)
