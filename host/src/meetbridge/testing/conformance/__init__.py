"""The provider conformance suite: the contract every meetbridge provider plugin must meet.

Run it against a plugin with a harness and two lines of pytest::

    from meetbridge.testing.conformance import ProviderConformance, ProviderHarness

    class WebexHarness(ProviderHarness):
        provider = "webex"
        ...

    @pytest.fixture
    def provider_harness():
        return WebexHarness()

    class TestWebexConformance(ProviderConformance):
        pass

Each contract is a test of :class:`ProviderConformance`; contracts for capabilities the provider
does not declare are skipped with a reason naming the capability. ``docs/plugins/testing.md``
explains the harness; the Zoom, Google Meet, Teams and Jitsi plugins run the suite in this
repository (``plugins/*/tests/test_*_conformance.py``).
"""

from __future__ import annotations

from meetbridge.testing.conformance.checks import HOOK_CAPABILITIES, check_plugin
from meetbridge.testing.conformance.connecting import ConnectContract
from meetbridge.testing.conformance.describe import DescribeContract
from meetbridge.testing.conformance.failures import FailureContract
from meetbridge.testing.conformance.harness import (
    FAULTS,
    OPERATIONS,
    HarnessLacks,
    ObservedMeeting,
    ProviderHarness,
)
from meetbridge.testing.conformance.kit import Kit, contract
from meetbridge.testing.conformance.meetings import MeetingContract
from meetbridge.testing.conformance.times import TimeContract
from meetbridge.testing.conformance.tokens import TokenContract

__all__ = [
    "FAULTS",
    "HOOK_CAPABILITIES",
    "OPERATIONS",
    "ConnectContract",
    "DescribeContract",
    "FailureContract",
    "HarnessLacks",
    "Kit",
    "MeetingContract",
    "ObservedMeeting",
    "ProviderConformance",
    "ProviderHarness",
    "TimeContract",
    "TokenContract",
    "check_plugin",
    "contract",
]


class ProviderConformance(
    DescribeContract,
    ConnectContract,
    MeetingContract,
    FailureContract,
    TokenContract,
    TimeContract,
):
    """Every contract. Subclass it as ``Test<Provider>Conformance`` next to a
    ``provider_harness`` fixture; pick single contract classes to run only part of it."""
