"""Broken example plugins: every mistake gives an error naming the plugin, the hook and the fix.

Two places report them: the plugin host while loading (what an operator sees in
``meetbridge plugins --all``), and the conformance suite's static check (what the author sees
in ``pytest``), which also catches what loading cannot, such as a hook implemented without its
capability being declared.
"""

from __future__ import annotations

import gc
from typing import Any

import pytest

from meetbridge.hookspecs import hookimpl
from meetbridge.plugins import PluginHost, build_plugin_host
from meetbridge.providers import (
    AuthKind,
    Capability,
    ConnectStart,
    DeleteOutcome,
    Meeting,
    ProviderContext,
    ProviderInfo,
)
from meetbridge.settings import Settings
from meetbridge.testing.conformance import DescribeContract, ProviderHarness, check_plugin


class Provider:
    """A minimal working provider; the broken examples below each change one thing."""

    name = "brokenvideo"
    capabilities: frozenset[Capability] = frozenset()

    @hookimpl
    def describe_provider(self) -> ProviderInfo:
        return ProviderInfo(
            name=self.name,
            label="Broken Video",
            auth_kind=AuthKind.NONE,
            capabilities=self.capabilities,
        )

    @hookimpl
    def create_meeting(self, request: Any) -> Meeting:
        return Meeting(external_id="1", join_url="https://video.example/1")

    @hookimpl
    def update_meeting(self, meeting: Any) -> Meeting:
        return Meeting(external_id=meeting.external_id, join_url=meeting.join_url)

    @hookimpl
    def delete_meeting(self) -> DeleteOutcome:
        return DeleteOutcome.DELETED


class WrongSignature(Provider):
    @hookimpl
    def create_meeting(self, request: Any, meeting_color: str) -> Meeting:  # type: ignore[override]
        return Meeting(external_id="1", join_url="https://video.example/1")


class UndeclaredCapability(Provider):
    """Implements the connect step and refreshing, but declares neither."""

    @hookimpl
    def authorization_url(self, state: str) -> ConnectStart:
        return ConnectStart(url=f"https://video.example/authorize?state={state}")

    @hookimpl
    def connect(self, code: str) -> Any:
        raise NotImplementedError

    @hookimpl
    def refresh_credentials(self, tokens: Any) -> Any:
        return tokens


class DeclaredButMissing(Provider):
    capabilities = frozenset({Capability.ROOMS})


class AsyncDescribe(Provider):
    @hookimpl
    async def describe_provider(self) -> ProviderInfo:  # type: ignore[override]
        return ProviderInfo(name=self.name, label="Broken Video", auth_kind=AuthKind.NONE)


class Typo(Provider):
    @hookimpl
    def delete_meetings(self) -> DeleteOutcome:
        return DeleteOutcome.DELETED


def _load(plugin: object) -> PluginHost:
    return build_plugin_host(
        env={"MEETBRIDGE_LOAD_PLUGINS": "broken"}, plugins=[("broken", plugin)]
    )


def test_the_working_example_has_no_problems() -> None:
    host = _load(Provider())
    assert host.failures == [] and "brokenvideo" in host.providers()
    assert check_plugin(Provider(), "broken") == []


def test_a_wrong_hook_signature() -> None:
    [failure] = _load(WrongSignature()).failures
    assert "'broken'" in failure.error and "create_meeting" in failure.error
    assert "meeting_color" in failure.error
    assert "accept only arguments its hook specification names" in failure.error
    [problem] = check_plugin(WrongSignature(), "broken")
    assert problem == (
        "Plugin 'broken': hook 'create_meeting' takes 'meeting_color', which its specification"
        " never passes. Accept only (a subset of): provider, context, request, credentials (see"
        " docs/plugins/hooks.md#create_meeting)."
    )


def test_a_hook_implemented_without_declaring_its_capability() -> None:
    problems = check_plugin(UndeclaredCapability(), "broken")
    assert (
        "Plugin 'broken' implements 'refresh_credentials' but its ProviderInfo does not declare"
        " Capability.REFRESH. Add Capability.REFRESH to capabilities, or remove the hook: the"
        " host decides what to call from the capabilities." in problems
    )
    assert any("'connect'" in p and "Capability.CONNECT" in p for p in problems)
    assert len(problems) == 3  # authorization_url, connect, refresh_credentials


def test_a_capability_declared_without_its_hook() -> None:
    [problem] = check_plugin(DeclaredButMissing(), "broken")
    assert "declares Capability.ROOMS but does not implement 'list_rooms'" in problem
    assert "or drop the capability" in problem


def test_an_async_describe_provider() -> None:
    host = _load(AsyncDescribe())
    gc.collect()  # an un-awaited coroutine would warn here, and the warning fails the test
    [failure] = host.failures
    assert "'broken'" in failure.error and "describe_provider is `async def`" in failure.error
    assert "Make it a plain `def`" in failure.error
    assert not host.pm.has_plugin("broken")
    [problem] = check_plugin(AsyncDescribe(), "broken")
    assert "describe_provider is `async def`. Make it a plain `def`" in problem


def test_a_misspelt_hook() -> None:
    [failure] = _load(Typo()).failures
    assert "'broken'" in failure.error and "delete_meetings" in failure.error
    assert "docs/plugins/hooks.md" in failure.error
    [problem] = check_plugin(Typo(), "broken")
    assert "implements 'delete_meetings', which is not a meetbridge hook" in problem


class OneObjectHarness(ProviderHarness):
    provider = "brokenvideo"

    def __init__(self, plugin: object) -> None:
        self.plugin = plugin

    def plugin_host(self) -> PluginHost:
        return _load(self.plugin)

    def context(self, **options: Any) -> ProviderContext:
        settings = Settings(providers={"brokenvideo": {"options": options}})
        info = self.plugin_host().provider("brokenvideo")
        return ProviderContext(settings=settings.provider(info), http=self.http)


def test_the_conformance_suite_fails_the_undeclared_capability_with_that_message() -> None:
    with pytest.raises(AssertionError, match=r"does not declare Capability\.REFRESH"):
        DescribeContract().test_describe_provider_is_consistent_with_the_implemented_hooks(
            OneObjectHarness(UndeclaredCapability())
        )


def test_the_conformance_suite_reports_a_plugin_the_host_refused() -> None:
    with pytest.raises(pytest.fail.Exception, match="meeting_color"):
        DescribeContract().test_the_plugin_loads_without_failures(
            OneObjectHarness(WrongSignature())
        )
