"""The confirmation email as a person sees it: rendered by a real browser (Debian's chromium)."""

from __future__ import annotations

import os
import shutil
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from meetbridge.notifications.transports import outbox_directory
from tests.notifications_support import deliver
from tests.world import World

CHROMIUM = os.environ.get("MEETBRIDGE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no chromium at {CHROMIUM}"),
]


async def test_the_confirmation_email_looks_right_in_a_browser(
    world: World, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    await world.connect("ann", "zoom")
    result = await world.book(world.meeting_type(location="zoom", name="Candidate interview"))
    # The confirmation with the client's private link, as BookingService.book queues it.
    world.bookings._confirm(result.booking_id, "booking_confirmed", manage_token="tok-123")
    [*_, email] = [m for m in world.outbox("booking_confirmed") if m.payload["role"] == "attendee"]
    await deliver(world)  # the browser shows what the recipient receives: the delivered file
    [eml] = outbox_directory(world.services.settings).glob(f"*-{email.id:06d}-*.eml")
    received = message_from_bytes(eml.read_bytes(), policy=policy.default)
    page_file = tmp_path / "confirmation.html"
    page_file.write_text(received.get_body(("html",)).get_content())

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1024, "height": 900})
            await page.goto(page_file.as_uri())
            await page.screenshot(path=str(tmp_path / "confirmation.png"), full_page=True)
            assert await page.title() == email.subject == received["Subject"]
            assert await page.inner_text("h1") == "You're booked"
            text = await page.inner_text("body")
            for expected in (
                "Candidate interview with ann is confirmed.",
                "Tuesday, 1 December 2026, 3:00 PM \u2013 3:30 PM",
                "CET (Europe/Paris)",
                "123456",
                "Acme",
            ):
                assert expected in text, expected
            assert "zak=" not in await page.content()
            manage = page.get_by_role("link", name="Reschedule or cancel")
            assert await manage.get_attribute("href") == (
                f"http://127.0.0.1:8000/manage/{result.uid}?token=tok-123"
            )
            # The join button: a real, large, blue link to the attendee link.
            button = page.get_by_role("link", name="Join Zoom meeting")
            assert await button.get_attribute("href") == result.join_url
            box = await button.bounding_box()
            assert box is not None and box["width"] > 150 and box["height"] >= 40
            colour = await button.evaluate("a => getComputedStyle(a.closest('td')).backgroundColor")
            assert colour == "rgb(37, 99, 235)"
            # The card is at most 600px wide and centred; the preheader is hidden.
            card = await page.locator("td.mb-card").bounding_box()
            assert card is not None and card["width"] <= 600
            assert abs((card["x"] + card["width"] / 2) - 512) < 20
            assert not await page.get_by_text("is confirmed. Tuesday").is_visible()
            # On a phone nothing overflows sideways.
            phone = await browser.new_page(viewport={"width": 375, "height": 800})
            await phone.goto(page_file.as_uri())
            await phone.screenshot(path=str(tmp_path / "confirmation-phone.png"), full_page=True)
            width = await phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 375
        finally:
            await browser.close()
    assert (tmp_path / "confirmation.png").stat().st_size > 10_000
