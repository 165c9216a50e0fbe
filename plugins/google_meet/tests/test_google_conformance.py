"""The provider conformance suite, run against the Google Meet plugin and its sandbox.

The harness reuses this directory's helpers (``google_meet_testkit``) and fixtures
(``conftest.py``): a fresh Google sandbox per test over real HTTP, one manual clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from google_meet_testkit import CLIENT_ID, REDIRECT_URI, consent, provider_context

from meetbridge.plugins import PluginHost
from meetbridge.providers import ConnectedAccount, ProviderContext
from meetbridge.testing.conformance import (
    HarnessLacks,
    ObservedMeeting,
    ProviderConformance,
    ProviderHarness,
)
from meetbridge_google_meet.sandbox import ManualClock, SandboxState, sandbox_endpoints

EVENTS = "/calendar/v3/calendars/primary/events"
# operation -> (path prefix inside the sandbox, HTTP method)
ROUTES = {
    "create": (EVENTS, "POST"),
    "update": (EVENTS, "PATCH"),
    "delete": (EVENTS, "DELETE"),
    "refresh": ("/token", "POST"),
    "revoke": ("/revoke", None),
}
FAULT_KINDS = {
    "5xx": "5xx",
    "reset_after_acting": "reset_after_acting",
    "rate_limit": "rate_limit_429",
}


class GoogleMeetHarness(ProviderHarness):
    provider = "google_meet"
    redirect_uri = REDIRECT_URI

    def __init__(self, host: PluginHost, state: SandboxState, url: str, clock: ManualClock) -> None:
        self.host, self.state, self.url, self.manual_clock = host, state, url, clock

    def plugin_host(self) -> PluginHost:
        return self.host

    def clock(self) -> Any:
        return self.manual_clock()

    def context(self, **options: Any) -> ProviderContext:
        return provider_context(
            self.host,
            self.http,
            self.manual_clock,
            endpoints=sandbox_endpoints(self.url),
            options=options,
        )

    async def consent(
        self, authorization_url: str, *, allow: bool = True, account_level: bool = False
    ) -> Mapping[str, str]:
        assert self.http is not None
        return await consent(self.http, authorization_url, allow=allow)

    def kill_grant(self, account: ConnectedAccount) -> None:
        self.state.revoke_grant(CLIENT_ID, account.external_account_id)

    async def live_meetings(self) -> list[ObservedMeeting]:
        return [
            ObservedMeeting(
                event.id,
                event.start,
                int((event.end - event.start).total_seconds() // 60),
                str(event.fields.get("summary", "")),
            )
            for event in self.state.live_events()
        ]

    def fail_next(self, operation: str, fault: str, *, times: int = 1) -> None:
        if operation not in ROUTES or fault not in FAULT_KINDS:
            raise HarnessLacks("fail_next", f"no {fault!r} fault for {operation!r}")
        path, method = ROUTES[operation]
        self.state.faults.fail_next(path, FAULT_KINDS[fault], times=times, method=method)


@pytest.fixture
def provider_harness(
    host: PluginHost, sandbox: SandboxState, sandbox_url: str, clock: ManualClock
) -> GoogleMeetHarness:
    return GoogleMeetHarness(host, sandbox, sandbox_url, clock)


class TestGoogleMeetConformance(ProviderConformance):
    """Google Meet meets every contract that applies to it (no account level, rooms...)."""
