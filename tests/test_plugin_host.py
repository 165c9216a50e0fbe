"""The plugin host: discovery, allow/block lists, tracing, routing, sync and async plugins."""

from __future__ import annotations

import logging
import sys
import textwrap
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pytest

from meetbridge.plugins import OperationNotSupported, UnknownProvider, build_plugin_host
from meetbridge.providers import MeetingRequest, ProviderContext, Secret, TokenSet
from meetbridge.testing.credentials import MemoryCredentials
from tests.fakes import FakeProvider

BUILTINS = {"zoom", "google_meet", "teams", "jitsi"}


def _request() -> MeetingRequest:
    return MeetingRequest(
        idempotency_key="b-1",
        topic="Interview",
        start=datetime(2026, 12, 1, 15, tzinfo=UTC),
        duration_minutes=30,
        timezone="America/New_York",
    )


def _creds() -> MemoryCredentials:
    return MemoryCredentials(TokenSet(access_token=Secret("tok")))


def _context() -> ProviderContext:
    return ProviderContext(settings=None, http=None)


@pytest.fixture
def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake installed distribution on sys.path, found through importlib.metadata (no pip)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "meetbridge_webex.py").write_text(
        textwrap.dedent("""
        from meetbridge.hookspecs import hookimpl
        from meetbridge.providers import AuthKind, Meeting, ProviderInfo

        @hookimpl
        def describe_provider():
            return ProviderInfo(name="webex", label="Webex", auth_kind=AuthKind.NONE)

        @hookimpl
        def create_meeting(request):
            return Meeting(external_id="w1", join_url="https://webex.example/w1")
    """)
    )
    (site / "meetbridge_broken.py").write_text("raise ImportError('missing dependency foo')\n")
    dist = site / "meetbridge_webex-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: meetbridge-webex\nVersion: 1.2.3\n"
    )
    (dist / "entry_points.txt").write_text(
        "[meetbridge]\nwebex = meetbridge_webex\nbroken = meetbridge_broken\n"
    )
    monkeypatch.syspath_prepend(str(site))
    yield site
    for mod in ("meetbridge_webex", "meetbridge_broken"):
        sys.modules.pop(mod, None)


def test_builtin_providers_are_found_through_entry_points() -> None:
    host = build_plugin_host(env={})
    assert set(host.providers()) >= BUILTINS
    records = {r.name: r for r in host.records()}
    assert records["zoom"].distribution == "meetbridge-zoom"
    assert "describe_provider" in records["zoom"].hooks


def test_entry_point_discovery_of_an_installed_distribution(fake_distribution: Path) -> None:
    host = build_plugin_host(env={})
    assert "webex" in host.providers()
    record = {r.name: r for r in host.records()}["webex"]
    assert (record.distribution, record.version) == ("meetbridge-webex", "1.2.3")
    assert record.providers == ("webex",)


def test_a_plugin_that_fails_to_import_is_reported_not_fatal(
    fake_distribution: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="meetbridge.plugins"):
        host = build_plugin_host(env={})
    assert "webex" in host.providers() and set(host.providers()) >= BUILTINS
    [failure] = [f for f in host.failures if f.name == "broken"]
    assert "missing dependency foo" in failure.error
    assert failure.distribution == "meetbridge-webex"
    assert "failed to import" in caplog.text


def test_allowlist_loads_only_named_plugins() -> None:
    host = build_plugin_host(env={"MEETBRIDGE_LOAD_PLUGINS": "zoom"})
    assert set(host.providers()) == {"zoom"}


def test_empty_allowlist_loads_none() -> None:
    host = build_plugin_host(env={"MEETBRIDGE_LOAD_PLUGINS": ""})
    assert host.providers() == {}
    assert host.records() == []


def test_blocklist_removes_a_plugin_and_the_error_says_so() -> None:
    host = build_plugin_host(env={"MEETBRIDGE_BLOCK_PLUGINS": "teams, google_meet"})
    assert set(host.providers()) == {"zoom", "jitsi"}
    with pytest.raises(UnknownProvider) as err:
        host.provider("teams")
    assert "blocked by MEETBRIDGE_BLOCK_PLUGINS" in str(err.value)


def test_unknown_provider_error_names_what_is_installed() -> None:
    host = build_plugin_host(env={})
    with pytest.raises(UnknownProvider) as err:
        host.provider("webex")
    message = str(err.value)
    assert "'webex'" in message
    assert "google_meet, jitsi, teams, zoom" in message
    assert "meetbridge-webex" in message


async def test_unknown_provider_call_fails_before_any_plugin_is_asked() -> None:
    host = build_plugin_host(env={})
    with pytest.raises(UnknownProvider):
        await host.call(
            "create_meeting", "webex", context=_context(), request=_request(), credentials=_creds()
        )


@pytest.mark.parametrize("asynchronous", [True, False], ids=["async", "sync"])
async def test_sync_and_async_implementations_of_the_same_hook(asynchronous: bool) -> None:
    fake = FakeProvider("fakevideo", asynchronous=asynchronous)
    host = build_plugin_host(env={}, plugins=[("fakevideo", fake)])
    meeting = await host.call(
        "create_meeting", "fakevideo", context=_context(), request=_request(), credentials=_creds()
    )
    assert meeting.join_url.startswith("https://fake.example/j/")
    assert len(fake.meetings) == 1


async def test_a_call_goes_only_to_the_plugin_that_owns_the_provider() -> None:
    a, b = FakeProvider("alpha"), FakeProvider("beta", asynchronous=False)
    host = build_plugin_host(
        env={"MEETBRIDGE_LOAD_PLUGINS": "alpha,beta"}, plugins=[("alpha", a), ("beta", b)]
    )
    await host.call(
        "create_meeting", "beta", context=_context(), request=_request(), credentials=_creds()
    )
    await host.call(
        "create_meeting", "alpha", context=_context(), request=_request(), credentials=_creds()
    )
    assert len(a.meetings) == 1 and len(b.meetings) == 1


async def test_wrappers_of_cross_cutting_plugins_still_see_routed_calls() -> None:
    from meetbridge.hookspecs import hookimpl

    seen: list[str] = []

    class Audit:
        @hookimpl(wrapper=True)
        def create_meeting(self, provider: str):
            seen.append(provider)
            return (yield)

    host = build_plugin_host(env={}, plugins=[("fakevideo", FakeProvider()), ("audit", Audit())])
    await host.call(
        "create_meeting", "fakevideo", context=_context(), request=_request(), credentials=_creds()
    )
    assert seen == ["fakevideo"]


async def test_hook_the_provider_does_not_implement_gives_a_clear_error() -> None:
    host = build_plugin_host(env={}, plugins=[("fakevideo", FakeProvider())])
    with pytest.raises(OperationNotSupported, match="does not implement 'list_rooms'"):
        await host.call("list_rooms", "fakevideo", context=_context(), credentials=_creds())


def test_trace_logs_every_hook_call_with_secrets_masked(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeProvider(asynchronous=False)
    with caplog.at_level(logging.INFO, logger="meetbridge.plugins.trace"):
        host = build_plugin_host(
            env={"MEETBRIDGE_TRACE_PLUGINS": "1"}, plugins=[("fakevideo", fake)]
        )
        host.pm.hook.connect(
            provider="fakevideo",
            context=None,
            code="s3cr3t-code",
            redirect_uri="https://x/cb",
            code_verifier="v3rifier",
            account_level=False,
        )
    assert "hook describe_provider" in caplog.text
    assert "hook connect(" in caplog.text
    assert "code=***" in caplog.text and "s3cr3t-code" not in caplog.text
    assert "v3rifier" not in caplog.text


def test_no_trace_without_the_switch(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="meetbridge.plugins.trace"):
        build_plugin_host(env={})
    assert "hook describe_provider" not in caplog.text


def test_wrong_hook_signature_names_plugin_hook_and_fix() -> None:
    from meetbridge.hookspecs import hookimpl

    class Broken:
        @hookimpl
        def create_meeting(self, request, meeting_color):
            return None

    host = build_plugin_host(env={}, plugins=[("broken", Broken())])
    [failure] = host.failures
    assert "'broken'" in failure.error and "create_meeting" in failure.error
    assert "meeting_color" in failure.error and "signature" in failure.error


def test_operations_without_describe_provider_are_refused() -> None:
    from meetbridge.hookspecs import hookimpl

    class NoInfo:
        @hookimpl
        def create_meeting(self, request):
            return None

    host = build_plugin_host(env={}, plugins=[("noinfo", NoInfo())])
    [failure] = host.failures
    assert "describe_provider" in failure.error and "'noinfo'" in failure.error
    assert not host.pm.has_plugin("noinfo")


def test_unknown_hook_is_caught_by_check_pending() -> None:
    from meetbridge.hookspecs import hookimpl

    class Typo:
        @hookimpl
        def create_meetings(self):
            return None

    host = build_plugin_host(env={}, plugins=[("typo", Typo())])
    [failure] = host.failures
    assert "create_meetings" in failure.error and "'typo'" in failure.error
    assert set(host.providers()) >= BUILTINS


def test_two_plugins_describing_the_same_provider_are_named() -> None:
    host = build_plugin_host(env={}, plugins=[("zoom-fork", FakeProvider("zoom"))])
    [failure] = host.failures
    assert "'zoom'" in failure.error and "meetbridge-zoom" in failure.error
    assert "'zoom-fork'" in failure.error


def test_get_plugin_host_is_lazy_and_cached() -> None:
    import subprocess

    # A fresh interpreter: importing the package and the plugin module builds nothing.
    code = (
        "import meetbridge, meetbridge.plugins as p;"
        "print(p.get_plugin_host.cache_info().currsize);"
        "print(p.get_plugin_host() is p.get_plugin_host())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == ["0", "True"]


def test_entry_points_are_the_only_registration_path_for_builtins() -> None:
    names = {ep.name for ep in metadata.entry_points(group="meetbridge")}
    assert names >= BUILTINS
