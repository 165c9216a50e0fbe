"""A person's profile: timezone, weekly availability, calendar feed, health check."""

from __future__ import annotations

import re

import httpx

from meetbridge.models import AvailabilityWindow, User

pytest_plugins = ["tests.web_fixtures"]


async def test_timezone_and_availability_are_saved_and_bad_ones_refused(stack) -> None:
    ann = await stack.signed_in("ann")
    page = await ann.get("/profile")
    assert 'value="mon 09:00-17:00;' in page.text
    saved = await ann.submit(
        page,
        action="/profile",
        data={"timezone": "Europe/Paris", "availability": "tue-thu 10:00-12:00"},
    )
    assert (
        "Saved." in saved.text
        and 'value="tue 10:00-12:00; wed 10:00-12:00; thu 10:00-12:00"' in saved.text
    )
    for data, words in (
        ({"timezone": "Mars/Base"}, "Unknown timezone"),
        ({"availability": "funday 09:00-10:00"}, "Cannot read"),
        ({"availability": "mon 17:00-09:00"}, "end must be after"),
    ):
        answer = await ann.submit(
            saved,
            action="/profile",
            data={"timezone": "Europe/Paris", "availability": "mon 09:00-10:00", **data},
        )
        assert answer.status_code == 400 and words in answer.text, data
    with stack.services.sessions() as session:
        assert session.get(User, stack.users["ann"]).timezone == "Europe/Paris"
        windows = session.query(AvailabilityWindow).filter_by(user_id=stack.users["ann"]).count()
        assert windows == 3


async def test_a_calendar_feed_link_is_shown_once_and_serves_the_hosts_bookings(stack) -> None:
    slug = stack.meeting_type(location="in_person", location_value="HQ")
    start = await stack.first_slot(slug)
    await stack.api().post(
        "/bookings",
        json={
            "meeting_type": slug,
            "start": start.isoformat(),
            "name": "Casey",
            "email": "casey@client.test",
            "timezone": "UTC",
        },
    )
    ann = await stack.signed_in("ann")
    page = await ann.submit(
        await ann.get("/profile"), action="/profile/feed", button="Create a feed link"
    )
    url = re.search(r'id="feed-url">([^<]+)<', page.text)[1]
    assert url.startswith(f"{stack.base_url}/feeds/") and url.endswith(".ics")
    async with httpx.AsyncClient() as client:
        feed = await client.get(url)
        assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
        assert "BEGIN:VEVENT" in feed.text and start.strftime("%Y%m%dT%H%M%SZ") in feed.text
        assert (await client.get(f"{stack.base_url}/feeds/guessed.ics")).status_code == 404
        again = await ann.get("/profile")
        assert url not in again.text  # shown once
        await ann.submit(again, action="/profile/feed", button="Turn the feed off")
        assert (await client.get(url)).status_code == 404


async def test_healthz_answers_with_the_providers(stack) -> None:
    # Liveness only; the database is /readyz's (tests/test_observability_health.py).
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        answer = await client.get("/healthz")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok"
    assert {"google_meet", "teams", "zoom"} <= set(body["providers"])
