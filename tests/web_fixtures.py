"""Fixtures of the web and browser tests (registered with ``pytest_plugins``).

``web_server``: one uvicorn server for the session; ``stack``: a fresh app, database and
sandboxes behind it for each test (see :mod:`tests.web_support`); ``page``: a chromium page
(see :mod:`tests.browser_support`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from meetbridge.testing.server import serve_in_thread
from tests.browser_support import CHROMIUM_ARGS, chromium_path
from tests.web_support import Stack, Switch, build_stack


@pytest.fixture(scope="session")
def web_server() -> Iterator[tuple[Switch, str]]:
    switch = Switch()
    with serve_in_thread(switch) as url:
        yield switch, url


@pytest.fixture
async def stack(web_server: tuple[Switch, str], meetbridge_settings: Any) -> AsyncIterator[Stack]:
    switch, url = web_server
    built = build_stack(switch, url, meetbridge_settings)
    yield built
    for client in built.browsers:
        await client.aclose()
    if switch.loop is not None:
        worker = switch.app.state.web.bookings.worker
        asyncio.run_coroutine_threadsafe(worker.wait_background(), switch.loop).result(20)
        asyncio.run_coroutine_threadsafe(built.services.aclose(), switch.loop).result(20)
    switch.app = None
    built.services.close()


@pytest.fixture
async def page() -> AsyncIterator[Any]:
    """A fresh browser page (its own cookies), in Paris time."""
    executable = chromium_path()
    if executable is None:
        pytest.skip(
            "no chromium: install Debian's (apt-get install chromium) or set MEETBRIDGE_CHROMIUM"
        )
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        context = await browser.new_context(timezone_id="Europe/Paris", locale="en-GB")
        context.set_default_timeout(15_000)
        try:
            yield await context.new_page()
        finally:
            await context.close()
            await browser.close()
