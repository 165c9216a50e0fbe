"""In a real browser: create a Zoom meeting type, book it as a client and see the join link,
then cancel from the manage link."""

from __future__ import annotations

import pytest

from tests.browser_support import sign_in
from tests.web_support import PASSWORD, ZOOM_LICENSED

pytest_plugins = ["tests.web_fixtures"]

pytestmark = pytest.mark.browser


async def test_create_a_zoom_meeting_type(stack, page) -> None:
    await sign_in(page, stack.base_url, "ann@acme.test", PASSWORD)
    await page.goto(f"{stack.base_url}/meeting-types")
    await page.click("text=New meeting type")
    await page.fill("#name", "Tutor intro")
    await page.fill("#duration_minutes", "30")
    await page.select_option("#location", "zoom")
    await page.click("button:has-text('Save')")
    await page.wait_for_url(f"{stack.base_url}/meeting-types")
    link = page.locator("#type-tutor-intro .booking-link")
    assert await link.input_value() == f"{stack.base_url}/book/tutor-intro"
    assert "Zoom" in await page.locator("#type-tutor-intro").inner_text()


async def book_as_client(stack, page) -> str:
    await page.goto(f"{stack.base_url}/book/intro-call")
    await page.wait_for_url("**tz=Europe%2FParis**")  # the browser said where it is
    await page.locator("a.slot").first.click()
    await page.fill("#name", "Casey Client")
    await page.fill("#email", "casey@client.test")
    await page.click("button:has-text('Confirm booking')")
    await page.wait_for_url("**/manage/**")
    return page.url


async def test_book_as_a_client_and_see_the_join_link(stack, page) -> None:
    ann = await stack.signed_in("ann")
    await stack.connect(ann, "zoom", ZOOM_LICENSED)
    stack.meeting_type(location="zoom")
    await book_as_client(stack, page)
    assert await page.locator("h1").inner_text() == "You're booked"
    [meeting] = stack.sandboxes["zoom"].state.live_meetings()
    join = page.locator("a.join-link")
    assert await join.get_attribute("href") == meeting["join_url"]
    assert "(Europe/Paris)" in await page.locator(".when").inner_text()
    await join.click()  # the attendee's link opens the (sandbox) meeting
    assert "Joining meeting" in await page.locator("h1").inner_text()


async def test_cancel_from_the_manage_link(stack, page) -> None:
    ann = await stack.signed_in("ann")
    await stack.connect(ann, "zoom", ZOOM_LICENSED)
    stack.meeting_type(location="zoom")
    manage = await book_as_client(stack, page)
    await page.goto(manage.replace("&booked=1", ""))  # later, from the email's link
    await page.fill("#reason", "Something came up")
    await page.click("button:has-text('Cancel booking')")
    await page.wait_for_selector("text=Your booking is cancelled")
    assert await page.locator(".booking-card .badge").inner_text() == "Cancelled"
    assert stack.sandboxes["zoom"].state.live_meetings() == []
