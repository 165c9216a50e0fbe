"""How a contract runs: the per-test :class:`Kit`, the ``@contract`` decorator and its runner.

Contracts are written as ``async def`` methods taking a :class:`Kit`. ``@contract`` turns each
into a plain pytest test that takes the ``provider_harness`` fixture, skips it when the provider
lacks a capability it needs (the reason names the capability), and runs it in an event loop of
its own. The suite therefore needs no asyncio plugin for pytest, and works the same whether or
not the project running it uses one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from meetbridge.conferencing import oauth
from meetbridge.plugins import PluginHost, UnknownProvider
from meetbridge.providers import (
    Capability,
    ConnectedAccount,
    Credentials,
    Meeting,
    MeetingRef,
    MeetingRequest,
    ProviderContext,
    ProviderInfo,
    TokenSet,
)
from meetbridge.testing.conformance.harness import HarnessLacks, ObservedMeeting, ProviderHarness
from meetbridge.testing.credentials import MemoryCredentials

MARK = "meetbridge_conformance"
Scenario = Callable[[Any, "Kit"], Awaitable[None]]


@dataclass(frozen=True)
class ConnectAttempt:
    """A started connect: the URL to send the person to, and what the host keeps."""

    url: str
    state: str
    code_verifier: str

    @property
    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.url).query).items()}


@dataclass
class Kit:
    """What a contract works with: the harness, the plugin host, and the steps meetbridge takes."""

    harness: ProviderHarness
    host: PluginHost
    info: ProviderInfo
    http: httpx.AsyncClient

    @property
    def provider(self) -> str:
        return self.info.name

    def supports(self, capability: Capability) -> bool:
        return self.info.supports(capability)

    async def call(
        self, hook: str, *, context: ProviderContext | None = None, **kwargs: Any
    ) -> Any:
        """Call a hook the way the host does: routed to the plugin, awaited if async."""
        return await self.host.call(
            hook, self.provider, context=context or self.harness.context(), **kwargs
        )

    # -- connecting ----------------------------------------------------------------------------
    async def start_connect(self, *, account_level: bool = False) -> ConnectAttempt:
        """``authorization_url`` with a fresh state and PKCE pair, as the host makes them."""
        state, verifier = oauth.new_state(), oauth.new_code_verifier()
        start = await self.call(
            "authorization_url",
            redirect_uri=self.harness.redirect_uri,
            state=state,
            code_challenge=oauth.code_challenge(verifier),
            account_level=account_level,
        )
        return ConnectAttempt(start.url, state, verifier)

    async def finish_connect(
        self, attempt: ConnectAttempt, code: str, *, account_level: bool = False
    ) -> ConnectedAccount:
        return await self.call(
            "connect",
            code=code,
            redirect_uri=self.harness.redirect_uri,
            code_verifier=attempt.code_verifier,
            account_level=account_level,
        )

    async def connect(self, *, account_level: bool = False) -> ConnectedAccount:
        """The whole connect: authorization URL, consent at the sandbox, code exchange."""
        attempt = await self.start_connect(account_level=account_level)
        back = await self.harness.consent(attempt.url, account_level=account_level)
        assert back.get("state") == attempt.state, (
            f"the provider sent the person back with state {back.get('state')!r}, not the one"
            " authorization_url was given: put `state` in the authorization URL unchanged"
        )
        assert back.get("code"), f"the consent answered {dict(back)!r}, with no code"
        return await self.finish_connect(attempt, back["code"], account_level=account_level)

    async def account(self) -> ConnectedAccount | None:
        """A connected account for providers with a connect step; None for the others."""
        return await self.connect() if self.supports(Capability.CONNECT) else None

    def credentials(self, account: ConnectedAccount | TokenSet | None) -> Credentials | None:
        """What the host passes as ``credentials``: None without a connection, else
        in-memory credentials that refresh through the plugin's own hook."""
        if account is None:
            return None
        tokens = account.tokens if isinstance(account, ConnectedAccount) else account

        async def refresh(current: TokenSet) -> TokenSet:
            return await self.call("refresh_credentials", tokens=current)

        return MemoryCredentials(
            tokens,
            refresh if self.supports(Capability.REFRESH) else None,
            external_account_id=getattr(account, "external_account_id", ""),
            email=getattr(account, "email", ""),
            clock=self.harness.clock,
        )

    # -- meetings ------------------------------------------------------------------------------
    def request(self, **overrides: Any) -> MeetingRequest:
        """A booking's meeting request: a week ahead at 14:00 UTC, 30 minutes, a new key."""
        start = (self.harness.clock() + timedelta(days=7)).replace(
            hour=14, minute=0, second=0, microsecond=0
        )
        values: dict[str, Any] = {
            "idempotency_key": f"conformance-{uuid.uuid4().hex[:12]}",
            "topic": "Conformance check",
            "start": start,
            "duration_minutes": 30,
            "timezone": "America/New_York",
            "agenda": "Made by the meetbridge provider conformance suite.",
        }
        values.update(overrides)
        return MeetingRequest(**values)

    async def create(self, credentials: Credentials | None, request: MeetingRequest) -> Meeting:
        return await self.call("create_meeting", request=request, credentials=credentials)

    async def update(
        self, credentials: Credentials | None, meeting: Meeting, request: MeetingRequest
    ) -> Meeting:
        return await self.call(
            "update_meeting", meeting=ref(meeting), request=request, credentials=credentials
        )

    async def delete(self, credentials: Credentials | None, meeting: Meeting) -> Any:
        return await self.call("delete_meeting", meeting=ref(meeting), credentials=credentials)

    async def observe(self, external_id: str) -> ObservedMeeting | None:
        return await self.harness.find_meeting(external_id)

    async def live(self) -> list[ObservedMeeting]:
        return await self.harness.live_meetings()


def ref(meeting: Meeting) -> MeetingRef:
    """The host's stored record of a meeting, as it passes it to update and delete."""
    return MeetingRef(
        external_id=meeting.external_id, join_url=meeting.join_url, extra=meeting.extra
    )


def same_instant(a: datetime, b: datetime) -> bool:
    return a.tzinfo is not None and b.tzinfo is not None and a == b


# -- the decorator and the runner ---------------------------------------------------------------
def contract(*needs: Capability, keeps_meetings: bool = False) -> Callable[[Scenario], Any]:
    """Make ``async def test_x(self, kit)`` a pytest test run against ``provider_harness``.

    ``needs``: capabilities the provider must declare for the contract to apply.
    ``keeps_meetings``: the contract looks at meetings on the provider's side.
    """

    def decorate(scenario: Scenario) -> Callable[..., None]:
        def test(self: Any, provider_harness: ProviderHarness) -> None:
            run_contract(provider_harness, scenario, self, needs, keeps_meetings)

        # Copied by hand, not functools.wraps: pytest would follow __wrapped__ and ask for a
        # fixture named "kit".
        test.__name__ = scenario.__name__
        test.__qualname__ = scenario.__qualname__
        test.__doc__ = scenario.__doc__
        test.__module__ = scenario.__module__
        return getattr(pytest.mark, MARK)(test)

    return decorate


def provider_info(harness: ProviderHarness) -> tuple[PluginHost, ProviderInfo]:
    """The plugin host and the provider's description; a clear failure when it did not load."""
    if not isinstance(harness, ProviderHarness):
        pytest.fail(
            f"provider_harness returned {harness!r}; return an instance of a ProviderHarness"
            " subclass (from meetbridge.testing.conformance import ProviderHarness)."
        )
    host = harness.plugin_host()
    try:
        return host, host.provider(harness.provider)
    except UnknownProvider as exc:
        failures = "; ".join(f"{f.name} ({f.distribution}): {f.error}" for f in host.failures)
        pytest.fail(
            f"{exc} Set ProviderHarness.provider to the name describe_provider returns, and make"
            " sure the plugin is installed (its entry point in the 'meetbridge' group)."
            + (f" Plugins that failed to load: {failures}" if failures else "")
        )


def run_contract(
    harness: ProviderHarness,
    scenario: Scenario,
    owner: Any,
    needs: tuple[Capability, ...],
    keeps_meetings: bool,
) -> None:
    host, info = provider_info(harness)
    for capability in needs:
        if not info.supports(capability):
            pytest.skip(
                f"{info.name} does not declare Capability.{capability.name} ({capability.value!r})"
            )
    if keeps_meetings and not harness.keeps_meetings:
        pytest.skip(
            f"{info.name} keeps no meetings at the provider (its harness sets keeps_meetings ="
            " False), so there is nothing there to look at"
        )
    try:
        _run_in_own_loop(_with_client(harness, host, info, scenario, owner))
    except HarnessLacks as lack:
        _required_or_skip(harness, info, lack)


def _required_or_skip(harness: ProviderHarness, info: ProviderInfo, lack: HarnessLacks) -> None:
    required = (lack.method == "consent" and info.supports(Capability.CONNECT)) or (
        lack.method == "live_meetings" and harness.keeps_meetings
    )
    message = f"{type(harness).__name__} for {info.name}: {lack}"
    if required:
        pytest.fail(
            f"{message}. Implement ProviderHarness.{lack.method} (see docs/plugins/testing.md);"
            " without it the core contract cannot be checked.",
            pytrace=False,
        )
    pytest.skip(f"{message}; implement ProviderHarness.{lack.method} to run this contract")


async def _with_client(
    harness: ProviderHarness, host: PluginHost, info: ProviderInfo, scenario: Scenario, owner: Any
) -> None:
    async with httpx.AsyncClient(timeout=10.0) as client:
        harness.http = client
        try:
            await scenario(owner, Kit(harness, host, info, client))
        finally:
            harness.http = None


def _run_in_own_loop(coro: Awaitable[None]) -> None:
    # A loop of its own, never installed as the thread's current loop, so it cannot disturb
    # the loops an asyncio plugin for pytest manages for other tests.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(coro)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()
