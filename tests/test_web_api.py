"""The REST API a platform uses: API keys, meeting types, slots, bookings with conferencing
status, connections, connect links and webhook subscriptions."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select

from meetbridge.accounts import create_account
from meetbridge.directory import get_or_create_organization
from meetbridge.models import ApiKey, Connection, Role, User
from meetbridge.web.api_keys import create_api_key
from meetbridge.web.sandbox import answer_consent
from tests.web_support import PASSWORD, ZOOM_LICENSED

pytest_plugins = ["tests.web_fixtures"]


def booking_body(slug: str, start: datetime, **extra) -> dict:
    return {
        "meeting_type": slug,
        "start": start.isoformat(),
        "name": "Casey",
        "email": "casey@client.test",
        "timezone": "Europe/Paris",
        **extra,
    }


async def test_the_openapi_document_is_served(stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        doc = (await client.get("/api/v1/openapi.json")).json()
    assert {"/api/v1/bookings", "/api/v1/bookings/{uid}/cancel", "/api/v1/connect-links"} <= set(
        doc["paths"]
    )
    assert not any(p.startswith(("/login", "/book/")) for p in doc["paths"])  # pages are not API
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "ErrorResponse" in doc["components"]["schemas"]


async def test_missing_invalid_and_revoked_keys_get_401_in_the_one_error_shape(stack) -> None:
    key = stack.api_key()
    async with httpx.AsyncClient(base_url=stack.base_url + "/api/v1") as client:
        for headers in (
            {},
            {"Authorization": "Bearer mb_nope_nope"},
            {"Authorization": "Basic eA=="},
        ):
            answer = await client.get("/meeting-types", headers=headers)
            assert answer.status_code == 401
            assert set(answer.json()["error"]) >= {"code", "message"}
            assert answer.headers["www-authenticate"] == "Bearer"
        ok = await client.get("/meeting-types", headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200
        with stack.services.sessions() as session, session.begin():
            session.scalars(select(ApiKey)).one().revoked_at = datetime.now().astimezone()
        again = await client.get("/meeting-types", headers={"Authorization": f"Bearer {key}"})
        assert again.status_code == 401 and again.json()["error"]["code"] == "invalid_api_key"
    with stack.services.sessions() as session:
        stored = session.scalars(select(ApiKey)).one()
        assert key not in stored.key_hash and len(stored.key_hash) == 64  # only a hash is kept


async def test_meeting_types_can_be_listed_created_and_their_slots_read(stack) -> None:
    api = stack.api()
    made = await api.post(
        "/meeting-types",
        json={
            "name": "Tutor intro",
            "duration_minutes": 30,
            "hosts": ["ann@acme.test"],
            "location": "zoom",
        },
    )
    assert made.status_code == 201, made.text
    assert made.json()["booking_url"] == f"{stack.base_url}/book/tutor-intro"
    listed = (await api.get("/meeting-types")).json()
    assert [m["slug"] for m in listed] == ["tutor-intro"]
    slots = (
        await api.get("/meeting-types/tutor-intro/slots", params={"timezone": "Asia/Tokyo"})
    ).json()
    first = slots["slots"][0]
    assert first["local_start"].endswith("+09:00")
    assert datetime.fromisoformat(first["end"]) - datetime.fromisoformat(first["start"]) == (
        datetime.fromisoformat("2026-01-01T00:30:00")
        - datetime.fromisoformat("2026-01-01T00:00:00")
    )
    bad = await api.post(
        "/meeting-types",
        json={"name": "X", "duration_minutes": 30, "hosts": ["ann@acme.test"], "location": "webex"},
    )
    assert bad.status_code == 422 and "Unknown location" in bad.json()["error"]["message"]
    providers = (await api.get("/providers")).json()
    assert {p["name"] for p in providers} >= {"zoom", "google_meet", "teams"}


async def test_a_booking_through_the_api_from_create_to_cancel(stack) -> None:
    ann = await stack.signed_in("ann")
    await stack.connect(ann, "zoom", ZOOM_LICENSED)
    slug = stack.meeting_type(location="zoom")
    api = stack.api()
    start = await stack.first_slot(slug)
    made = await api.post("/bookings", json=booking_body(slug, start))
    assert made.status_code == 201, made.text
    booking = made.json()
    assert booking["conferencing"]["status"] == "provisioned"
    assert booking["conferencing"]["provider"] == "zoom"
    [meeting] = stack.sandboxes["zoom"].state.live_meetings()
    assert booking["conferencing"]["join_url"] == meeting["join_url"]
    assert booking["manage_url"].startswith(f"{stack.base_url}/manage/{booking['uid']}?token=")
    got = (await api.get(f"/bookings/{booking['uid']}")).json()
    assert got["manage_url"] is None  # the token was shown once, at creation
    assert [b["uid"] for b in (await api.get("/bookings")).json()] == [booking["uid"]]
    later = await stack.first_slot(slug, skip=3)
    moved = await api.post(
        f"/bookings/{booking['uid']}/reschedule", json={"start": later.isoformat()}
    )
    assert moved.status_code == 200 and datetime.fromisoformat(moved.json()["start"]) == later
    assert meeting["start"] == later
    for _ in range(2):  # cancelling twice is not an error
        cancelled = await api.post(f"/bookings/{booking['uid']}/cancel", json={"reason": "x"})
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert stack.sandboxes["zoom"].state.live_meetings() == []
    for answer in (made, moved, cancelled):
        assert "zak=" not in answer.text and "start_url" not in answer.text


async def test_keys_act_for_their_own_organisation_only(stack) -> None:
    slug = stack.meeting_type(location="in_person", location_value="HQ")
    api = stack.api()
    start = await stack.first_slot(slug)
    uid = (await api.post("/bookings", json=booking_body(slug, start))).json()["uid"]
    with stack.services.sessions() as session, session.begin():
        other = get_or_create_organization(session, "Globex")
        boss = create_account(
            session, other, "boss@globex.test", password=PASSWORD, role=Role.ADMIN
        )
        _, key = create_api_key(session, boss, "globex platform")
    globex = stack.api(key)
    assert (await globex.get(f"/bookings/{uid}")).status_code == 404
    assert (await globex.post(f"/bookings/{uid}/cancel", json={})).status_code == 404
    assert (await globex.get("/meeting-types")).json() == []
    answer = await globex.post("/bookings", json=booking_body(slug, start))
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "meeting_type_not_found"
    assert (await api.get(f"/bookings/{uid}")).json()["status"] == "confirmed"


async def test_connections_are_listed_with_their_status(stack) -> None:
    ann = await stack.signed_in("ann")
    await stack.connect(ann, "zoom", ZOOM_LICENSED)
    api = stack.api()
    [conn] = (await api.get("/connections")).json()
    assert conn["owner"] == "ann@acme.test" and conn["status"] == "active"
    assert conn["account_email"] == ZOOM_LICENSED and "token" not in str(conn).lower()
    assert (await api.get(f"/connections/{conn['id']}")).json()["provider"] == "zoom"
    assert (await api.get("/connections", params={"user_email": "bob@acme.test"})).json() == []
    assert (await api.get("/connections/999")).status_code == 404


async def test_a_connect_link_brings_the_person_back_to_the_platform(stack) -> None:
    api = stack.api()
    made = await api.post(
        "/connect-links",
        json={
            "user_email": "ann@acme.test",
            "provider": "zoom",
            "return_url": "https://platform.example/back?x=1",
        },
    )
    assert made.status_code == 201, made.text
    link = made.json()["url"]
    assert link.startswith(f"{stack.base_url}/connect/link/")
    person = stack.browser()  # not signed in to meetbridge at all
    consent = await person.get(link)
    assert "/sandbox/zoom/oauth/authorize" in str(consent.url)
    back = await answer_consent(person, consent, "zoom", ZOOM_LICENSED)
    home = await person.get(back.headers["location"], follow=False)
    assert home.status_code == 303
    target = urlsplit(home.headers["location"])
    assert target.netloc == "platform.example" and target.path == "/back"
    assert parse_qs(target.query) == {"x": ["1"], "provider": ["zoom"], "status": ["connected"]}
    with stack.services.sessions() as session:
        conn = session.scalars(select(Connection)).one()
        assert session.get(User, conn.owner_user_id).email == "ann@acme.test"
    again = await stack.browser().get(link)
    assert again.status_code == 400 and "already used" in again.text


async def test_a_declined_connect_link_says_access_denied_to_the_platform(stack) -> None:
    api = stack.api()
    link = (
        await api.post(
            "/connect-links",
            json={
                "user_email": "bob@acme.test",
                "provider": "zoom",
                "return_url": "https://platform.example/back",
            },
        )
    ).json()["url"]
    person = stack.browser()
    consent = await person.get(link)
    back = await answer_consent(person, consent, "zoom", ZOOM_LICENSED, allow=False)
    home = await person.get(back.headers["location"], follow=False)
    query = parse_qs(urlsplit(home.headers["location"]).query)
    assert query["error"] == ["access_denied"] and query["provider"] == ["zoom"]
    assert stack.count(Connection) == 0


async def test_connect_links_refuse_unknown_people_providers_and_bad_urls(stack) -> None:
    api = stack.api()
    for body, code in (
        ({"user_email": "stranger@else.test", "provider": "zoom"}, "invalid_connect_link"),
        ({"user_email": "ann@acme.test", "provider": "webex"}, "unknown_provider"),
        (
            {"user_email": "ann@acme.test", "provider": "zoom", "return_url": "javascript:x"},
            "invalid_connect_link",
        ),
        (
            {"user_email": "ann@acme.test", "provider": "zoom", "account_level": True},
            "invalid_connect_link",
        ),
    ):
        answer = await api.post("/connect-links", json={"return_url": "https://p.example/", **body})
        assert answer.status_code == 422 and answer.json()["error"]["code"] == code, body


async def test_webhook_subscriptions_can_be_made_listed_and_deleted(stack) -> None:
    api = stack.api()
    made = await api.post(
        "/webhook-subscriptions",
        json={"url": "https://platform.example/hook", "events": ["conferencing.failed"]},
    )
    assert made.status_code == 201 and made.json()["secret"].startswith("whsec_")
    [listed] = (await api.get("/webhook-subscriptions")).json()
    assert listed["events"] == ["conferencing.failed"] and listed["secret"] is None
    bad = await api.post(
        "/webhook-subscriptions", json={"url": "https://p.example", "events": ["x"]}
    )
    assert bad.status_code == 422
    assert (await api.delete(f"/webhook-subscriptions/{listed['id']}")).status_code == 204
    assert (await api.get("/webhook-subscriptions")).json() == []
