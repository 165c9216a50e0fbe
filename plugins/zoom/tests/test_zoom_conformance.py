"""The provider conformance suite, run against the Zoom plugin and its sandbox.

The harness reuses this directory's helpers (``zoom_harness``) and fixtures (``conftest.py``):
the sandbox on real HTTP, one fake clock for the sandbox, the plugin and the credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from zoom_harness import ADMIN, LICENSED, REDIRECT_URI, FakeClock, Zoom

from meetbridge.plugins import PluginHost
from meetbridge.providers import ConnectedAccount, ProviderContext
from meetbridge.testing.conformance import (
    HarnessLacks,
    ObservedMeeting,
    ProviderConformance,
    ProviderHarness,
)
from meetbridge_zoom.sandbox import SandboxState

# operation -> (path prefix inside the sandbox, HTTP method)
ROUTES = {
    "create": ("/v2/users/", "POST"),
    "update": ("/v2/meetings/", "PATCH"),
    "delete": ("/v2/meetings/", "DELETE"),
    "refresh": ("/oauth/token", "POST"),
    "revoke": ("/oauth/revoke", "POST"),
}
FAULT_KINDS = {
    "5xx": "5xx",
    "reset_after_acting": "reset_after_acting",
    "rate_limit": "rate_limit_qps",
}


class ZoomHarness(ProviderHarness):
    provider = "zoom"
    redirect_uri = REDIRECT_URI

    def __init__(self, host: PluginHost, state: SandboxState, url: str, clock: FakeClock) -> None:
        self.host, self.state, self.url, self.fake_clock = host, state, url, clock

    def _zoom(self) -> Zoom:
        return Zoom(self.host, self.state, self.url, self.http, self.fake_clock)

    def plugin_host(self) -> PluginHost:
        return self.host

    def clock(self) -> Any:
        return self.fake_clock()

    def context(self, **options: Any) -> ProviderContext:
        return self._zoom().context(**options)

    async def consent(
        self, authorization_url: str, *, allow: bool = True, account_level: bool = False
    ) -> Mapping[str, str]:
        person = ADMIN if account_level else LICENSED
        back = await self._zoom().consent(authorization_url, person, "allow" if allow else "deny")
        return dict(back.params)

    def kill_grant(self, account: ConnectedAccount) -> None:
        assert self.state.revoke_user_grants(account.email) >= 1

    async def live_meetings(self) -> list[ObservedMeeting]:
        return [
            ObservedMeeting(str(m["id"]), m["start"], int(m["duration"]), m["topic"])
            for m in self.state.live_meetings()
        ]

    def fail_next(self, operation: str, fault: str, *, times: int = 1) -> None:
        if operation not in ROUTES or fault not in FAULT_KINDS:
            raise HarnessLacks("fail_next", f"no {fault!r} fault for {operation!r}")
        path, method = ROUTES[operation]
        self.state.faults.fail_next(path, FAULT_KINDS[fault], times=times, method=method)


@pytest.fixture
def provider_harness(
    zoom_host: PluginHost, state: SandboxState, sandbox_url: str, clock: FakeClock
) -> ZoomHarness:
    return ZoomHarness(zoom_host, state, sandbox_url, clock)


class TestZoomConformance(ProviderConformance):
    """Zoom meets every contract of the suite."""
