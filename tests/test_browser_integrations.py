"""In a real browser: connect Zoom through the sandbox's consent page, then disconnect."""

from __future__ import annotations

import pytest

from tests.browser_support import connect_zoom, sign_in
from tests.web_support import PASSWORD, ZOOM_LICENSED

pytest_plugins = ["tests.web_fixtures"]

pytestmark = pytest.mark.browser


async def test_connect_zoom_through_the_consent_page_and_see_active_with_email_and_date(
    stack, page
) -> None:
    await sign_in(page, stack.base_url, "ann@acme.test", PASSWORD)
    await connect_zoom(page, stack.base_url, ZOOM_LICENSED)
    card = page.locator("#provider-zoom")
    assert await card.locator(".badge.active").inner_text() == "Active"
    assert await card.locator(".account-email").inner_text() == ZOOM_LICENSED
    date = await card.locator(".connected-date").inner_text()
    from datetime import datetime
    from zoneinfo import ZoneInfo

    assert datetime.now(ZoneInfo("America/New_York")).strftime("%d %b %Y") in date
    assert (
        "Zoom connected as lena.licensed@example.com"
        in await page.locator(".flash").first.inner_text()
    )


async def test_disconnect_asks_for_confirmation_first(stack, page) -> None:
    await sign_in(page, stack.base_url, "ann@acme.test", PASSWORD)
    await connect_zoom(page, stack.base_url, ZOOM_LICENSED)
    await page.locator("#provider-zoom").get_by_role("link", name="Disconnect").click()
    await page.wait_for_url("**/disconnect")
    assert "Disconnect Zoom?" in await page.locator("h1").inner_text()
    await page.click("text=Cancel")  # changed their mind: still connected
    assert await page.locator("#provider-zoom .badge").inner_text() == "Active"
    await page.locator("#provider-zoom").get_by_role("link", name="Disconnect").click()
    await page.click("button:has-text('Yes, disconnect')")
    await page.wait_for_url(f"{stack.base_url}/profile/integrations")
    card = page.locator("#provider-zoom")
    assert await card.locator(".badge").inner_text() == "Disconnected"
    assert await card.locator("a:has-text('Reconnect')").count() == 1
    assert all(g.revoked for g in stack.sandboxes["zoom"].state.grants.values())
