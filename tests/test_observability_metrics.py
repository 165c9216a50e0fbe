"""Prometheus ``/metrics``: provider calls by outcome and latency, 429s, token refreshes, HTTP
requests, and figures read from the database (bookings, meetings, connections, job queue,
dead letters). Who may read it, and that no label ever holds an email, a token or free text."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import create_engine

from meetbridge.conferencing.credentials import TokenManager
from meetbridge.db import utcnow
from meetbridge.models import Job, JobStatus, MessageStatus, OutboundMessage
from meetbridge.observability import metrics
from meetbridge.observability.metrics import REGISTRY, DatabaseCollector, app_registry, label
from meetbridge.providers import (
    DailyLimitReached,
    GrantRevoked,
    MeetingGone,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
)
from tests.web_support import ZOOM_LICENSED
from tests.world import World

pytest_plugins = ["tests.web_fixtures"]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(stack, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        return await client.get("/metrics", headers=headers)


async def samples_of(stack) -> tuple[Samples, str]:
    answer = await scrape(stack)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return parse(answer.text), answer.text


def process_value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def booking_body(slug: str, start) -> dict:
    return {
        "meeting_type": slug,
        "start": start.isoformat(),
        "name": "Casey",
        "email": "casey@client.test",
        "timezone": "Europe/Paris",
    }


CREATE_OK = {"provider": "zoom", "operation": "create_meeting", "outcome": "ok"}


# -- through the real web app and the Zoom sandbox -------------------------------------------


async def test_a_booking_moves_the_provider_call_counters_and_the_database_figures(
    stack,
) -> None:
    before, _ = await samples_of(stack)
    ann = await stack.signed_in("ann")
    await stack.connect(ann, "zoom", ZOOM_LICENSED)
    slug = stack.meeting_type(location="zoom")
    made = await stack.api().post(
        "/bookings", json=booking_body(slug, await stack.first_slot(slug))
    )
    assert made.status_code == 201 and made.json()["conferencing"]["status"] == "provisioned"
    after, text = await samples_of(stack)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("meetbridge_provider_calls_total", **CREATE_OK) == 1
    assert moved("meetbridge_provider_call_duration_seconds_count", **CREATE_OK) == 1
    assert moved("meetbridge_provider_call_duration_seconds_sum", **CREATE_OK) > 0
    connect_ok = {"provider": "zoom", "operation": "connect", "outcome": "ok"}
    assert moved("meetbridge_provider_calls_total", **connect_ok) == 1
    route = {"method": "POST", "route": "/api/v1/bookings", "status": "201"}
    assert moved("meetbridge_http_requests_total", **route) == 1
    slots = {"method": "GET", "route": "/api/v1/meeting-types/{slug}/slots", "status": "200"}
    assert moved("meetbridge_http_requests_total", **slots) == 1  # the template, not the slug
    # Read from the database at scrape time.
    assert value(after, "meetbridge_database_up") == 1
    assert value(after, "meetbridge_bookings", status="confirmed") == 1
    assert value(after, "meetbridge_bookings", status="cancelled") == 0
    assert value(after, "meetbridge_meetings", provider="zoom", status="provisioned") == 1
    assert value(after, "meetbridge_connections", provider="zoom", status="active") == 1
    assert value(after, "meetbridge_connections", provider="zoom", status="needs_reconnect") == 0
    # No label holds an email, a token or a raw path.
    for secret in (ZOOM_LICENSED, "ann@acme.test", "casey@client.test", slug, "Bearer"):
        assert secret not in text
    assert all("@" not in v for (_, labels) in after for _, v in labels)


async def test_a_429_from_the_provider_moves_rate_limited(stack) -> None:
    ann = await stack.signed_in("ann")
    await stack.connect(ann, "zoom", ZOOM_LICENSED)
    slug = stack.meeting_type(location="zoom")
    limited = {"provider": "zoom", "operation": "create_meeting", "outcome": "rate_limited"}
    calls = process_value("meetbridge_provider_calls_total", **limited)
    throttled = process_value(
        "meetbridge_provider_rate_limited_total", provider="zoom", operation="create_meeting"
    )
    faults = stack.sandboxes["zoom"].state.faults
    faults.fail_next("/v2/users/", "rate_limit_daily", method="POST")
    made = await stack.api().post(
        "/bookings", json=booking_body(slug, await stack.first_slot(slug))
    )
    assert made.status_code == 201 and made.json()["conferencing"]["status"] == "pending"
    assert [kind for kind, _ in faults.fired] == ["rate_limit_daily"]  # a real HTTP 429
    assert process_value("meetbridge_provider_calls_total", **limited) == calls + 1
    assert (
        process_value(
            "meetbridge_provider_rate_limited_total", provider="zoom", operation="create_meeting"
        )
        == throttled + 1
    )
    # The booking waits for the daily reset: queued, not due yet.
    samples, _ = await samples_of(stack)
    job = {"kind": "sync_conferencing"}
    assert value(samples, "meetbridge_job_queue_depth", **job, state="queued") == 1
    assert value(samples, "meetbridge_job_queue_depth", **job, state="ready") == 0
    assert value(samples, "meetbridge_meetings", provider="zoom", status="pending") == 1


async def test_the_scrape_survives_a_database_outage(
    stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = create_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'x.sqlite3'}")
    monkeypatch.setattr(stack.services, "engine", broken)
    samples, text = await samples_of(stack)
    assert value(samples, "meetbridge_database_up") == 0
    assert "meetbridge_bookings" not in text  # no stale or made-up figures
    assert "meetbridge_provider_calls" in text  # this process's metrics are still there
    assert str(tmp_path) not in text


# -- access -----------------------------------------------------------------------------------


async def test_metrics_are_open_to_loopback_only_unless_a_token_is_set(
    stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxied = {"X-Forwarded-For": "203.0.113.7"}  # what a reverse proxy on this box adds
    assert (await scrape(stack)).status_code == 200
    assert (await scrape(stack, **proxied)).status_code == 404

    web_settings = stack.services.settings.web
    monkeypatch.setattr(web_settings, "metrics_token", SecretStr("s3cret-scrape-token"))
    refused = await scrape(stack, **proxied)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = await scrape(stack, **proxied, Authorization="Bearer not-it")
    assert wrong.status_code == 401
    allowed = await scrape(stack, **proxied, Authorization="Bearer s3cret-scrape-token")
    assert allowed.status_code == 200 and "meetbridge_database_up" in allowed.text
    assert (await scrape(stack)).status_code == 200  # loopback still needs no token

    monkeypatch.setattr(web_settings, "metrics_enabled", False)
    assert (await scrape(stack)).status_code == 404
    assert (await scrape(stack, Authorization="Bearer s3cret-scrape-token")).status_code == 404


# -- token refreshes (fake providers) --------------------------------------------------------


def refreshes(outcome: str) -> float:
    return process_value("meetbridge_token_refreshes_total", provider="zoom", outcome=outcome)


async def test_token_refreshes_are_counted_by_outcome(world: World) -> None:
    fake = world.fakes["zoom"]
    fake.expires_in = 10  # inside the refresh margin: the next use refreshes
    conn = await world.connect("ann", "zoom")
    ok, skipped = refreshes("ok"), refreshes("skipped")
    calls = process_value(
        "meetbridge_provider_calls_total",
        provider="zoom",
        operation="refresh_credentials",
        outcome="ok",
    )
    fake.refresh_delay = 0.05
    fake.expires_in = 3600
    manager = TokenManager(world.services)
    await asyncio.gather(manager.access_token(conn.id), manager.access_token(conn.id))
    assert fake.refresh_calls == 1
    assert refreshes("ok") == ok + 1
    assert refreshes("skipped") == skipped + 1  # the second waited and found a fresh token
    assert (
        process_value(
            "meetbridge_provider_calls_total",
            provider="zoom",
            operation="refresh_credentials",
            outcome="ok",
        )
        == calls + 1
    )


async def test_a_booking_whose_refresh_finds_a_dead_grant_counts_auth_error(
    world: World,
) -> None:
    fake = world.fakes["zoom"]
    fake.expires_in = 10
    await world.connect("ann", "zoom")
    await world.connect("ann", "google_meet")
    fake.dead_grant = True
    dead = refreshes("auth_error")
    result = await world.book(world.meeting_type(location="zoom"))
    assert refreshes("auth_error") == dead + 1
    assert result.conferencing == "provisioned"  # fell back to Google Meet


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (RateLimited("429", ambiguous=True), "rate_limited"),
        (DailyLimitReached("100 a day", resets_at=utcnow()), "rate_limited"),
        (GrantRevoked("invalid_grant"), "auth_error"),
        (MeetingGone("3001"), "gone"),
        (ProviderError("bad request"), "provider_error"),
        (ProviderUnavailable("502"), "unavailable"),
        (ProviderUnavailable("read timeout", ambiguous=True), "ambiguous"),
        (ValueError("bug"), "error"),
        (asyncio.CancelledError(), "cancelled"),
    ],
)
def test_outcomes_of_errors(error: BaseException, outcome: str) -> None:
    assert metrics.outcome_of(error) == outcome


def test_label_values_are_short_identifiers_only() -> None:
    assert label("google_meet") == "google_meet"
    assert label("ann@acme.test") == "other"
    assert label("Bearer abc") == "other"
    assert label("x" * 65) == "other"
    assert label(None) == "none"


# -- the job queue and dead letters, from the database ---------------------------------------


def collect(services) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(services))
    return registry


def test_queue_depth_and_dead_letters_reflect_the_jobs_table(meetbridge_services) -> None:
    now = utcnow()
    sync = "sync_conferencing"
    rows = [
        Job(kind=sync, payload={}, status=JobStatus.QUEUED, run_at=now - timedelta(minutes=5)),
        Job(kind=sync, payload={}, status=JobStatus.QUEUED, run_at=now - timedelta(seconds=1)),
        Job(kind=sync, payload={}, status=JobStatus.QUEUED, run_at=now + timedelta(hours=1)),
        Job(kind="deliver_message", payload={}, status=JobStatus.QUEUED, run_at=now),
        Job(kind=sync, payload={}, status=JobStatus.RUNNING, run_at=now, locked_at=now),
        Job(kind=sync, payload={}, status=JobStatus.DEAD, run_at=now),
        Job(kind=sync, payload={}, status=JobStatus.DEAD, run_at=now),
        Job(kind=sync, payload={}, status=JobStatus.DONE, run_at=now),
        OutboundMessage(
            channel="email",
            kind="booking_confirmed",
            recipient="x@y.test",
            status=MessageStatus.DEAD,
        ),
        OutboundMessage(channel="webhook", kind="conferencing.failed", recipient="https://p.test"),
    ]
    with meetbridge_services.sessions() as session, session.begin():
        session.add_all(rows)
    registry = collect(meetbridge_services)

    def depth(kind: str, state: str) -> float | None:
        return registry.get_sample_value(
            "meetbridge_job_queue_depth", {"kind": kind, "state": state}
        )

    assert depth(sync, "queued") == 3 and depth(sync, "ready") == 2 and depth(sync, "running") == 1
    assert depth("deliver_message", "queued") == 1 and depth("deliver_message", "ready") == 1
    dead = "meetbridge_dead_letters"
    assert registry.get_sample_value(dead, {"queue": "jobs", "kind": sync}) == 2
    assert registry.get_sample_value(dead, {"queue": "outbox", "kind": "email"}) == 1
    assert registry.get_sample_value(dead, {"queue": "outbox", "kind": "webhook"}) is None
    oldest = registry.get_sample_value("meetbridge_job_oldest_ready_seconds")
    assert 290 < oldest < 400
    assert registry.get_sample_value("meetbridge_database_up") == 1


def test_an_empty_database_gives_zeros_not_gaps(meetbridge_services) -> None:
    registry = collect(meetbridge_services)
    assert registry.get_sample_value("meetbridge_bookings", {"status": "confirmed"}) == 0
    queued = {"kind": "sync_conferencing", "state": "queued"}
    assert registry.get_sample_value("meetbridge_job_queue_depth", queued) == 0
    dead = {"queue": "jobs", "kind": "sync_conferencing"}
    assert registry.get_sample_value("meetbridge_dead_letters", dead) == 0
    assert registry.get_sample_value("meetbridge_job_oldest_ready_seconds") == 0


def test_each_app_has_its_own_registry(meetbridge_services) -> None:
    first, second = app_registry(meetbridge_services), app_registry(meetbridge_services)
    assert first is not second
    text = metrics.render(first).decode()
    assert "meetbridge_database_up 1.0" in text and "process_cpu_seconds_total" in text
    assert metrics.render(second)  # no duplicate-registration error


def test_a_worker_can_serve_its_own_metrics() -> None:
    from meetbridge.testing.server import free_port

    port = free_port()
    server = metrics.serve_process_metrics(port)
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert answer.status_code == 200
    assert "# TYPE meetbridge_provider_calls_total counter" in answer.text
    assert "meetbridge_database_up" not in answer.text  # database figures: serve's only
