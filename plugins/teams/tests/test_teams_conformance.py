"""The provider conformance suite, run against the Microsoft Teams plugin and its sandbox.

The harness reuses this directory's helpers (``teams_support``) and fixtures (``conftest.py``):
the Microsoft sandbox on real HTTP and one fake clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from teams_support import REDIRECT_URI, WORK, FakeClock, Teams

from meetbridge.plugins import PluginHost, build_plugin_host
from meetbridge.providers import ConnectedAccount, ProviderContext
from meetbridge.testing.conformance import (
    HarnessLacks,
    ObservedMeeting,
    ProviderConformance,
    ProviderHarness,
)
from meetbridge_teams.sandbox import SandboxState

MEETINGS = "/v1.0/me/onlineMeetings"
# operation -> (path prefix inside the sandbox, HTTP method); no revoke: Microsoft has none.
ROUTES = {
    "create": (f"{MEETINGS}/createOrGet", "POST"),
    "update": (f"{MEETINGS}/", "PATCH"),
    "delete": (f"{MEETINGS}/", "DELETE"),
    "refresh": ("/organizations/oauth2/v2.0/token", "POST"),
}
FAULT_KINDS = {
    "5xx": "5xx",
    "reset_after_acting": "reset_after_acting",
    "rate_limit": "rate_limit_qps",
}


class TeamsHarness(ProviderHarness):
    provider = "teams"
    redirect_uri = REDIRECT_URI

    def __init__(self, state: SandboxState, url: str, clock: FakeClock) -> None:
        self.host = build_plugin_host(env={})
        self.state, self.url, self.fake_clock = state, url, clock

    def _teams(self) -> Teams:
        return Teams(self.host, self.state, self.url, self.http, self.fake_clock)

    def plugin_host(self) -> PluginHost:
        return self.host

    def clock(self) -> Any:
        return self.fake_clock()

    def context(self, **options: Any) -> ProviderContext:
        return self._teams().context(**options)

    async def consent(
        self, authorization_url: str, *, allow: bool = True, account_level: bool = False
    ) -> Mapping[str, str]:
        answer = await self._teams().sign_in(
            authorization_url, WORK, decision="accept" if allow else "cancel"
        )
        assert answer.status_code == 302, answer.text
        return dict(httpx.URL(answer.headers["location"]).params)

    def kill_grant(self, account: ConnectedAccount) -> None:
        self.state.revoke_grant(account.external_account_id)

    async def live_meetings(self) -> list[ObservedMeeting]:
        return [
            ObservedMeeting(m.id, m.start, int((m.end - m.start).total_seconds() // 60), m.subject)
            for m in list(self.state.meetings.values())
        ]

    def fail_next(self, operation: str, fault: str, *, times: int = 1) -> None:
        if operation not in ROUTES or fault not in FAULT_KINDS:
            raise HarnessLacks("fail_next", f"no {fault!r} fault for {operation!r}")
        path, method = ROUTES[operation]
        self.state.faults.fail_next(path, FAULT_KINDS[fault], count=times, method=method)


@pytest.fixture
def provider_harness(state: SandboxState, sandbox_url: str, clock: FakeClock) -> TeamsHarness:
    return TeamsHarness(state, sandbox_url, clock)


class TestTeamsConformance(ProviderConformance):
    """Teams meets every contract that applies to it (no revoke endpoint, no account level)."""
