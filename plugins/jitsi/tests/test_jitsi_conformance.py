"""The provider conformance suite, run against the Jitsi plugin and its stand-in server.

Jitsi keeps nothing at the provider, so the contracts that look at the provider's side (and
every connect, token and disconnect contract, for lack of the capabilities) are skipped with
the reason; the rest must pass like they do for Zoom.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

import pytest

from meetbridge.providers import ProviderContext
from meetbridge.settings import Settings
from meetbridge.testing.conformance import ProviderConformance, ProviderHarness
from meetbridge.testing.conformance.sandboxes import RunningSandbox

pytest.importorskip("meetbridge_jitsi", reason="meetbridge-jitsi is not installed")


class JitsiHarness(ProviderHarness):
    provider = "jitsi"
    keeps_meetings = False  # a Jitsi meeting is a URL; there is nothing to look at

    def __init__(self, start_sandbox: Callable[[str], RunningSandbox]) -> None:
        self._start_sandbox = start_sandbox

    @cached_property
    def sandbox(self) -> RunningSandbox:
        # Started on first use, so the many contracts skipped for Jitsi start no server.
        return self._start_sandbox("jitsi")

    def context(self, **options: Any) -> ProviderContext:
        settings = Settings(providers={"jitsi": {**self.sandbox.endpoints, "options": options}})
        info = self.plugin_host().provider("jitsi")
        return ProviderContext(settings=settings.provider(info), http=self.http)


@pytest.fixture
def provider_harness(provider_sandbox: Any) -> JitsiHarness:
    return JitsiHarness(provider_sandbox)


class TestJitsiConformance(ProviderConformance):
    """Jitsi meets every contract that applies to a provider without accounts or state."""
