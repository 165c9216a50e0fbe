"""Bad requests to the API get a clear 4xx in the one error shape, and store nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meetbridge.models import Attendee, Booking, Job, Meeting

pytest_plugins = ["tests.web_fixtures"]


def nothing_stored(stack) -> bool:
    return all(stack.count(model) == 0 for model in (Booking, Attendee, Job, Meeting))


@pytest.fixture
async def api_and_slot(stack):
    slug = stack.meeting_type(location="in_person", location_value="HQ")
    start = await stack.first_slot(slug)
    return stack.api(), slug, start


def body(slug: str, **changes) -> dict:
    return {
        "meeting_type": slug,
        "start": "2026-12-01T15:00:00Z",
        "name": "Casey",
        "email": "casey@client.test",
        "timezone": "Europe/Paris",
        **changes,
    }


async def test_malformed_json_is_400(stack, api_and_slot) -> None:
    api, _slug, _start = api_and_slot
    answer = await api.post(
        "/bookings", content=b'{"meeting_type": ', headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "error": {"code": "malformed_json", "message": "The request body is not valid JSON."}
    }
    assert nothing_stored(stack)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"start": "2026-02-30T10:00:00Z"}, "start", "day value is outside"),
        ({"start": "2026-12-01T15:00:00"}, "start", "timezone"),
        ({"start": "next tuesday"}, "start", "datetime"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "Unknown timezone"),
        ({"email": ""}, "email", "at least 3"),
        ({"colour": "blue"}, "colour", "Extra inputs"),
    ],
)
async def test_impossible_values_are_422_naming_the_field(
    stack, api_and_slot, changes, field, words
) -> None:
    api, slug, _start = api_and_slot
    answer = await api.post("/bookings", json=body(slug, **changes))
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_request"
    assert any(d["field"] == field and words in d["message"] for d in error["details"]), error
    assert nothing_stored(stack)


async def test_a_time_that_is_not_a_slot_is_409(stack, api_and_slot) -> None:
    api, slug, start = api_and_slot
    odd = start + timedelta(minutes=7)
    answer = await api.post("/bookings", json=body(slug, start=odd.isoformat()))
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "slot_unavailable"
    assert nothing_stored(stack)


async def test_the_past_is_refused(stack, api_and_slot) -> None:
    api, slug, _start = api_and_slot
    past = (datetime.now(UTC) - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    answer = await api.post("/bookings", json=body(slug, start=past.isoformat()))
    assert answer.status_code == 422 and "in the past" in answer.json()["error"]["message"]
    assert nothing_stored(stack)


async def test_unknown_things_are_404(stack, api_and_slot) -> None:
    api, slug, start = api_and_slot
    answer = await api.post("/bookings", json=body("no-such-type", start=start.isoformat()))
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "meeting_type_not_found"
    for path in (
        "/bookings/nope",
        "/meeting-types/nope",
        "/meeting-types/nope/slots",
        "/nothing-here",
    ):
        missing = await api.get(path)
        assert missing.status_code == 404 and "error" in missing.json(), path
    assert nothing_stored(stack)
    del slug


async def test_form_bodies_and_bad_ranges_are_refused_clearly(stack, api_and_slot) -> None:
    api, slug, start = api_and_slot
    answer = await api.post("/bookings", data={"meeting_type": slug})
    assert answer.status_code in (400, 422) and "error" in answer.json()
    rng = await api.get(
        f"/meeting-types/{slug}/slots",
        params={"start": start.isoformat(), "end": (start + timedelta(days=90)).isoformat()},
    )
    assert rng.status_code == 422 and "62 days" in rng.json()["error"]["message"]
    tz = await api.get(f"/meeting-types/{slug}/slots", params={"timezone": "Nowhere/Land"})
    assert tz.status_code == 422 and tz.json()["error"]["code"] == "invalid_timezone"
    moved = await api.post("/bookings/nope/reschedule", json={"start": "2026-02-30T10:00:00Z"})
    assert moved.status_code == 422  # the body is checked before anything is looked up
    assert nothing_stored(stack)


async def test_rescheduling_to_an_impossible_time_changes_nothing(stack, api_and_slot) -> None:
    api, slug, start = api_and_slot
    uid = (await api.post("/bookings", json=body(slug, start=start.isoformat()))).json()["uid"]
    for when in ("2026-02-30T10:00:00Z", (start + timedelta(minutes=3)).isoformat()):
        answer = await api.post(f"/bookings/{uid}/reschedule", json={"start": when})
        assert answer.status_code in (409, 422)
    got = (await api.get(f"/bookings/{uid}")).json()
    assert datetime.fromisoformat(got["start"]) == start
