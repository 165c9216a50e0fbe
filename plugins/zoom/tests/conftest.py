"""Fixtures for the Zoom plugin tests: the sandbox on real HTTP and the hook-calling harness."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from zoom_harness import REDIRECT_URI, FakeClock, Zoom

from meetbridge.plugins import PluginHost, build_plugin_host
from meetbridge.testing.server import serve_in_thread
from meetbridge_zoom import limits
from meetbridge_zoom.sandbox import SandboxState, create_app


@pytest.fixture(autouse=True)
def _fresh_limits() -> Iterator[None]:
    # The rate limiters and daily blocks are process-wide by design; tests start clean.
    limits.reset()
    yield
    limits.reset()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))


@pytest.fixture
def state(clock: FakeClock) -> SandboxState:
    sandbox = SandboxState(clock=clock, redirect_uris=[REDIRECT_URI])
    sandbox.hang_seconds = 0.6  # longer than the 0.3 s client timeout the ambiguity tests use
    return sandbox


@pytest.fixture
def sandbox_url(state: SandboxState) -> Iterator[str]:
    with serve_in_thread(create_app(state)) as url:
        yield url


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


@pytest.fixture
def zoom_host() -> PluginHost:
    return build_plugin_host(env={})


@pytest.fixture
def zoom(
    zoom_host: PluginHost,
    state: SandboxState,
    sandbox_url: str,
    http: httpx.AsyncClient,
    clock: FakeClock,
) -> Zoom:
    return Zoom(zoom_host, state, sandbox_url, http, clock)
