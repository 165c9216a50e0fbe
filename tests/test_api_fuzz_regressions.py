"""Regressions for what the API fuzzer (tests/test_api_fuzz.py) found: each was a 500 or an
answer the OpenAPI document did not describe. Each request here is refused in the one error
shape, with a documented status, and stores nothing.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from meetbridge import db
from tests.web_support import Stack, csrf_of

pytest_plugins = ["tests.web_fixtures"]


def row_counts(stack: Stack) -> dict[str, int]:
    import meetbridge.models  # noqa: F401  (every table on the metadata)

    with stack.services.sessions() as session:
        return {
            t.name: int(session.scalar(select(func.count()).select_from(t)) or 0)
            for t in db.Base.metadata.sorted_tables
        }


@pytest.fixture
async def setup(stack: Stack) -> tuple[Stack, httpx.AsyncClient, str, str]:
    slug = stack.meeting_type(location="in_person", location_value="HQ")
    api = stack.api()
    start = (await stack.api().get(f"/meeting-types/{slug}/slots")).json()["slots"][0]["start"]
    return stack, api, slug, start


def booking(slug: str, start: str, **changes: object) -> dict:
    return {
        "meeting_type": slug,
        "start": start,
        "name": "Casey",
        "email": "casey@client.test",
        "timezone": "Europe/Paris",
        **changes,
    }


def assert_refused(answer: httpx.Response, status: int = 422, field: str | None = None) -> None:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert set(error) <= {"code", "message", "details"} and error["code"] and error["message"]
    if field is not None:
        assert any(field in d["field"] for d in error["details"]), error


async def test_every_json_body_operation_documents_its_400_for_malformed_json(setup) -> None:
    """Malformed JSON is a 400: POST /meeting-types, /connect-links and
    /webhook-subscriptions answered it without documenting it."""
    stack, api, _slug, _start = setup
    doc = (await api.get("/openapi.json")).json()
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if "requestBody" in operation:
                assert "400" in operation["responses"], f"{method.upper()} {path}"
    before = row_counts(stack)
    for path in ("/meeting-types", "/connect-links", "/webhook-subscriptions", "/bookings"):
        answer = await api.post(path, content=b"\x00", headers={"content-type": "application/json"})
        assert_refused(answer, 400)
        assert answer.json()["error"]["code"] == "malformed_json"
    assert row_counts(stack) == before


@pytest.mark.parametrize("value", [2**31, 10_895_789_465, 2**63, 0, -1])
async def test_ids_outside_the_database_range_are_422_not_500(setup, value) -> None:
    """PostgreSQL failed the look-up of an id over 2**31-1 ("integer out of range") and
    SQLite one over 2**63-1: a 500 instead of a refusal."""
    stack, api, _slug, _start = setup
    before = row_counts(stack)
    assert_refused(await api.get(f"/connections/{value}"), 422, "connection_id")
    assert_refused(await api.delete(f"/webhook-subscriptions/{value}"), 422, "subscription_id")
    assert row_counts(stack) == before
    doc = (await api.get("/openapi.json")).json()
    param = doc["paths"]["/api/v1/connections/{connection_id}"]["get"]["parameters"][0]
    assert param["schema"]["maximum"] == 2**31 - 1


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/bookings", {"name": "Ca\x00sey"}, "name"),
        ("/bookings", {"notes": "\x00"}, "notes"),
        ("/bookings", {"email": "c\x00@client.test"}, "email"),
        ("/bookings", {"meeting_type": "intro\x00"}, "meeting_type"),
        ("/meeting-types", {"name": "D\x00"}, "name"),
        ("/meeting-types", {"description": "\x00"}, "description"),
        ("/meeting-types", {"hosts": ["ann\x00@acme.test"]}, "hosts"),
        ("/webhook-subscriptions", {"url": "https://x.example/\x00"}, "url"),
        ("/webhook-subscriptions", {"description": "\x00"}, "description"),
        ("/connect-links", {"return_url": "https://x.example/\x00"}, "return_url"),
        ("/connect-links", {"user_email": "ann\x00@acme.test"}, "user_email"),
    ],
)
async def test_nul_characters_in_bodies_are_422_not_500(setup, path, body, field) -> None:
    """PostgreSQL refuses text with NUL characters: they were 500s (and stored on SQLite)."""
    stack, api, slug, start = setup
    base = {
        "/bookings": booking(slug, start),
        "/meeting-types": {"name": "Demo", "duration_minutes": 30, "hosts": ["ann@acme.test"]},
        "/webhook-subscriptions": {"url": "https://x.example/hooks"},
        "/connect-links": {
            "user_email": "ann@acme.test",
            "provider": "zoom",
            "return_url": "https://x.example/back",
        },
    }[path]
    before = row_counts(stack)
    answer = await api.post(path, json={**base, **body})
    assert_refused(answer, 422, field)
    assert "NUL" in answer.json()["error"]["message"]
    assert row_counts(stack) == before


@pytest.mark.parametrize(
    "path",
    [
        "/bookings/a%00b",
        "/meeting-types/a%00b",
        "/meeting-types/a%00b/slots",
        "/meeting-types/intro-call/slots?timezone=%00",
        "/connections?provider=%00",
        "/connections?user_email=a%00b",
    ],
)
async def test_nul_characters_in_paths_and_queries_are_422_not_500(setup, path) -> None:
    stack, api, _slug, _start = setup
    before = row_counts(stack)
    assert_refused(await api.get(path), 422)
    assert_refused(await api.post("/bookings/a%00b/cancel", json={}), 422)
    assert row_counts(stack) == before


@pytest.mark.parametrize(
    "start",
    [
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC: OverflowError
        "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC: OverflowError
        "1900-01-01T00:00:00Z",
        "3000-01-01T00:00:00Z",
    ],
)
async def test_instants_out_of_range_are_422_not_500(setup, start) -> None:
    stack, api, slug, good = setup
    uid = (await api.post("/bookings", json=booking(slug, good))).json()["uid"]
    before = row_counts(stack)
    assert_refused(await api.post("/bookings", json=booking(slug, start)), 422, "start")
    assert_refused(await api.post(f"/bookings/{uid}/reschedule", json={"start": start}), 422)
    for param in ("start", "end"):
        answer = await api.get(f"/meeting-types/{slug}/slots", params={param: start})
        assert_refused(answer, 422, param)
    assert row_counts(stack) == before
    assert (await api.get(f"/bookings/{uid}")).json()["start"].startswith(good[:16])


@pytest.mark.parametrize("start", [1_800_000_000, "1800000000", "-210", 1.5])
async def test_unix_timestamps_are_not_taken_for_instants(setup, start) -> None:
    """The document says ISO 8601 date-time; numbers were silently read as Unix time."""
    stack, api, slug, _good = setup
    before = row_counts(stack)
    assert_refused(await api.post("/bookings", json=booking(slug, start)), 422, "start")
    answer = await api.get(f"/meeting-types/{slug}/slots", params={"start": str(start)})
    assert_refused(answer, 422, "start")
    assert row_counts(stack) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"buffer_minutes": 2**40}, "buffer_minutes"),
        ({"min_notice_minutes": 2**70}, "min_notice_minutes"),
        ({"min_notice_minutes": -5}, "min_notice_minutes"),
        ({"duration_minutes": 2**40}, "duration_minutes"),
        ({"slug": "s" * 101}, "slug"),
        ({"location_value": "x" * 1001}, "location_value"),
    ],
)
async def test_meeting_type_values_beyond_the_columns_are_422_not_500(
    setup, changes, field
) -> None:
    """PostgreSQL refused numbers over 2**31-1 and text longer than the column: 500s."""
    stack, api, _slug, _start = setup
    before = row_counts(stack)
    body = {"name": "Demo", "duration_minutes": 30, "hosts": ["ann@acme.test"], **changes}
    assert_refused(await api.post("/meeting-types", json=body), 422, field)
    assert row_counts(stack) == before
    doc = (await api.get("/openapi.json")).json()
    schema = doc["components"]["schemas"]["MeetingTypeIn"]["properties"]
    assert schema["buffer_minutes"]["maximum"] == 24 * 60


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/webhook-subscriptions", {"url": "https://x.example/" + "a" * 2000}, "url"),
        ("/webhook-subscriptions", {"url": "https://x.example/", "events": ["e" * 65]}, "events"),
        (
            "/connect-links",
            {
                "user_email": "ann@acme.test",
                "provider": "zoom",
                "return_url": "https://x.example/" + "a" * 2000,
            },
            "return_url",
        ),
    ],
)
async def test_text_longer_than_its_column_is_422_not_500(setup, path, body, field) -> None:
    stack, api, _slug, _start = setup
    before = row_counts(stack)
    assert_refused(await api.post(path, json=body), 422, field)
    assert row_counts(stack) == before


# -- the same defects on pages (found by probing the page routes the same way) -----------------


async def test_page_ids_outside_the_database_range_are_400_not_500(stack: Stack) -> None:
    """``/meeting-types/2147483648`` and the like were 500s on PostgreSQL."""
    admin = await stack.signed_in("admin")
    csrf = csrf_of((await admin.get("/admin/api-keys")).text)
    before = row_counts(stack)
    for path in (
        f"/meeting-types/{2**31}",
        f"/profile/integrations/{2**31}/disconnect",
        f"/meeting-types/{2**63}",
    ):
        assert (await admin.get(path, follow=False)).status_code == 400, path
    for path in (
        f"/admin/api-keys/{2**31}/revoke",
        f"/admin/webhooks/{2**31}/delete",
        f"/profile/integrations/{2**31}/disconnect",
        f"/meeting-types/{2**31}",
    ):
        answer = await admin.client.post(admin.url(path), data={"csrf_token": csrf})
        assert answer.status_code == 400, path
    assert row_counts(stack) == before


@pytest.mark.parametrize(
    "path",
    [
        "/book/intro-call?start=9999-12-31",  # OverflowError: date value out of range
        "/book/intro-call/details?start=0001-01-01T00:00:00%2B01:00",
        "/book/intro-call/details?start=9999-12-31T23:00:00-05:00",
        "/book/intro-call?tz=%00",
        "/book/a%00b",  # PostgreSQL: text fields cannot contain NUL
        "/manage/a%00b?token=x",
        "/manage/abc?token=%00",
    ],
)
async def test_public_pages_refuse_impossible_dates_and_nul_without_a_500(
    stack: Stack, path: str
) -> None:
    stack.meeting_type(location="in_person", location_value="HQ")
    before = row_counts(stack)
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        answer = await client.get(path)
    assert answer.status_code in (400, 404), answer.text[:300]
    assert row_counts(stack) == before


@pytest.mark.parametrize(
    "form",
    [
        {"start": "0001-01-01T00:00:00+01:00", "name": "Casey", "email": "c@client.test"},
        {"start": "2026-12-01T10:00:00Z", "name": "Ca\x00sey", "email": "c@client.test"},
        {
            "start": "2026-12-01T10:00:00Z",
            "name": "Casey",
            "email": "c@client.test",
            "notes": "\x00",
        },
    ],
)
async def test_the_public_booking_form_refuses_impossible_dates_and_nul(stack, form) -> None:
    slug = stack.meeting_type(location="in_person", location_value="HQ")
    anon = stack.browser()
    csrf = csrf_of((await anon.get(f"/book/{slug}/details?start=2026-12-01T10:00:00Z")).text)
    before = row_counts(stack)
    answer = await anon.client.post(anon.url(f"/book/{slug}"), data={"csrf_token": csrf, **form})
    assert answer.status_code == 400, answer.text[:300]
    assert row_counts(stack) == before


async def test_signing_in_with_a_nul_is_a_plain_refusal(stack: Stack) -> None:
    anon = stack.browser()
    csrf = csrf_of((await anon.get("/login")).text)
    for email, password in (("ann\x00@acme.test", "x"), ("ann@acme.test", "pass\x00word")):
        answer = await anon.client.post(
            anon.url("/login"), data={"csrf_token": csrf, "email": email, "password": password}
        )
        assert answer.status_code == 400 and "do not match" in answer.text


async def test_provider_webhook_refusals_come_in_the_one_error_shape(stack: Stack) -> None:
    """Zoom's refusals ({"error": "..."}) and the host's replay refusal were passed through
    as they were, not as {"error": {"code", "message"}} like everything under /webhooks/."""
    state = stack.sandboxes["zoom"].state
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        unsigned = await client.post("/webhooks/zoom", content=b"{}")
        assert 400 <= unsigned.status_code < 500
        assert unsigned.json()["error"]["code"] == "rejected"
        assert unsigned.json()["error"]["message"]
        headers, body = state.signed_webhook("endpoint.url_validation", {"plainToken": "once"})
        first = await client.post("/webhooks/zoom", content=body, headers=headers)
        assert first.status_code == 200
        again = await client.post("/webhooks/zoom", content=body, headers=headers)
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "replayed_delivery"


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/admin/users", {"email": "new\x00@acme.test", "password": "x" * 16}),
        ("/admin/users/role", {"email": "ann\x00@acme.test", "role": "admin"}),
        ("/admin/api-keys", {"name": "crm\x00"}),
        ("/admin/webhooks", {"url": "https://x.example/\x00"}),
        ("/meeting-types/new", {"name": "Demo\x00", "duration_minutes": "30"}),
        ("/profile", {"name": "Ad\x00min", "availability": "mon-fri 09:00-17:00"}),
        ("/profile/password", {"current": "\x00", "new": "x" * 16}),
    ],
)
async def test_signed_in_forms_with_nul_are_400_not_500(stack: Stack, path, form) -> None:
    """PostgreSQL refuses NUL characters: every form that stores or looks up text was a 500."""
    admin = await stack.signed_in("admin")
    csrf = csrf_of((await admin.get("/profile")).text)
    before = row_counts(stack)
    answer = await admin.client.post(admin.url(path), data={"csrf_token": csrf, **form})
    assert answer.status_code == 400, answer.text[:300]
    assert "NUL" in answer.text
    assert row_counts(stack) == before
