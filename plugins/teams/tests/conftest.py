"""Fixtures for the Teams plugin tests: the Microsoft sandbox on real HTTP, and a harness that
calls the plugin's hooks through a real plugin host with settings pointing at it.

One fake clock drives the sandbox (code, token and refresh-token expiry, the monthly quota),
the plugin (``context.clock``) and the in-memory credentials.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from teams_support import FakeClock, Teams

from meetbridge.plugins import build_plugin_host
from meetbridge.testing.server import serve_in_thread
from meetbridge_teams.sandbox import SandboxState, create_app


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))


@pytest.fixture
def state(clock: FakeClock) -> SandboxState:
    sandbox = SandboxState(clock=clock)
    sandbox.faults.hang_seconds = 0.5
    sandbox.faults.retry_after_seconds = 7
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
def teams(
    state: SandboxState, sandbox_url: str, http: httpx.AsyncClient, clock: FakeClock
) -> Teams:
    return Teams(build_plugin_host(env={}), state, sandbox_url, http, clock)
