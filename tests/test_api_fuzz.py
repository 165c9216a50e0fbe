"""Schemathesis against the served OpenAPI document, with a valid API key.

The real app runs on a real uvicorn server (the session's, see :mod:`tests.web_support`), seeded
with meeting types, a Zoom connection, a booking and a webhook subscription. Every operation of
``/api/v1/openapi.json`` is driven with a fixed, deterministic budget (derandomized, no example
database), and every answer must:

* never be a 5xx (``not_a_server_error``);
* conform to the document: documented status code, content type, headers and body schema;
* when it is a 4xx, have the one error shape ``{"error": {"code", "message", "details"?}}``;
* when it is a 4xx, have stored nothing: a fingerprint of every table's content is the same
  after the request as before (``api_keys.last_used_at`` aside: it records the key was used).

Each operation gets schemathesis's own test (its deterministic coverage phase: boundary and
malformed values, missing auth, unexpected methods; then its fuzzing phase, positive and
negative, ``MAX_EXAMPLES`` cases, derandomized), then ``GOOD_EXAMPLES`` positive cases built on
real ids of the organisation and known-good bodies (with a field now and then replaced by any
value of its type), so success paths (creating, rescheduling, cancelling) are reached too: each
operation must have answered 2xx at least once.

The tests are built with schemathesis's Python API rather than ``schema.parametrize()``: its
pytest integration (4.32) does not work with pytest 9 (it sets ``node._nodeid``), and the
schema can only be loaded once the server runs. The operations are collected from the API
router alone, and ``test_every_served_operation_is_fuzzed`` checks they are the served ones.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.pytest._test_builder import build_operation_test
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from meetbridge.web.platform_webhooks import EVENTS
from tests.web_support import ZOOM_LICENSED, Stack, settle, table_fingerprint

pytest_plugins = ["tests.web_fixtures"]

MAX_EXAMPLES = 25
GOOD_EXAMPLES = 15
SEED = 20261121
API = "/api/v1"
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def fingerprint(stack: Stack) -> str:
    return table_fingerprint(stack.services)


class Target:
    """What the fuzzer works on: the stack, the key, real ids and known-good bodies."""

    def __init__(self, stack: Stack, key: str) -> None:
        self.stack = stack
        self.key = key
        self.real: dict[str, list[Any]] = {}
        self.slots: list[str] = []
        self.hosts = ["ann@acme.test"]


@pytest.fixture
async def fuzz_target(stack: Stack) -> Target:
    slug = stack.meeting_type(location="in_person", location_value="HQ")
    video = stack.meeting_type(name="Video call", location="zoom")
    ann = await stack.signed_in("ann")
    await stack.connect(ann, "zoom", ZOOM_LICENSED)
    key = stack.api_key()
    api = stack.api(key)
    slots = (await api.get(f"/meeting-types/{slug}/slots")).json()["slots"]
    assert len(slots) > 20
    booked = await api.post(
        "/bookings",
        json={
            "meeting_type": video,
            "start": slots[0]["start"],
            "name": "Casey",
            "email": "casey@client.test",
            "timezone": "Europe/Paris",
        },
    )
    assert booked.status_code == 201, booked.text
    hook = await api.post(
        "/webhook-subscriptions", json={"url": "https://platform.example/hooks", "events": []}
    )
    assert hook.status_code == 201, hook.text
    connections = (await api.get("/connections")).json()
    assert connections
    settle(stack)
    target = Target(stack, key)
    target.real = {
        "uid": [booked.json()["uid"]],
        "slug": [slug, video],
        "connection_id": [c["id"] for c in connections],
        "subscription_id": [hook.json()["id"]],
    }
    target.slots = [s["start"] for s in slots[1:]]
    return target


def _or_any(good: list[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a good value, sometimes anything of the right type (NULs, huge numbers...)."""
    return st.one_of(st.sampled_from(good), other)


def _good_body(target: Target, method: str, path: str) -> st.SearchStrategy[Any] | None:
    """Request bodies the app accepts (or refuses for a business reason: a taken slot...),
    with a field now and then replaced by any value of its type."""
    if method != "POST":
        return None
    if path == "/bookings":
        return st.builds(
            lambda slug, start, video, name, notes: {
                "meeting_type": slug,
                "start": start,
                "name": name,
                "email": "casey@client.test",
                "timezone": "Europe/Paris",
                "notes": notes,
                **({"video": video} if video is not None else {}),
            },
            st.sampled_from(target.real["slug"]),
            st.sampled_from(target.slots),
            st.sampled_from([None, True, False]),
            _or_any(["Casey Client", "Zoë d'Arc"], st.text(max_size=250)),
            _or_any([""], st.text()),
        )
    if path == "/bookings/{uid}/reschedule":
        return st.sampled_from(target.slots).map(lambda start: {"start": start})
    if path == "/bookings/{uid}/cancel":
        return st.sampled_from([{}, {"reason": "Plans changed"}])
    if path == "/meeting-types":
        return st.builds(
            lambda name, location, duration, buffer, notice, slug: {
                "name": name,
                "duration_minutes": duration,
                "hosts": target.hosts,
                "location": location,
                "buffer_minutes": buffer,
                "min_notice_minutes": notice,
                "slug": slug,
            },
            _or_any(["Demo", "Tutor intro", "Ünïcode ✓"], st.text(max_size=250)),
            st.sampled_from(["zoom", "in_person", "host_default_video", "phone"]),
            _or_any([15, 30, 45, 60], st.integers()),
            _or_any([0, 10], st.integers()),
            _or_any([0, 60], st.integers()),
            _or_any([""], st.text(max_size=120)),
        )
    if path == "/connect-links":
        return st.builds(
            lambda who, provider, level, back: {
                "user_email": who,
                "provider": provider,
                "return_url": back,
                "account_level": level,
            },
            st.sampled_from(["ann@acme.test", "admin@acme.test", "nobody@acme.test"]),
            st.sampled_from(["zoom", "google_meet", "teams", "jitsi", "nope"]),
            st.booleans(),
            _or_any(["https://platform.example/connected"], st.text()),
        )
    if path == "/webhook-subscriptions":
        return st.builds(
            lambda url, events, description: {
                "url": url,
                "events": events,
                "description": description,
            },
            _or_any(["https://platform.example/hooks", "http://localhost:9/x"], st.text()),
            st.lists(st.sampled_from(EVENTS), max_size=2),
            _or_any(["", "CRM"], st.text(max_size=250)),
        )
    return None


def known_good(target: Target, operation: Any, auth: dict[str, str]) -> Any:
    """Positive cases built on real ids of the organisation and known-good bodies and queries,
    so the fuzzer reaches the success paths (and their conflicts), not only validation."""
    path = operation.path.removeprefix(API)
    names = {p.name for p in operation.path_parameters}
    parts: dict[str, st.SearchStrategy[Any]] = {}
    if names:
        parts["path_parameters"] = st.fixed_dictionaries(
            {name: st.sampled_from(target.real[name]) for name in names}
        )
    body = _good_body(target, operation.method.upper(), path)
    if body is not None:
        parts["body"] = body
    if path.endswith("/slots"):
        parts["query"] = st.fixed_dictionaries({}, optional={"timezone": st.sampled_from(ZONES)})
    return st.fixed_dictionaries(parts).flatmap(
        lambda given: operation.as_strategy(GenerationMode.POSITIVE, headers=auth, **given)
    )


def load_schema(target: Target) -> Any:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "suppress-health-check": ["all"],
            "headers": {"Authorization": f"Bearer {target.key}"},
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
        }
    )
    schema = schemathesis.openapi.from_url(
        f"{target.stack.base_url}/api/v1/openapi.json", config=config
    )
    return schema


def documented_operations() -> list[str]:
    """The API's operations, from its router alone (no server needed to collect the tests)."""
    from fastapi import FastAPI

    from meetbridge.web.api import build_router

    app = FastAPI(openapi_url="/api/v1/openapi.json")
    app.include_router(build_router())
    return sorted(
        f"{method.upper()} {path}"
        for path, item in app.openapi()["paths"].items()
        for method in item
    )


OPERATIONS = documented_operations()


def error_shape(response: Any) -> str | None:
    """What is wrong with a 4xx body, or None when it has the one error shape."""
    try:
        doc = response.json()
    except ValueError:
        return "not JSON"
    if not isinstance(doc, dict) or set(doc) != {"error"} or not isinstance(doc["error"], dict):
        return f"not {{'error': {{...}}}}: {doc!r}"
    error = doc["error"]
    if not set(error) <= {"code", "message", "details"}:
        return f"unexpected keys {sorted(set(error) - {'code', 'message', 'details'})}"
    if not isinstance(error.get("code"), str) or not error["code"]:
        return "no code"
    if not isinstance(error.get("message"), str) or not error["message"]:
        return "no message"
    if "details" in error and not isinstance(error["details"], list):
        return "details is not a list"
    return None


def run_case(target: Target, case: Any, session: requests.Session) -> int:
    stack = target.stack
    settle(stack)
    before = fingerprint(stack)
    response = case.call(session=session, timeout=30)
    if 400 <= response.status_code < 500:
        problem = error_shape(response)
        assert problem is None, (
            f"{case.method} {case.formatted_path} -> {response.status_code}: {problem}"
        )
        settle(stack)
        assert fingerprint(stack) == before, (
            f"{case.method} {case.formatted_path} was rejected ({response.status_code})"
            " but changed the database"
        )
    case.validate_response(response, checks=CHECKS)
    return response.status_code


async def test_every_served_operation_is_fuzzed(fuzz_target: Target) -> None:
    schema = load_schema(fuzz_target)
    served = sorted(
        result.ok().label for result in schema.get_all_operations() if isinstance(result, Ok)
    )
    assert served == OPERATIONS


@pytest.mark.parametrize("label", OPERATIONS)
def test_api_fuzz(label: str, fuzz_target: Target) -> None:
    schema = load_schema(fuzz_target)
    method, path = label.split(" ", 1)
    operation = schema[path.removeprefix(schema.base_path.rstrip("/"))][method]
    auth = {"Authorization": f"Bearer {fuzz_target.key}"}
    session = requests.Session()
    seen: Counter[int] = Counter()

    def check(case: Any) -> None:
        seen[run_case(fuzz_target, case, session)] += 1

    # Schemathesis's own test for the operation: its coverage phase (boundary and malformed
    # values, deterministic) and its fuzzing phase, positive and negative, on the config above.
    generated = build_operation_test(
        config=schema.config,
        operation=operation,
        test_func=check,
        given_kwargs={},
        feedback=FeedbackSources(),
    )

    @settings(
        max_examples=GOOD_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        print_blob=False,
    )
    @given(case=known_good(fuzz_target, operation, auth))
    def good(case: Any) -> None:
        check(case)

    try:
        generated()
        good()
    finally:
        session.close()
    # The known-good values make the fuzzer reach success paths, not only validation errors.
    assert any(200 <= status < 300 for status in seen), f"{label}: only {dict(seen)}"
