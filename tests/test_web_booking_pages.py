"""The public booking page, the confirmation, and the private manage link (reschedule,
cancel, calendar file), against the real Zoom sandbox."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import select

from meetbridge.models import Attendee, Booking, BookingStatus
from tests.web_support import ZOOM_LICENSED, csrf_of

pytest_plugins = ["tests.web_fixtures"]


def slot_links(page_text: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'class="slot" href="([^"]+)"', page_text)]


async def zoom_type(stack, **spec) -> str:
    ann = await stack.signed_in("ann")
    await stack.connect(ann, "zoom", ZOOM_LICENSED)
    return stack.meeting_type(location="zoom", **spec)


async def book(stack, slug: str, *, tz: str = "Europe/Paris", pick: int = 0):
    client = stack.browser()
    page = await client.get(f"/book/{slug}?tz={tz}")
    details = await client.get(slot_links(page.text)[pick])
    done = await client.submit(details, data={"name": "Casey Client", "email": "casey@client.test"})
    return client, done


async def test_slots_are_shown_in_the_bookers_timezone(stack) -> None:
    slug = stack.meeting_type()
    client = stack.browser()
    paris = await client.get(f"/book/{slug}?tz=Europe/Paris")
    tokyo = await client.get(f"/book/{slug}?tz=Asia/Tokyo")
    assert paris.status_code == tokyo.status_code == 200
    first = re.search(r"start=([^&\"]+)", slot_links(paris.text)[0])[1]
    instant = datetime.fromisoformat(first.replace("%3A", ":"))
    for page, zone in ((paris, "Europe/Paris"), (tokyo, "Asia/Tokyo")):
        from zoneinfo import ZoneInfo

        local = instant.astimezone(ZoneInfo(zone)).strftime("%H:%M")
        assert f">{local}</a>" in page.text, zone
        assert f'<option value="{zone}" selected>' in page.text


async def test_without_a_timezone_the_page_asks_the_browser_and_defaults_to_the_org(stack) -> None:
    slug = stack.meeting_type()
    page = await stack.browser().get(f"/book/{slug}")
    assert '<script src="/static/timezone.js">' in page.text
    assert '<option value="America/New_York" selected>' in page.text


async def test_unknown_timezones_impossible_times_and_unknown_pages_are_clear_4xx(stack) -> None:
    from meetbridge.models import Job

    slug = stack.meeting_type()
    client = stack.browser()
    unknown = await client.get(f"/book/{slug}?tz=Mars/Olympus_Mons")
    assert unknown.status_code == 400 and "Unknown timezone" in unknown.text
    impossible = await client.get(f"/book/{slug}/details?start=2026-02-30T10:00:00Z&tz=UTC")
    assert impossible.status_code == 400 and "not a date and time" in impossible.text
    naive = await client.get(f"/book/{slug}/details?start=2026-12-01T10:00:00&tz=UTC")
    assert naive.status_code == 400 and "UTC offset" in naive.text
    assert (await client.get("/book/no-such-type")).status_code == 404
    page = await client.get(f"/book/{slug}?tz=UTC")
    details = await client.get(slot_links(page.text)[0])
    for data in (
        {"start": "2026-02-30T10:00:00Z"},
        {"tz": "Nowhere/Land"},
        {"email": "not-an-email"},
    ):
        answer = await client.submit(
            details, data={"name": "Casey", "email": "casey@client.test", **data}
        )
        assert answer.status_code == 400, data
    assert stack.count(Booking) == 0 and stack.count(Job) == 0


async def test_booking_shows_the_join_link_and_makes_the_meeting_at_zoom(stack) -> None:
    slug = await zoom_type(stack)
    _, done = await book(stack, slug)
    assert "You're booked" in done.text
    join = html.unescape(re.search(r'class="join-url">([^<]+)<', done.text)[1])
    [meeting] = stack.sandboxes["zoom"].state.live_meetings()
    assert meeting["join_url"] == join
    assert meeting["settings"]["waiting_room"] is True
    assert "/s/" not in done.text and "zak=" not in done.text  # never a host start link
    with stack.services.sessions() as session:
        booking = session.scalars(select(Booking)).one()
        assert booking.booker_timezone == "Europe/Paris"
        assert meeting["start"] == booking.start_at


async def test_a_taken_slot_is_refused_with_409_and_nothing_stored(stack) -> None:
    slug = stack.meeting_type(location="in_person", location_value="12 Main St")
    client = stack.browser()
    page = await client.get(f"/book/{slug}?tz=UTC")
    details = await client.get(slot_links(page.text)[0])
    first = await client.submit(details, data={"name": "A", "email": "a@client.test"})
    assert first.status_code == 200
    again = await client.submit(details, data={"name": "B", "email": "b@client.test"})
    assert again.status_code == 409 and "not a bookable slot" in again.text
    assert stack.count(Booking) == 1 and stack.count(Attendee) == 1


async def test_per_booking_video_lets_the_booker_decline_video(stack) -> None:
    slug = stack.meeting_type(video_mode="per_booking")
    client = stack.browser()
    page = await client.get(f"/book/{slug}?tz=UTC")
    details = await client.get(slot_links(page.text)[0])
    assert 'name="video" value="no"' in details.text
    done = await client.submit(details, data={"name": "A", "email": "a@client.test", "video": "no"})
    assert "join-url" not in done.text
    with stack.services.sessions() as session:
        assert session.scalars(select(Booking)).one().video is False


async def test_the_manage_link_reschedules_and_the_zoom_meeting_follows(stack) -> None:
    slug = await zoom_type(stack)
    client, done = await book(stack, slug)
    manage = str(done.url)
    [meeting] = stack.sandboxes["zoom"].state.live_meetings()
    page = await client.get(
        re.search(r'href="(/manage/[^"]+/reschedule[^"]*)"', done.text)[1].replace("&amp;", "&")
    )
    choices = re.findall(r'name="start" value="([^"]+)"', page.text)
    target = datetime.fromisoformat(choices[2])
    moved = await client.submit(page, data={"start": choices[2]})
    assert "Rescheduled" in moved.text and str(moved.url).split("?")[0] == manage.split("?")[0]
    assert meeting["start"] == target and not meeting["_deleted"]
    assert len(stack.sandboxes["zoom"].state.live_meetings()) == 1


async def test_the_manage_link_cancels_and_the_zoom_meeting_is_deleted(stack) -> None:
    slug = await zoom_type(stack)
    client, done = await book(stack, slug)
    cancelled = await client.submit(done, action="/cancel", data={"reason": "Sick"})
    assert "Your booking is cancelled" in cancelled.text and "Cancelled" in cancelled.text
    assert stack.sandboxes["zoom"].state.live_meetings() == []
    with stack.services.sessions() as session:
        assert session.scalars(select(Booking)).one().status == BookingStatus.CANCELLED


async def test_a_wrong_manage_token_opens_nothing_and_changes_nothing(stack) -> None:
    slug = await zoom_type(stack)
    client, done = await book(stack, slug)
    uid = str(done.url).split("/manage/")[1].split("?")[0]
    assert (await client.get(f"/manage/{uid}?token=guess")).status_code == 404
    assert (await client.get(f"/manage/{uid}/booking.ics?token=guess")).status_code == 404
    answer = await client.client.post(
        client.url(f"/manage/{uid}/cancel"),
        data={"csrf_token": csrf_of(done.text), "token": "guess"},
    )
    assert answer.status_code == 404
    assert len(stack.sandboxes["zoom"].state.live_meetings()) == 1


async def test_the_calendar_file_carries_the_join_link_and_no_secret(stack) -> None:
    slug = await zoom_type(stack)
    client, done = await book(stack, slug)
    link = html.unescape(re.search(r'href="([^"]+booking\.ics[^"]+)"', done.text)[1])
    ics = await client.get(link)
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    body = ics.text
    [meeting] = stack.sandboxes["zoom"].state.live_meetings()
    assert "BEGIN:VEVENT" in body and meeting["join_url"][:40] in body.replace("\r\n ", "")
    assert "zak=" not in body and "token=" not in body


async def test_rescheduling_to_an_impossible_time_is_refused(stack) -> None:
    slug = await zoom_type(stack)
    client, done = await book(stack, slug)
    page = await client.get(
        re.search(r'href="(/manage/[^"]+/reschedule[^"]*)"', done.text)[1].replace("&amp;", "&")
    )
    past = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = await client.submit(page, data={"start": past})
    assert answer.status_code == 400 and "in the past" in answer.text
    bad = await client.submit(page, data={"start": "tomorrow at noon"})
    assert bad.status_code == 400
    [meeting] = stack.sandboxes["zoom"].state.live_meetings()
    with stack.services.sessions() as session:
        assert session.scalars(select(Booking)).one().start_at == meeting["start"]


async def test_booking_pages_can_be_embedded(stack) -> None:
    slug = stack.meeting_type()
    page = await stack.browser().get(f"/book/{slug}?{urlencode({'tz': 'UTC', 'embed': '1'})}")
    assert "<nav" not in page.text and "embed=1" in slot_links(page.text)[0]
