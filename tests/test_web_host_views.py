"""Hosts' views: bookings, the conferencing explanation, and "Join Zoom meeting" fetching a
fresh host start link that no one else ever sees."""

from __future__ import annotations

import re

from sqlalchemy import select

from meetbridge.models import Booking, Meeting
from tests.web_support import ZOOM_LICENSED, csrf_of

pytest_plugins = ["tests.web_fixtures"]


async def booked(stack) -> str:
    ann = await stack.signed_in("ann")
    await stack.connect(ann, "zoom", ZOOM_LICENSED)
    slug = stack.meeting_type(location="zoom")
    api = stack.api()
    start = await stack.first_slot(slug)
    answer = await api.post(
        "/bookings",
        json={
            "meeting_type": slug,
            "start": start.isoformat(),
            "name": "Casey",
            "email": "casey@client.test",
            "timezone": "Europe/Paris",
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["uid"]


async def test_hosts_see_their_bookings_others_do_not_admins_see_everyone(stack) -> None:
    uid = await booked(stack)
    ann = await stack.signed_in("ann")
    assert f"/bookings/{uid}" in (await ann.get("/bookings")).text
    bob = await stack.signed_in("bob")
    assert f"/bookings/{uid}" not in (await bob.get("/bookings")).text
    assert (await bob.get(f"/bookings/{uid}")).status_code == 404
    admin = await stack.signed_in("admin")
    assert f"/bookings/{uid}" not in (await admin.get("/bookings")).text  # not their own
    assert f"/bookings/{uid}" in (await admin.get("/bookings?scope=all")).text


async def test_the_detail_explains_how_the_provider_was_chosen(stack) -> None:
    uid = await booked(stack)
    ann = await stack.signed_in("ann")
    page = await ann.get(f"/bookings/{uid}")
    assert "How the video was decided" in page.text
    assert "zoom of ann@acme.test" in page.text and "Ready" in page.text
    assert "Join Zoom meeting" in page.text


async def test_join_fetches_a_fresh_start_link_for_the_host_only(stack) -> None:
    uid = await booked(stack)
    ann = await stack.signed_in("ann")
    page = await ann.get(f"/bookings/{uid}")
    assert "zak=" not in page.text  # the page itself never carries a start link
    first = await ann.submit(page, action="/join", follow=False)
    second = await ann.submit(page, action="/join", follow=False)
    assert first.status_code == second.status_code == 303
    links = [first.headers["location"], second.headers["location"]]
    assert all(re.match(rf"{stack.base_url}/sandbox/zoom/s/\d+\?zak=", link) for link in links)
    assert links[0] != links[1]  # fresh each time, not a stored one
    assert first.headers["cache-control"] == "no-store"
    started = await ann.get(links[0])
    assert started.status_code == 200 and "Starting meeting as host" in started.text
    with stack.services.sessions() as session:
        meeting = session.scalars(select(Meeting)).one()
        assert meeting.start_url_ciphertext is None or b"zak=" not in meeting.start_url_ciphertext


async def test_no_one_but_a_host_gets_a_start_link(stack) -> None:
    uid = await booked(stack)
    admin = await stack.signed_in("admin")  # may see the booking, is not its host
    page = await admin.get(f"/bookings/{uid}")
    assert page.status_code == 200 and 'class="host-join"' not in page.text
    answer = await admin.client.post(
        admin.url(f"/bookings/{uid}/join"), data={"csrf_token": csrf_of(page.text)}
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"/bookings/{uid}"
    after = await admin.follow(answer)
    assert "Only a host of this booking" in after.text and "zak=" not in after.text
    bob = await stack.signed_in("bob")
    answer = await bob.client.post(
        bob.url(f"/bookings/{uid}/join"),
        data={"csrf_token": csrf_of((await bob.get("/profile")).text)},
    )
    assert answer.status_code == 404


async def test_a_host_can_cancel_and_the_meeting_is_deleted(stack) -> None:
    uid = await booked(stack)
    ann = await stack.signed_in("ann")
    page = await ann.get(f"/bookings/{uid}")
    done = await ann.submit(page, action="/cancel", data={"reason": "Ill"})
    assert "Booking cancelled" in done.text
    assert stack.sandboxes["zoom"].state.live_meetings() == []
    with stack.services.sessions() as session:
        assert session.scalars(select(Booking.status)).one() == "cancelled"
