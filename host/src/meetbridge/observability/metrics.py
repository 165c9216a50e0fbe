"""Prometheus metrics: what this process did, and what the database holds.

Two kinds, exposed together on ``/metrics`` (see :func:`app_registry`):

* In-process counters and histograms in :data:`REGISTRY` (one per process): provider calls by
  provider, operation (the hook) and outcome, their latency, 429s, token refreshes, HTTP
  requests. Every ``serve`` and ``worker`` process counts its own; Prometheus sums them.
* Database figures read at scrape time by :class:`DatabaseCollector` (bookings, meetings,
  connections by status, the job queue, dead letters), so they are right however many
  processes share the database.

Label values are provider names, hook names, statuses and kinds chosen by code, checked by
:func:`label` against a small charset: never an email, a token or free text.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from meetbridge.providers import (
    GrantRevoked,
    InsufficientScope,
    MeetingGone,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    WrongCredential,
)

if TYPE_CHECKING:
    from meetbridge.services import Services

log = logging.getLogger("meetbridge.metrics")

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LABEL = re.compile(r"^[a-z0-9_.\-]{1,64}$")


def label(value: object) -> str:
    """A safe label value: a short lowercase identifier, else ``other`` (``none`` for None)."""
    if value is None or value == "":
        return "none"
    text = str(value).lower()
    return text if _LABEL.match(text) else "other"


# -- in-process metrics ----------------------------------------------------------------------

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)  # process_cpu_seconds_total, process_resident_memory_bytes
PlatformCollector(registry=REGISTRY)  # python_info
GCCollector(registry=REGISTRY)

OUTCOMES = (
    "ok",
    "rate_limited",
    "auth_error",
    "gone",
    "unavailable",
    "ambiguous",
    "provider_error",
    "error",
    "cancelled",
)

PROVIDER_CALLS = Counter(
    "meetbridge_provider_calls",
    "Calls the host made to a provider plugin's hook, by outcome.",
    ("provider", "operation", "outcome"),
    registry=REGISTRY,
)
PROVIDER_CALL_SECONDS = Histogram(
    "meetbridge_provider_call_duration_seconds",
    "How long a provider hook call took (including retries the plugin made inside it).",
    ("provider", "operation", "outcome"),
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "meetbridge_provider_rate_limited",
    "Provider calls refused for a rate or daily limit (HTTP 429 and the like).",
    ("provider", "operation"),
    registry=REGISTRY,
)
TOKEN_REFRESHES = Counter(
    "meetbridge_token_refreshes",
    "Token refreshes by outcome (skipped: another task or process had just refreshed).",
    ("provider", "outcome"),
    registry=REGISTRY,
)
HTTP_REQUESTS = Counter(
    "meetbridge_http_requests",
    "HTTP requests answered, by route template and status code.",
    ("method", "route", "status"),
    registry=REGISTRY,
)
HTTP_REQUEST_SECONDS = Histogram(
    "meetbridge_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ("method", "route"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)


def outcome_of(exc: BaseException) -> str:
    """The ``outcome`` label of a provider call that raised ``exc``."""
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    if isinstance(exc, RateLimited):
        return "rate_limited"
    if isinstance(exc, ProviderError):
        if exc.ambiguous:
            return "ambiguous"
        if isinstance(exc, GrantRevoked | InsufficientScope | WrongCredential):
            return "auth_error"
        if isinstance(exc, MeetingGone):
            return "gone"
        if isinstance(exc, ProviderUnavailable):
            return "unavailable"
        return "provider_error"
    return "error"


def observe_provider_call(provider: str, operation: str, outcome: str, seconds: float) -> None:
    labels = (label(provider), label(operation), label(outcome))
    PROVIDER_CALLS.labels(*labels).inc()
    PROVIDER_CALL_SECONDS.labels(*labels).observe(seconds)
    if outcome == "rate_limited":
        RATE_LIMITED.labels(labels[0], labels[1]).inc()


class RefreshOutcome:
    """Set :attr:`outcome` to record something else than what the exit implies."""

    outcome: str | None = None


@contextmanager
def track_refresh(provider: str) -> Iterator[RefreshOutcome]:
    """Count one token refresh of ``provider``: ``ok`` on a normal exit, else the exception's
    outcome (:func:`outcome_of`), unless the block set one."""
    tracked = RefreshOutcome()
    try:
        yield tracked
    except BaseException as exc:
        TOKEN_REFRESHES.labels(label(provider), tracked.outcome or outcome_of(exc)).inc()
        raise
    TOKEN_REFRESHES.labels(label(provider), tracked.outcome or "ok").inc()


def refresh_skipped(provider: str) -> None:
    TOKEN_REFRESHES.labels(label(provider), "skipped").inc()


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


_ROUTER_PREFIX = re.compile(r"^(/[a-z0-9_.\-]{1,32}){1,4}$")


def route_of(scope: dict[str, Any]) -> str:
    """The route template that answered (``/book/{slug}``), never the raw path."""
    path: str = scope.get("path", "")
    for prefix in ("/sandbox/", "/static/", "/feeds/"):
        if path.startswith(prefix):
            return prefix.rstrip("/")
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str) or len(template) > 200:
        return "unmatched"
    regex = getattr(route, "path_regex", None)
    if regex is None or regex.match(path) or ":path}" in template:
        return template
    # A route of a router included with a prefix (the REST API's /api/v1) may be reported as
    # declared, without it: put back the leading segments the template does not cover.
    segments = template.count("/")
    prefix = "/".join(path.split("/")[:-segments]) if segments else ""
    return prefix + template if _ROUTER_PREFIX.match(prefix) else template


def observe_http(scope: dict[str, Any], status: int, seconds: float) -> None:
    method = scope.get("method", "")
    method = method if method in _METHODS else "other"
    route = route_of(scope)
    HTTP_REQUESTS.labels(method, route, str(int(status))).inc()
    HTTP_REQUEST_SECONDS.labels(method, route).observe(seconds)


# -- database figures ------------------------------------------------------------------------


class DatabaseCollector(Collector):
    """Figures read from the database at each scrape: a handful of grouped ``COUNT``s.

    A database that does not answer gives ``meetbridge_database_up 0`` and no other figure
    from here, never a failed scrape.
    """

    def __init__(self, services: Services, *, statement_timeout_ms: int = 5000) -> None:
        self.services = services
        self.statement_timeout_ms = statement_timeout_ms

    def describe(self) -> Iterable[Metric]:
        return []  # keeps the registry from querying the database when this is registered

    def _now(self) -> datetime:
        from meetbridge.db import utcnow

        clock = self.services.clock
        return clock() if clock is not None else utcnow()

    def collect(self) -> Iterable[Metric]:
        started = time.perf_counter()
        up = GaugeMetricFamily(
            "meetbridge_database_up", "1 when the database answered this scrape's queries."
        )
        try:
            families = self._query()
        except Exception as exc:
            log.warning("metrics: the database did not answer: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families
        took = GaugeMetricFamily(
            "meetbridge_database_scrape_duration_seconds",
            "How long the database queries of this scrape took.",
        )
        took.add_metric([], time.perf_counter() - started)
        yield took

    def _query(self) -> list[Metric]:
        from sqlalchemy import func, select, text

        from meetbridge.models import (
            Booking,
            BookingStatus,
            Connection,
            ConnectionStatus,
            Job,
            JobStatus,
            Meeting,
            MessageStatus,
            OutboundMessage,
        )

        engine = self.services.engine
        assert engine is not None
        now = self._now()
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                # A scrape must not queue up behind a slow database.
                timeout = int(self.statement_timeout_ms)
                conn.execute(text(f"SET LOCAL statement_timeout = {timeout}"))
            bookings = conn.execute(
                select(Booking.status, func.count()).group_by(Booking.status)
            ).all()
            meetings = conn.execute(
                select(Meeting.provider, Meeting.status, func.count()).group_by(
                    Meeting.provider, Meeting.status
                )
            ).all()
            connections = conn.execute(
                select(Connection.provider, Connection.status, func.count()).group_by(
                    Connection.provider, Connection.status
                )
            ).all()
            waiting = conn.execute(
                select(Job.kind, Job.status, func.count())
                .where(Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.DEAD]))
                .group_by(Job.kind, Job.status)
            ).all()
            ready = conn.execute(
                select(Job.kind, func.count(), func.min(Job.run_at))
                .where(Job.status == JobStatus.QUEUED, Job.run_at <= now)
                .group_by(Job.kind)
            ).all()
            dead_messages = conn.execute(
                select(OutboundMessage.channel, func.count())
                .where(OutboundMessage.status == MessageStatus.DEAD)
                .group_by(OutboundMessage.channel)
            ).all()

        booking_family = GaugeMetricFamily(
            "meetbridge_bookings", "Bookings in the database, by status.", labels=["status"]
        )
        counts = {str(s): 0 for s in BookingStatus} | {str(s): n for s, n in bookings}
        for status, n in sorted(_relabel(counts.items())):
            booking_family.add_metric([status], n)

        meeting_family = GaugeMetricFamily(
            "meetbridge_meetings",
            "Conferencing meetings in the database, by provider and status.",
            labels=["provider", "status"],
        )
        for (provider, status), n in _summed(((p, s), n) for p, s, n in meetings):
            meeting_family.add_metric([provider, status], n)

        connection_family = GaugeMetricFamily(
            "meetbridge_connections",
            "Provider connections, by provider and status (needs_reconnect: someone must act).",
            labels=["provider", "status"],
        )
        seen = {(label(p), str(s)) for p, _, _ in connections for s in ConnectionStatus}
        zeros = {key: 0 for key in seen}
        totals = dict(_summed(((p, s), n) for p, s, n in connections))
        for key, n in sorted((zeros | totals).items()):
            connection_family.add_metric(list(key), n)

        depth = GaugeMetricFamily(
            "meetbridge_job_queue_depth",
            "Jobs waiting or running, by kind and state (queued: all waiting, ready: due now,"
            " a part of queued; running: claimed by a worker).",
            labels=["kind", "state"],
        )
        dead = GaugeMetricFamily(
            "meetbridge_dead_letters",
            "Work given up on after its last attempt: dead jobs (by kind) and dead outbound"
            " messages (by channel). Retry jobs with `meetbridge jobs retry`.",
            labels=["queue", "kind"],
        )
        states = {(k, s): 0 for s in ("queued", "ready", "running") for k in ("sync_conferencing",)}
        dead_counts: dict[tuple[str, str], int] = {("jobs", "sync_conferencing"): 0}
        for kind, status, n in waiting:
            if status == JobStatus.DEAD:
                dead_counts[("jobs", label(kind))] = dead_counts.get(("jobs", label(kind)), 0) + n
            else:
                states[(label(kind), str(status))] = states.get((label(kind), str(status)), 0) + n
        oldest: datetime | None = None
        for kind, n, first in ready:
            states[(label(kind), "ready")] = states.get((label(kind), "ready"), 0) + n
            if first is not None and (oldest is None or first < oldest):
                oldest = first
        for key, n in sorted(states.items()):
            depth.add_metric(list(key), n)
        for channel, n in dead_messages:
            key = ("outbox", label(channel))
            dead_counts[key] = dead_counts.get(key, 0) + n
        for key, n in sorted(dead_counts.items()):
            dead.add_metric(list(key), n)

        age = GaugeMetricFamily(
            "meetbridge_job_oldest_ready_seconds",
            "How long the oldest due job has been waiting (0: none). Growing: no worker runs.",
        )
        age.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        return [booking_family, meeting_family, connection_family, depth, dead, age]


def _relabel(items: Iterable[tuple[str, int]]) -> Iterator[tuple[str, int]]:
    totals: dict[str, int] = {}
    for key, n in items:
        totals[label(key)] = totals.get(label(key), 0) + n
    yield from totals.items()


def _summed(items: Iterable[tuple[tuple[Any, Any], int]]) -> list[tuple[tuple[str, str], int]]:
    totals: dict[tuple[str, str], int] = {}
    for (a, b), n in items:
        key = (label(a), label(b))
        totals[key] = totals.get(key, 0) + n
    return sorted(totals.items())


# -- exposition ------------------------------------------------------------------------------


class _Forward(Collector):
    """Exposes another registry's metrics through this one (the process-wide metrics)."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        return self.source.collect()


def app_registry(services: Services) -> CollectorRegistry:
    """The registry one web app exposes: this process's metrics plus the database's."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Forward(REGISTRY))
    registry.register(DatabaseCollector(services))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The text exposition format (``Content-Type``: :data:`CONTENT_TYPE`)."""
    return generate_latest(registry)


def serve_process_metrics(port: int, host: str = "127.0.0.1") -> Any:
    """Serve this process's metrics on ``http://host:port/metrics`` from a daemon thread
    (``meetbridge worker --metrics-port``: a worker has no web app to expose them). Returns
    the server; ``.shutdown()`` stops it."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=host, registry=REGISTRY)
    return server
