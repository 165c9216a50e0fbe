"""The conformance suite itself: it passes a correct provider, catches real bugs, skips what
does not apply with the capability named, and fails a harness that cannot check the core.

The provider here is an in-memory one (no accounts, meetings kept in a dict) with switchable
bugs; each contract is called directly, the way pytest calls it.
"""

from __future__ import annotations

import inspect
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from meetbridge.hookspecs import hookimpl
from meetbridge.plugins import PluginHost, build_plugin_host
from meetbridge.providers import (
    AuthKind,
    Capability,
    DeleteOutcome,
    Meeting,
    MeetingGone,
    MeetingRef,
    MeetingRequest,
    ProviderContext,
    ProviderInfo,
    ProviderUnavailable,
    RateLimited,
)
from meetbridge.settings import Settings
from meetbridge.testing.conformance import (
    HarnessLacks,
    ObservedMeeting,
    ProviderConformance,
    ProviderHarness,
    check_plugin,
)
from meetbridge.testing.conformance.sandboxes import NoSandbox
from tests.fakes import FakeProvider

NAME = "memoryvideo"
CONTRACTS = sorted(n for n, _ in inspect.getmembers(ProviderConformance) if n.startswith("test_"))


class MemoryVideo:
    """A provider that keeps meetings in memory. ``bug`` switches on one classic mistake."""

    def __init__(self, bug: str = "") -> None:
        self.bug = bug
        self.meetings: dict[str, dict[str, Any]] = {}
        self.faults: list[tuple[str, str]] = []

    @hookimpl
    def describe_provider(self) -> ProviderInfo:
        return ProviderInfo(
            name=NAME,
            label="Memory Video",
            auth_kind=AuthKind.NONE,
            capabilities=frozenset({Capability.IDEMPOTENT_CREATE}),
            endpoints={"api_base_url": "https://video.example"},
        )

    def _fault(self, context: ProviderContext, operation: str) -> str | None:
        if context.settings.options.get("down"):
            raise ProviderUnavailable("Memory Video cannot be reached.", provider=NAME)
        for armed in self.faults:
            if armed[0] == operation:
                self.faults.remove(armed)
                if armed[1] == "5xx":
                    raise ProviderUnavailable("Memory Video answered 500.", provider=NAME)
                if armed[1] == "rate_limit":
                    raise RateLimited("Memory Video asks to slow down.", retry_after=1)
                return armed[1]
        return None

    def _meeting(self, mid: str) -> Meeting:
        return Meeting(external_id=mid, join_url=f"https://video.example/{mid}")

    @hookimpl
    def create_meeting(self, context: ProviderContext, request: MeetingRequest) -> Meeting:
        fault = self._fault(context, "create")
        if self.bug != "duplicates":
            for mid, held in self.meetings.items():
                if held["key"] == request.idempotency_key:
                    return self._meeting(mid)
        start = request.start_utc
        if self.bug == "wall_time":  # UTC wall time read in the organisation's zone
            start = start.replace(tzinfo=ZoneInfo(request.timezone))
        mid = f"m{len(self.meetings) + 1}"
        self.meetings[mid] = {
            "key": request.idempotency_key,
            "start": start,
            "minutes": request.duration_minutes,
        }
        if fault == "reset_after_acting":
            raise ProviderUnavailable("No answer.", provider=NAME, ambiguous=True)
        return self._meeting(mid)

    @hookimpl
    def update_meeting(
        self, context: ProviderContext, meeting: MeetingRef, request: MeetingRequest
    ) -> Meeting:
        self._fault(context, "update")
        if meeting.external_id not in self.meetings:
            raise MeetingGone("Memory Video has no such meeting.", provider=NAME)
        self.meetings[meeting.external_id].update(
            start=request.start_utc, minutes=request.duration_minutes
        )
        return self._meeting(meeting.external_id)

    @hookimpl
    def delete_meeting(self, context: ProviderContext, meeting: MeetingRef) -> DeleteOutcome:
        self._fault(context, "delete")
        if self.meetings.pop(meeting.external_id, None) or self.bug == "delete_twice":
            return DeleteOutcome.DELETED
        return DeleteOutcome.ALREADY_GONE


class MemoryHarness(ProviderHarness):
    provider = NAME

    def __init__(self, plugin: MemoryVideo) -> None:
        self.plugin = plugin

    def plugin_host(self) -> PluginHost:  # the plugin is an object, not an installed package
        host = self.__dict__.get("_host")
        if host is None:
            host = self.__dict__["_host"] = build_plugin_host(
                env={"MEETBRIDGE_LOAD_PLUGINS": NAME}, plugins=[(NAME, self.plugin)]
            )
        return host

    def context(self, **options: Any) -> ProviderContext:
        settings = Settings(providers={NAME: {"options": options}})
        info = self.plugin_host().provider(NAME)
        return ProviderContext(settings=settings.provider(info), http=self.http)

    def unreachable_context(self) -> ProviderContext:
        return self.context(down=True)

    async def live_meetings(self) -> list[ObservedMeeting]:
        return [
            ObservedMeeting(mid, held["start"], held["minutes"])
            for mid, held in self.plugin.meetings.items()
        ]

    def fail_next(self, operation: str, fault: str, *, times: int = 1) -> None:
        self.plugin.faults += [(operation, fault)] * times


def run(contract: str, harness: ProviderHarness) -> str:
    """'passed', 'skipped: <reason>' or 'failed: <message>', as pytest would report it."""
    try:
        getattr(ProviderConformance(), contract)(harness)
    except pytest.skip.Exception as skip:
        return f"skipped: {skip.msg}"
    except (AssertionError, pytest.fail.Exception) as failure:
        return f"failed: {failure}"
    return "passed"


def test_a_correct_provider_passes_every_contract_that_applies() -> None:
    outcomes = {name: run(name, MemoryHarness(MemoryVideo())) for name in CONTRACTS}
    failed = {name: outcome for name, outcome in outcomes.items() if outcome.startswith("failed")}
    assert not failed
    passed = {name for name, outcome in outcomes.items() if outcome == "passed"}
    assert {
        "test_create_makes_one_meeting_at_the_requested_time",
        "test_deleting_twice_is_already_gone_the_second_time",
        "test_a_retry_after_an_ambiguous_create_makes_no_second_meeting",
        "test_meetings_on_the_fall_back_day_start_at_the_booked_instant",
        "test_a_5xx_on_delete_is_provider_unavailable_not_done",
    } <= passed
    assert outcomes["test_connect_returns_the_account_and_its_tokens"] == (
        "skipped: memoryvideo does not declare Capability.CONNECT ('connect')"
    )


@pytest.mark.parametrize(
    ("bug", "caught_by"),
    [
        ("wall_time", "test_meetings_on_the_spring_forward_day_start_at_the_booked_instant"),
        ("wall_time", "test_meetings_on_the_fall_back_day_start_at_the_booked_instant"),
        ("wall_time", "test_create_makes_one_meeting_at_the_requested_time"),
        ("duplicates", "test_a_retry_after_an_ambiguous_create_makes_no_second_meeting"),
        ("duplicates", "test_a_repeated_create_for_the_same_booking_returns_the_same_meeting"),
        ("delete_twice", "test_deleting_twice_is_already_gone_the_second_time"),
    ],
)
def test_the_suite_catches_a_classic_bug(bug: str, caught_by: str) -> None:
    assert run(caught_by, MemoryHarness(MemoryVideo(bug=bug))).startswith("failed")
    assert run(caught_by, MemoryHarness(MemoryVideo())) == "passed"


def test_the_wrong_time_failure_names_the_booked_and_the_held_instant() -> None:
    outcome = run(
        "test_meetings_on_the_fall_back_day_start_at_the_booked_instant",
        MemoryHarness(MemoryVideo(bug="wall_time")),
    )
    assert "the second 01:30 (EST): booked 2026-11-01 06:30Z (2026-11-01 01:30 EST)" in outcome
    assert "the provider has 2026-11-01 11:30Z" in outcome


class NoObservation(MemoryHarness):
    async def live_meetings(self) -> list[ObservedMeeting]:
        raise HarnessLacks("live_meetings", "not written yet")


class NoFaults(MemoryHarness):
    def fail_next(self, operation: str, fault: str, *, times: int = 1) -> None:
        raise HarnessLacks("fail_next", f"no {fault} for {operation}")


def test_a_harness_that_cannot_look_at_the_provider_fails_the_core_contracts() -> None:
    outcome = run(
        "test_create_makes_one_meeting_at_the_requested_time", NoObservation(MemoryVideo())
    )
    assert outcome.startswith("failed") and "Implement ProviderHarness.live_meetings" in outcome


def test_contracts_needing_faults_the_harness_lacks_are_skipped_with_the_method() -> None:
    outcome = run("test_a_5xx_on_update_is_provider_unavailable", NoFaults(MemoryVideo()))
    assert outcome.startswith("skipped") and "implement ProviderHarness.fail_next" in outcome


def test_a_harness_for_a_provider_that_is_not_installed_says_so() -> None:
    class Misnamed(MemoryHarness):
        provider = "webex"

    outcome = run("test_the_plugin_loads_without_failures", Misnamed(MemoryVideo()))
    assert "'webex'" in outcome and "ProviderHarness.provider" in outcome


def test_the_unreachable_context_points_every_endpoint_at_a_closed_port() -> None:
    class Zoomish(MemoryHarness):
        def context(self, **options: Any) -> ProviderContext:
            context = super().context(**options)
            endpoints = {"token_url": "https://zoom.us/oauth/token", "api_base_url": "https://x/v2"}
            return replace(context, settings=replace(context.settings, endpoints=endpoints))

    # The base class's way, not MemoryHarness's in-memory "down" switch.
    dead = ProviderHarness.unreachable_context(Zoomish(MemoryVideo())).settings.endpoints
    assert dead["token_url"].startswith("http://127.0.0.1:") and dead["token_url"].endswith(
        "/oauth/token"
    )
    port = int(dead["api_base_url"].split(":")[2].split("/")[0])
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=1)


def test_check_plugin_finds_nothing_wrong_with_the_built_in_providers() -> None:
    host = build_plugin_host(env={})
    for provider in ("zoom", "google_meet", "teams"):
        [name] = [r.name for r in host.records() if provider in r.providers]
        assert check_plugin(host.pm.get_plugin(name), name) == []


def test_requests_are_a_week_ahead_in_the_harness_clock() -> None:
    class Clocked(MemoryHarness):
        def clock(self) -> datetime:
            return datetime(2026, 3, 2, 15, 30, tzinfo=UTC)

    from meetbridge.testing.conformance.kit import Kit

    harness = Clocked(MemoryVideo())
    host = harness.plugin_host()
    kit = Kit(harness, host, host.provider(NAME), http=None)  # type: ignore[arg-type]
    first, second = kit.request(), kit.request()
    assert first.start == datetime(2026, 3, 2, 14, 0, tzinfo=UTC) + timedelta(days=7)
    assert first.idempotency_key != second.idempotency_key


def test_the_default_provider_harness_fixture_says_how_to_supply_one(
    request: pytest.FixtureRequest,
) -> None:
    with pytest.raises(pytest.fail.Exception, match="needs a `provider_harness` fixture"):
        request.getfixturevalue("provider_harness")


async def test_provider_sandbox_serves_a_plugins_sandbox_over_http(
    provider_sandbox: Any, register_plugin: Any
) -> None:
    from meetbridge_zoom.sandbox import SandboxState

    zoom = provider_sandbox("zoom")
    assert isinstance(zoom.state, SandboxState)
    assert zoom.endpoints["token_url"] == f"{zoom.url}/oauth/token"
    async with httpx.AsyncClient() as http:
        home = await http.get(zoom.url + "/")
    assert home.status_code == 200 and "Zoom sandbox" in home.text
    register_plugin(FakeProvider("fakevideo"), "fakevideo")
    with pytest.raises(NoSandbox, match="ships no sandbox"):
        provider_sandbox("fakevideo")
