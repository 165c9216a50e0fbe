"""Meeting type pages: create and edit through the form, with the same validation as
everywhere, the booking link and embed snippet, and preflight warnings."""

from __future__ import annotations

import re

from sqlalchemy import select

from meetbridge.models import LocationKind, MeetingType
from tests.web_support import ZOOM_BASIC

pytest_plugins = ["tests.web_fixtures"]

FORM = {
    "name": "Candidate interview",
    "duration_minutes": "45",
    "location": "zoom",
    "hosts": ["ann@acme.test"],
    "assignment": "one_person",
    "video_mode": "always",
}


async def test_creating_a_zoom_meeting_type_gives_a_booking_link_and_embed_snippet(stack) -> None:
    ann = await stack.signed_in("ann")
    form = await ann.get("/meeting-types/new")
    page = await ann.submit(form, action="/meeting-types/new", data=FORM)
    assert str(page.url).endswith("/meeting-types")
    assert f"{stack.base_url}/book/candidate-interview" in page.text
    assert "&lt;iframe src=&#34;" in page.text or "&lt;iframe src=" in page.text
    with stack.services.sessions() as session:
        mt = session.scalars(select(MeetingType)).one()
        assert (mt.location_kind, mt.location_providers) == (LocationKind.PROVIDER, ["zoom"])
        assert mt.duration_minutes == 45 and [h.user.email for h in mt.hosts] == ["ann@acme.test"]


async def test_invalid_meeting_types_are_explained_and_nothing_is_stored(stack) -> None:
    ann = await stack.signed_in("ann")
    form = await ann.get("/meeting-types/new")
    cases = [
        ({"duration_minutes": "forty"}, "whole number"),
        ({"duration_minutes": "2"}, "between 5 minutes"),
        ({"location": "webex"}, "Unknown location"),
        ({"location": "custom_link", "location_value": "http://x.test"}, "https://"),
        (
            {"hosts": ["ann@acme.test", "nobody@elsewhere.test"], "assignment": "round_robin"},
            "not a member",
        ),
        ({"hosts": ["bob@acme.test"]}, "Include yourself"),
        ({"assignment": "lottery"}, "Choose a video mode and an assignment"),
        # Past the integer columns these were a 500 on PostgreSQL.
        ({"buffer_minutes": str(10**12)}, "at most 24 hours"),
        ({"min_notice_minutes": "9999999999"}, "at most 366 days"),
        ({"slot_interval_minutes": "100000"}, "between 5 minutes and 12 hours"),
    ]
    for change, message in cases:
        answer = await ann.submit(form, action="/meeting-types/new", data={**FORM, **change})
        assert answer.status_code == 400, change
        assert message in answer.text, (
            change,
            re.findall(r"flash error[^>]*>([^<]+)", answer.text),
        )
    assert stack.count(MeetingType) == 0


async def test_members_edit_their_own_types_only_and_admins_any(stack) -> None:
    bobs = stack.meeting_type(name="Bob's call", hosts=["bob@acme.test"])
    del bobs
    with stack.services.sessions() as session:
        mt_id = session.scalars(select(MeetingType.id)).one()
    ann = await stack.signed_in("ann")
    assert (await ann.get(f"/meeting-types/{mt_id}")).status_code == 404
    assert "Bob&#39;s call" not in (await ann.get("/meeting-types")).text
    admin = await stack.signed_in("admin")
    form = await admin.get(f"/meeting-types/{mt_id}")
    assert form.status_code == 200 and 'value="Bob&#39;s call"' in form.text
    saved = await admin.submit(
        form, action=f"/meeting-types/{mt_id}", data={"duration_minutes": "50"}
    )
    assert "Saved" in saved.text
    with stack.services.sessions() as session:
        assert session.get(MeetingType, mt_id).duration_minutes == 50


async def test_a_long_type_on_a_free_zoom_host_warns_about_40_minutes(stack) -> None:
    ann = await stack.signed_in("ann")
    await stack.connect(ann, "zoom", ZOOM_BASIC)
    form = await ann.get("/meeting-types/new")
    page = await ann.submit(form, action="/meeting-types/new", data=FORM)
    warning = re.search(r'class="flash warning"[^>]*>([^<]+)<', page.text)
    assert warning and "40 minutes" in warning[1] and "45 minutes" in warning[1]
