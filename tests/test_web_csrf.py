"""Every form is protected against cross-site request forgery: a POST without this session's
CSRF token is refused with 403 and changes nothing, on every page route there is."""

from __future__ import annotations

import importlib
import pkgutil
import re

from sqlalchemy import func, select
from starlette.routing import Route

from meetbridge import db
from tests.web_support import csrf_of

pytest_plugins = ["tests.web_fixtures"]

SAMPLE = {
    "provider": "zoom",
    "connection_id": "1",
    "uid": "0123456789abcdef",
    "slug": "intro-call",
    "key_id": "1",
    "subscription_id": "1",
    "meeting_type_id": "1",
}


def form_routes() -> list[str]:
    """Every POST route of every page module (the API uses keys, provider webhooks use
    signatures), so a page added later is covered without touching this test."""
    import meetbridge.web.routes as package

    paths = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        router = getattr(module, "router", None)
        for route in getattr(router, "routes", []):
            if (
                isinstance(route, Route)
                and "POST" in (route.methods or set())
                and not route.path.startswith(("/api/", "/webhooks/"))
            ):
                paths.append(re.sub(r"{(\w+)}", lambda m: SAMPLE[m[1]], route.path))
    return paths


def row_counts(services) -> dict[str, int]:
    with services.sessions() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table))
            for table in db.Base.metadata.sorted_tables
        }


async def test_every_form_route_refuses_a_forged_or_missing_token(stack) -> None:
    import meetbridge.models  # noqa: F401  (every table on the metadata)

    assert stack.meeting_type() == SAMPLE["slug"]
    admin = await stack.signed_in("admin")
    real = csrf_of((await admin.get("/profile")).text)
    routes = form_routes()
    assert len(routes) >= 15, routes
    before = row_counts(stack.services)
    for path in routes:
        for token in ({}, {"csrf_token": "forged-" + real[7:]}):
            answer = await admin.client.post(admin.url(path), data={"name": "x", **token})
            assert answer.status_code == 403, f"{path} accepted a POST with {token or 'no token'}"
            assert "could not be accepted" in answer.text
    assert row_counts(stack.services) == before
    assert (await admin.get("/bookings", follow=False)).status_code == 200  # still signed in


async def test_the_token_of_another_session_is_refused(stack) -> None:
    ann = await stack.signed_in("ann")
    bob = await stack.signed_in("bob")
    bobs_token = csrf_of((await bob.get("/profile")).text)
    answer = await ann.client.post(
        ann.url("/profile"),
        data={"csrf_token": bobs_token, "name": "Mallory", "timezone": "UTC", "availability": ""},
    )
    assert answer.status_code == 403
