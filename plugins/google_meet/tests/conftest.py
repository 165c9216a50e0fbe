"""Fixtures for the Google Meet plugin's tests.

One uvicorn server runs for the whole session; each test swaps in a fresh sandbox app over a
fresh :class:`SandboxState`, so tests talk to Google's emulation over real HTTP without paying
for a server start each time. Plugin hooks are called through a real plugin host.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from google_meet_testkit import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    GoogleHarness,
    provider_context,
)

from meetbridge.plugins import PluginHost, build_plugin_host
from meetbridge.testing.server import serve_in_thread
from meetbridge_google_meet.sandbox import ManualClock, SandboxState, create_app, sandbox_endpoints


class _Switch:
    """An ASGI app forwarding to whichever sandbox app the current test installed."""

    app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@pytest.fixture(scope="session")
def _server() -> Iterator[tuple[_Switch, str]]:
    switch = _Switch()
    with serve_in_thread(switch) as base_url:
        yield switch, base_url


@pytest.fixture
def clock() -> ManualClock:
    """One clock for the sandbox, the plugin and the credentials."""
    return ManualClock()


@pytest.fixture
def sandbox(_server: tuple[_Switch, str], clock: ManualClock) -> SandboxState:
    """A fresh Google sandbox with the test OAuth client registered, served over HTTP."""
    switch, _ = _server
    state = SandboxState(clock=clock)
    state.add_client(CLIENT_ID, CLIENT_SECRET, {REDIRECT_URI})
    switch.app = create_app(state)
    return state


@pytest.fixture
def sandbox_url(_server: tuple[_Switch, str], sandbox: SandboxState) -> str:
    return _server[1]


@pytest.fixture
def host() -> PluginHost:
    return build_plugin_host(env={})


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


@pytest.fixture
def google(
    host: PluginHost,
    http: httpx.AsyncClient,
    clock: ManualClock,
    sandbox: SandboxState,
    sandbox_url: str,
) -> GoogleHarness:
    """The plugin, through the plugin host, pointed at the sandbox."""
    context = provider_context(host, http, clock, endpoints=sandbox_endpoints(sandbox_url))
    return GoogleHarness(host, context, http, sandbox, clock)
