"""The authorization matrix: every route of the real app x every kind of caller.

``ROUTES`` classifies each (method, path template) of ``app.routes`` with a policy; a route
that is not in the table fails ``test_every_route_is_classified`` (so a new route must be
classified here). For each route and principal a real request is made over HTTP, with path
parameters that are real ids of organisation A (Acme) and, for forms, this session's CSRF
token (CSRF is not what is tested here: it is in tests/test_web_csrf.py). Then:

* anonymous callers and API keys on pages are sent to the sign-in page (303 to ``/login``);
  on the API, anyone without a valid key gets 401 in the one error shape;
* members get 403 on admin pages; a member who does not host a booking, an admin of another
  organisation, and another organisation's API key get 404 for Acme's objects (never 403: the
  app does not disclose that an object exists), and what they can list holds nothing of Acme;
* public routes (booking pages, the manage link with its token, calendar feeds, connect links,
  provider webhooks with a signature, health, metrics from loopback) are reachable;
* a refused request changed nothing in the database.

Principals: ``anonymous``; ``owner`` (Ann, a member who hosts Acme's booking and meeting type
and owns the Zoom connection); ``member`` (Bob, a member of Acme who owns none of them);
``admin`` (Acme's admin); ``admin_b`` (the admin of another organisation); ``key_a`` and
``key_b`` (API keys of Acme and of the other organisation).
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy import select
from starlette.routing import Mount

from meetbridge.accounts import create_account
from meetbridge.directory import get_or_create_organization
from meetbridge.models import (
    ApiKey,
    Connection,
    ConnectionStatus,
    MeetingType,
    Organization,
    Role,
    User,
)
from meetbridge.testing import database
from meetbridge.web import platform_webhooks
from meetbridge.web.api_keys import create_api_key
from meetbridge.web.connect_links import issue_link
from tests.web_support import (
    ALL_WEEK,
    PASSWORD,
    ZOOM_LICENSED,
    Stack,
    build_stack,
    csrf_of,
    password_hash,
    settle,
    table_fingerprint,
)

pytest_plugins = ["tests.web_fixtures"]

PRINCIPALS = ("anonymous", "owner", "member", "admin", "admin_b", "key_a", "key_b")
SESSIONS = {"owner": "ann", "member": "bob", "admin": "admin", "admin_b": "boss"}
ORG_B_ADMIN = "boss@globex.test"
HOOK_A = "https://platform-a.example/hooks"

# -- policies ---------------------------------------------------------------------------------
PUBLIC = "public"  # anyone
TOKEN = "token"  # anyone holding the secret in the link (manage, feeds, connect links)
SIGNED = "signed"  # anyone, with the provider's signature
LOOPBACK = "loopback"  # from this machine (or with the metrics token)
USER = "user"  # anyone signed in, about themselves / their organisation
HOSTED = "hosted"  # an object of Acme's: its host and Acme's admins
PERSONAL = "personal"  # Ann's own connection: only Ann
ADMIN = "admin"  # Acme's admins (another organisation's admin sees their own)
ADMIN_OBJ = "admin_obj"  # an admin object of Acme's: Acme's admins only
API = "api"  # any valid key, about its own organisation
API_OBJ = "api_obj"  # an object of Acme's, through the API: Acme's keys only

ANY = None  # any answer but a 5xx, a 401/403 or the sign-in redirect


@dataclass(frozen=True)
class Rule:
    policy: str
    ok: tuple[int, ...] | None = (200,)  # the answers of an allowed request
    form: dict[str, Any] | None = None  # a page form, or the API's JSON body
    fresh: bool = False  # the request changes its object: a new one for each allowed call
    hidden: tuple[int, ...] = (404,)  # how an object of another organisation is refused
    target: str = ""  # the path to request when it is not the template filled in


MEETING_TYPE_FORM = {
    "name": "Edited",
    "duration_minutes": "30",
    "buffer_minutes": "0",
    "min_notice_minutes": "0",
    "location": "in_person",
    "location_value": "HQ",
}
ROUTES: dict[tuple[str, str], Rule] = {
    # health and operations
    ("GET", "/healthz"): Rule(PUBLIC),
    ("GET", "/readyz"): Rule(PUBLIC),
    ("GET", "/metrics"): Rule(LOOPBACK),
    ("GET", "/api/v1/openapi.json"): Rule(PUBLIC),
    ("MOUNT", "/static"): Rule(PUBLIC, target="/static/style.css"),
    # sandboxes (mounted only by `meetbridge serve --sandbox` and the tests)
    ("GET", "/sandbox"): Rule(PUBLIC),
    ("MOUNT", "/sandbox/google_meet"): Rule(PUBLIC, ANY, target="/sandbox/google_meet/"),
    ("MOUNT", "/sandbox/jitsi"): Rule(PUBLIC, ANY, target="/sandbox/jitsi/"),
    ("MOUNT", "/sandbox/teams"): Rule(PUBLIC, ANY, target="/sandbox/teams/"),
    ("MOUNT", "/sandbox/zoom"): Rule(PUBLIC, ANY, target="/sandbox/zoom/"),
    # signing in and out
    ("GET", "/"): Rule(PUBLIC, (303,)),
    ("GET", "/login"): Rule(PUBLIC, (200, 303)),
    ("POST", "/login"): Rule(PUBLIC, (400,), form={"email": "x@acme.test", "password": "no"}),
    ("POST", "/logout"): Rule(PUBLIC, (303,), form={}),
    # connecting providers
    ("GET", "/connect/{provider}"): Rule(USER, (303,)),
    ("GET", "/connect/link/{token}"): Rule(TOKEN, (303,), fresh=True),
    # 400 (no connect started in this browser), or back to a connect link's platform (303)
    ("GET", "/connect/{provider}/callback"): Rule(PUBLIC, (303, 400)),
    ("GET", "/profile/integrations"): Rule(USER),
    ("GET", "/profile/integrations/{connection_id}/disconnect"): Rule(PERSONAL),
    ("POST", "/profile/integrations/{connection_id}/disconnect"): Rule(
        PERSONAL, (303,), form={}, fresh=True
    ),
    ("GET", "/integrations"): Rule(PUBLIC, (303,)),
    # meeting types
    ("GET", "/meeting-types"): Rule(USER),
    ("GET", "/meeting-types/new"): Rule(USER),
    ("POST", "/meeting-types/new"): Rule(USER, (400,), form={"name": ""}),
    ("GET", "/meeting-types/{meeting_type_id}"): Rule(HOSTED),
    ("POST", "/meeting-types/{meeting_type_id}"): Rule(
        HOSTED, (303,), form=MEETING_TYPE_FORM, fresh=True
    ),
    # the public booking pages and the private manage link
    ("GET", "/book/{slug}"): Rule(PUBLIC),
    ("GET", "/book/{slug}/details"): Rule(PUBLIC),
    ("POST", "/book/{slug}"): Rule(PUBLIC, (303,), form={}),
    ("GET", "/manage/{uid}"): Rule(TOKEN),
    ("GET", "/manage/{uid}/booking.ics"): Rule(TOKEN),
    ("GET", "/manage/{uid}/reschedule"): Rule(TOKEN),
    ("POST", "/manage/{uid}/reschedule"): Rule(TOKEN, (303,), form={}, fresh=True),
    ("POST", "/manage/{uid}/cancel"): Rule(TOKEN, (303,), form={}, fresh=True),
    ("GET", "/feeds/{token}.ics"): Rule(TOKEN, fresh=True),
    # hosts' bookings
    ("GET", "/bookings"): Rule(USER),
    ("GET", "/bookings/{uid}"): Rule(HOSTED),
    ("POST", "/bookings/{uid}/join"): Rule(HOSTED, (303,), form={}),
    ("POST", "/bookings/{uid}/cancel"): Rule(HOSTED, (303,), form={"reason": "x"}, fresh=True),
    # admin
    ("GET", "/admin"): Rule(ADMIN),
    ("GET", "/admin/users"): Rule(ADMIN),
    ("POST", "/admin/users"): Rule(ADMIN, (303,), form={}),
    ("POST", "/admin/users/role"): Rule(
        ADMIN_OBJ, (303,), form={"email": "carol@acme.test", "role": "member"}, hidden=(400,)
    ),
    ("GET", "/admin/api-keys"): Rule(ADMIN),
    ("POST", "/admin/api-keys"): Rule(ADMIN, form={"name": "another platform"}),
    ("POST", "/admin/api-keys/{key_id}/revoke"): Rule(ADMIN_OBJ, (303,), form={}, fresh=True),
    ("GET", "/admin/webhooks"): Rule(ADMIN),
    ("POST", "/admin/webhooks"): Rule(ADMIN, form={"url": "https://platform.example/w"}),
    ("POST", "/admin/webhooks/{subscription_id}/delete"): Rule(
        ADMIN_OBJ, (303,), form={}, fresh=True
    ),
    # one's own profile
    ("GET", "/profile"): Rule(USER),
    ("POST", "/profile"): Rule(USER, (400,), form={"availability": "someday"}),
    ("POST", "/profile/password"): Rule(USER, (400,), form={"current": "no", "new": "x" * 12}),
    ("POST", "/profile/feed"): Rule(USER, (303,), form={"action": "off"}),
    # provider webhooks
    ("POST", "/webhooks/{provider}"): Rule(SIGNED),
    # the API
    ("GET", "/api/v1/meeting-types"): Rule(API),
    ("GET", "/api/v1/meeting-types/{slug}"): Rule(API_OBJ),
    ("POST", "/api/v1/meeting-types"): Rule(
        API,
        (201, 422),  # Ann is no member of the other organisation: 422 for its key
        form={
            "name": "Via API",
            "duration_minutes": 30,
            "hosts": ["ann@acme.test"],
            "location": "in_person",
            "location_value": "HQ",
        },
    ),
    ("GET", "/api/v1/meeting-types/{slug}/slots"): Rule(API_OBJ),
    ("GET", "/api/v1/providers"): Rule(API),
    ("POST", "/api/v1/bookings"): Rule(API_OBJ, (201,), form={}),
    ("GET", "/api/v1/bookings"): Rule(API),
    ("GET", "/api/v1/bookings/{uid}"): Rule(API_OBJ),
    ("POST", "/api/v1/bookings/{uid}/reschedule"): Rule(API_OBJ, form={}, fresh=True),
    ("POST", "/api/v1/bookings/{uid}/cancel"): Rule(API_OBJ, form={}, fresh=True),
    ("GET", "/api/v1/connections"): Rule(API),
    ("GET", "/api/v1/connections/{connection_id}"): Rule(API_OBJ),
    ("POST", "/api/v1/connect-links"): Rule(
        API,
        (201, 422),  # Ann is no member of the other organisation: 422 for its key
        form={
            "user_email": "ann@acme.test",
            "provider": "zoom",
            "return_url": "https://platform.example/back",
        },
    ),
    ("GET", "/api/v1/webhook-subscriptions"): Rule(API),
    ("POST", "/api/v1/webhook-subscriptions"): Rule(
        API, (201,), form={"url": "https://platform-b.example/hooks"}
    ),
    ("DELETE", "/api/v1/webhook-subscriptions/{subscription_id}"): Rule(
        API_OBJ, (204,), fresh=True
    ),
}
# Routes other engineers add: they must be classified above once they exist; until then
# their absence is no failure.
ANNOUNCED = {("GET", "/readyz"), ("GET", "/metrics")}


def app_routes(app: Any) -> set[tuple[str, str]]:
    """Every (method, path template) the app serves; mounts as ("MOUNT", prefix)."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount):
            found.add(("MOUNT", route.path))
            continue
        for method in route.methods or ():
            if method != "HEAD":
                found.add((method, route.path))
    return found


# -- expectations -----------------------------------------------------------------------------
def expected(rule: Rule, who: str) -> str:
    """``ok``, ``login`` (303 to the sign-in page), ``unauthorized`` (401), ``forbidden``
    (403) or ``hidden`` (the rule's answer for someone else's object: 404)."""
    session = who in SESSIONS
    if rule.policy in (PUBLIC, TOKEN, SIGNED, LOOPBACK):
        return "ok"
    if rule.policy in (API, API_OBJ):
        if who == "key_a" or (who == "key_b" and rule.policy == API):
            return "ok"
        return "hidden" if who == "key_b" else "unauthorized"
    if not session:
        return "login"  # pages know nothing of API keys
    if rule.policy == USER:
        return "ok"
    if rule.policy == HOSTED:
        return "ok" if who in ("owner", "admin") else "hidden"
    if rule.policy == PERSONAL:
        return "ok" if who == "owner" else "hidden"
    if who in ("owner", "member"):
        return "forbidden"
    if rule.policy == ADMIN:
        return "ok"
    return "ok" if who == "admin" else "hidden"  # ADMIN_OBJ


# -- the world --------------------------------------------------------------------------------
@dataclass
class World:
    stack: Stack
    org_b: int
    key_a: str
    key_b: str
    slug: str
    slots: Iterator[str]
    meeting_type_id: int = 0
    uid: str = ""
    manage_token: str = ""
    subscription_id: int = 0
    key_id: int = 0
    clients: dict[str, httpx.Client] = field(default_factory=dict)
    csrf: dict[str, str] = field(default_factory=dict)
    counter: Iterator[int] = field(default_factory=itertools.count)

    @property
    def base(self) -> str:
        return self.stack.base_url

    # principals
    def client(self, who: str) -> httpx.Client:
        if who not in self.clients:
            headers = {}
            if who in ("key_a", "key_b"):
                headers["Authorization"] = f"Bearer {self.key_a if who == 'key_a' else self.key_b}"
            client = httpx.Client(base_url=self.base, headers=headers, timeout=30)
            page = client.get("/login")
            if who in SESSIONS:
                email = ORG_B_ADMIN if who == "admin_b" else self.stack.email(SESSIONS[who])
                form = {"csrf_token": csrf_of(page.text), "email": email, "password": PASSWORD}
                signed = client.post("/login", data={**form, "next": "/profile"})
                assert signed.status_code == 303, signed.text
                page = client.get("/profile")
            self.csrf[who] = csrf_of(page.text)
            self.clients[who] = client
        return self.clients[who]

    def forget(self, who: str) -> None:
        client = self.clients.pop(who, None)
        if client is not None:
            client.close()

    # objects of Acme's
    def api_a(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key_a}"}
        with httpx.Client(base_url=self.base + "/api/v1", headers=headers, timeout=30) as c:
            return c.request(method, path, **kwargs)

    def new_booking(self) -> tuple[str, str]:
        for _ in range(5):
            made = self.api_a("POST", "/bookings", json=self.booking_body(self.slug))
            if made.status_code == 201:
                query = parse_qs(urlsplit(made.json()["manage_url"]).query)
                return made.json()["uid"], query["token"][0]
        raise AssertionError(made.text)

    def booking_body(self, slug: str) -> dict[str, Any]:
        return {
            "meeting_type": slug,
            "start": next(self.slots),
            "name": "Casey",
            "email": "casey@client.test",
            "timezone": "Europe/Paris",
        }

    def new_meeting_type(self) -> int:
        slug = self.stack.meeting_type(
            name=f"Throwaway {next(self.counter)}", location="in_person", location_value="HQ"
        )
        with self.stack.services.sessions() as session:
            return int(session.scalar(select(MeetingType.id).where(MeetingType.slug == slug)))

    def new_key(self) -> int:
        services = self.stack.services
        with services.sessions() as session, session.begin():
            admin = session.get(User, self.stack.users["admin"])
            row, _ = create_api_key(session, admin, f"throwaway {next(self.counter)}")
            return row.id

    def new_subscription(self) -> int:
        services = self.stack.services
        with services.sessions() as session, session.begin():
            sub, _ = platform_webhooks.create_subscription(
                session,
                services.vault,
                organization_id=self.stack.org_id,
                url=f"{HOOK_A}/{next(self.counter)}",
                events=[],
            )
            return sub.id

    def connection_id(self) -> int:
        """Ann's active Zoom connection (connected again after a test disconnected it)."""
        for _ in range(2):
            with self.stack.services.sessions() as session:
                found = session.scalar(
                    select(Connection.id).where(
                        Connection.owner_user_id == self.stack.users["ann"],
                        Connection.status == ConnectionStatus.ACTIVE,
                    )
                )
            if found is not None:
                return int(found)
            asyncio.run(connect_ann(self.stack))
        raise AssertionError("Ann could not connect Zoom")

    def feed_token(self) -> str:
        from meetbridge.notifications import feeds

        with self.stack.services.sessions() as session, session.begin():
            return feeds.rotate_feed_token(session, self.stack.users["ann"])

    def connect_link_token(self) -> str:
        link = issue_link(
            self.stack.services,
            self.stack.org_id,
            user_email="ann@acme.test",
            provider="zoom",
            return_url="https://platform.example/back",
        )
        return link.url.rsplit("/", 1)[1]


async def connect_ann(stack: Stack) -> None:
    browser = await stack.signed_in("ann")
    try:
        await stack.connect(browser, "zoom", ZOOM_LICENSED)
    finally:
        stack.browsers.remove(browser)
        await browser.aclose()


@pytest.fixture(scope="module")
def world(
    web_server: Any, _meetbridge_db_template: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One app and database for the whole matrix (a fresh one per request would take
    minutes): requests that are allowed to change something get objects of their own."""
    from meetbridge.settings import Settings
    from meetbridge.vault import generate_key

    switch, url = web_server
    tmp = tmp_path_factory.mktemp("authz")
    if isinstance(_meetbridge_db_template, database.PostgresDatabase):
        _meetbridge_db_template.truncate()
        db_url = _meetbridge_db_template.url
    else:
        db_url = _meetbridge_db_template.fresh(Path(tmp))
    with pytest.MonkeyPatch.context() as mp:
        for name in ("MEETBRIDGE_CONFIG", "MEETBRIDGE_SECRET_KEYS", "MEETBRIDGE_ENV"):
            mp.delenv(name, raising=False)
        settings = Settings(
            data_dir=Path(tmp) / "data", database_url=db_url, secret_keys=[generate_key()]
        )
        stack = build_stack(switch, url, settings)
    built: World | None = None
    try:
        built = build_world(stack)
        yield built
    finally:
        for who in list(built.clients if built else ()):
            built.forget(who)  # type: ignore[union-attr]
        if switch.loop is not None:
            settle(stack)
            stack.on_server(stack.services.aclose())
        switch.app = None
        stack.services.close()


def build_world(stack: Stack) -> World:
    services = stack.services
    with services.sessions() as session, session.begin():
        acme = session.get(Organization, stack.org_id)
        carol = create_account(session, acme, "carol@acme.test", role=Role.MEMBER)
        carol.password_hash = password_hash()
        globex = get_or_create_organization(session, "Globex")
        boss = create_account(session, globex, ORG_B_ADMIN, role=Role.ADMIN, availability=ALL_WEEK)
        boss.password_hash = password_hash()
        session.flush()
        _, key_b = create_api_key(session, boss, "platform b")
        org_b = globex.id
    slug = stack.meeting_type(location="in_person", location_value="HQ")
    key_a = stack.api_key()
    asyncio.run(connect_ann(stack))
    headers = {"Authorization": f"Bearer {key_a}"}
    with httpx.Client(base_url=stack.base_url + "/api/v1", headers=headers, timeout=30) as c:
        first = datetime.now(UTC) + timedelta(days=1)
        answer = c.get(
            f"/meeting-types/{slug}/slots",
            params={"start": first.isoformat(), "end": (first + timedelta(days=45)).isoformat()},
        )
        slots = [s["start"] for s in answer.json()["slots"]]
    assert len(slots) > 300, answer.text
    world = World(stack=stack, org_b=org_b, key_a=key_a, key_b=key_b, slug=slug, slots=iter(slots))
    world.uid, world.manage_token = world.new_booking()
    with services.sessions() as session:
        world.meeting_type_id = int(
            session.scalar(select(MeetingType.id).where(MeetingType.slug == slug))
        )
        acme_keys = select(ApiKey.id).where(ApiKey.organization_id == stack.org_id)
        world.key_id = int(session.scalars(acme_keys.order_by(ApiKey.id)).first())
    world.subscription_id = world.new_subscription()
    return world


# -- the requests -----------------------------------------------------------------------------
@dataclass
class Call:
    method: str
    path: str
    form: dict[str, Any] | None = None
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def fill(world: World, key: tuple[str, str], rule: Rule, fresh: bool) -> Call:
    """The request for this route: Acme's real ids in the path (new objects when ``fresh``)."""
    method, template = key
    if rule.target:
        return Call("GET", rule.target)
    values: dict[str, Any] = {"provider": "zoom", "slug": world.slug}
    query = ""
    names = set(re.findall(r"{(\w+)}", template))
    if "uid" in names:
        values["uid"], token = world.new_booking() if fresh else (world.uid, world.manage_token)
        if template.startswith("/manage/"):
            query = f"?token={token}" if method == "GET" else ""
            rule_form = {"token": token}
        else:
            rule_form = {}
    else:
        rule_form = {}
    if "meeting_type_id" in names:
        values["meeting_type_id"] = world.new_meeting_type() if fresh else world.meeting_type_id
    if "connection_id" in names:
        values["connection_id"] = world.connection_id()
    if "key_id" in names:
        values["key_id"] = world.new_key() if fresh else world.key_id
    if "subscription_id" in names:
        values["subscription_id"] = world.new_subscription() if fresh else world.subscription_id
    if template == "/connect/link/{token}":
        values["token"] = world.connect_link_token()
    if template == "/feeds/{token}.ics":
        values["token"] = world.feed_token()
    path = re.sub(r"{(\w+)}", lambda m: str(values[m[1]]), template) + query
    if template == "/book/{slug}/details":
        path += f"?start={next(world.slots)}"
    call = Call(method, path)
    if template == "/webhooks/{provider}":
        state = world.stack.sandboxes["zoom"].state
        challenge = {"plainToken": f"challenge-{next(world.counter)}"}
        headers, body = state.signed_webhook("endpoint.url_validation", challenge)
        call.headers, call.content = dict(headers), body
        return call
    if rule.form is None:
        return call
    form = {**rule.form, **rule_form}
    if template == "/book/{slug}":
        form = {"start": next(world.slots), "name": "Casey", "email": "c@client.test"}
    elif template == "/manage/{uid}/reschedule" and method == "POST":
        form["start"] = next(world.slots)
    elif template == "/meeting-types/{meeting_type_id}":
        form["name"] = f"Edited {next(world.counter)}"  # its link comes from the name
    elif template == "/admin/users":
        form = {"email": f"new{next(world.counter)}@example.test", "password": "x" * 16}
    elif template == "/api/v1/bookings":
        form = world.booking_body(world.slug)
    elif template == "/api/v1/bookings/{uid}/reschedule":
        form = {"start": next(world.slots)}
    if template.startswith("/api/"):
        call.json = form
    else:
        call.form = form
    return call


def send(world: World, who: str, call: Call) -> httpx.Response:
    client = world.client(who)
    headers = dict(call.headers)
    if call.form is not None:
        form = {**call.form, "csrf_token": world.csrf[who]}
        if "hosts" in form or call.path.startswith("/meeting-types/"):
            form.setdefault("hosts", who_email(world, who))
        return client.request(call.method, call.path, data=form, headers=headers)
    if call.json is not None:
        return client.request(call.method, call.path, json=call.json, headers=headers)
    if call.content is not None:
        return client.request(call.method, call.path, content=call.content, headers=headers)
    return client.request(call.method, call.path, headers=headers)


def who_email(world: World, who: str) -> str:
    if who == "admin_b":
        return ORG_B_ADMIN
    return world.stack.email(SESSIONS.get(who, "ann"))


def acme_markers(world: World) -> list[str]:
    """What no one outside Acme may read in a listing: its people, bookings, connections."""
    return ["@acme.test", world.uid, ZOOM_LICENSED, HOOK_A]


CASES = [
    pytest.param(key, who, id=f"{key[0]} {key[1]} as {who}")
    for key in sorted(ROUTES)
    for who in PRINCIPALS
]


def test_every_route_is_classified(world: World) -> None:
    served = app_routes(world.stack.app)
    unclassified = sorted(served - set(ROUTES))
    assert not unclassified, f"classify these routes in ROUTES: {unclassified}"
    gone = sorted(set(ROUTES) - served - ANNOUNCED)
    assert not gone, f"these routes are no longer served: {gone}"


@pytest.mark.parametrize(("key", "who"), CASES)
def test_authorization(world: World, key: tuple[str, str], who: str) -> None:
    rule = ROUTES[key]
    if key not in app_routes(world.stack.app):
        pytest.skip(f"{key} is announced but not served yet")
    outcome = expected(rule, who)
    call = fill(world, key, rule, fresh=rule.fresh and outcome == "ok")
    world.client(who)  # signed in before the snapshot: signing in is not the request tested
    settle(world.stack)
    before = table_fingerprint(world.stack.services)
    answer = send(world, who, call)
    label = f"{call.method} {call.path} as {who}: {answer.status_code}"
    location = answer.headers.get("location", "")
    to_login = answer.status_code == 303 and location.startswith("/login?next=")
    assert answer.status_code < 500, f"{label} {answer.text[:300]}"
    if outcome == "ok":
        assert not to_login and answer.status_code not in (401, 403), label
        if rule.ok is not None:
            assert answer.status_code in rule.ok, f"{label} {answer.text[:300]}"
        if who in ("admin_b", "key_b") and rule.policy in (USER, ADMIN, API) and key[0] == "GET":
            for marker in acme_markers(world):
                assert marker not in answer.text, f"{label} shows {marker!r} of Acme"
    else:
        if outcome == "login":
            assert to_login, label
        elif outcome == "unauthorized":
            assert answer.status_code == 401, label
            assert set(answer.json()["error"]) >= {"code", "message"}, label
        elif outcome == "forbidden":
            assert answer.status_code == 403, label
        else:
            assert answer.status_code in rule.hidden, f"{label} {answer.text[:300]}"
            if key[1].startswith("/api/"):
                assert set(answer.json()["error"]) >= {"code", "message"}, label
        settle(world.stack)
        assert table_fingerprint(world.stack.services) == before, f"{label} changed the database"
    if key == ("POST", "/logout"):
        world.forget(who)


def test_metrics_are_for_loopback_only(world: World) -> None:
    """From loopback /metrics answers; relayed by a proxy (no token configured) it does not."""
    if ("GET", "/metrics") not in app_routes(world.stack.app):
        pytest.skip("/metrics is not served yet")
    client = world.client("anonymous")
    assert client.get("/metrics").status_code == 200
    relayed = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert relayed.status_code in (401, 403, 404)


def test_unsigned_provider_webhooks_are_refused_and_store_nothing(world: World) -> None:
    client = world.client("anonymous")
    settle(world.stack)
    before = table_fingerprint(world.stack.services)
    for body in (b"{}", b'{"event": "app_deauthorized", "payload": {}}'):
        answer = client.post("/webhooks/zoom", content=body)
        assert 400 <= answer.status_code < 500
        assert set(answer.json()["error"]) >= {"code", "message"}
    settle(world.stack)
    assert table_fingerprint(world.stack.services) == before


def test_secret_links_need_their_secret(world: World) -> None:
    """The public routes that carry a secret are 404 without it (or with another one)."""
    client = world.client("anonymous")
    settle(world.stack)
    before = table_fingerprint(world.stack.services)
    for path in (
        f"/manage/{world.uid}",
        f"/manage/{world.uid}?token=wrong",
        f"/manage/{world.uid}/booking.ics?token=wrong",
        f"/manage/{world.uid}/reschedule?token=",
        "/feeds/not-a-token.ics",
    ):
        assert client.get(path).status_code == 404, path
    csrf = world.csrf["anonymous"]
    for path in (f"/manage/{world.uid}/cancel", f"/manage/{world.uid}/reschedule"):
        answer = client.post(path, data={"csrf_token": csrf, "token": "wrong"})
        assert answer.status_code == 404, path
    assert client.get("/connect/link/not-a-token").status_code == 400
    assert table_fingerprint(world.stack.services) == before


def test_only_admins_connect_an_account_for_the_organisation(world: World) -> None:
    settle(world.stack)
    before = table_fingerprint(world.stack.services)
    for who in ("owner", "member"):
        answer = world.client(who).get("/connect/zoom?scope=organization")
        assert answer.status_code == 403, who
    assert table_fingerprint(world.stack.services) == before
    answer = world.client("admin").get("/connect/zoom?scope=organization")
    assert answer.status_code == 303 and not answer.headers["location"].startswith("/login")


def test_members_see_only_the_bookings_they_host(world: World) -> None:
    """``?scope=all`` is for admins: a member asking for it still sees only their own."""
    for who, sees in (("member", False), ("owner", True), ("admin", True), ("admin_b", False)):
        page = world.client(who).get("/bookings?scope=all")
        assert page.status_code == 200
        assert (world.uid in page.text) is sees, who
