"""Operational endpoints: ``/healthz`` (liveness), ``/readyz`` (readiness), ``/metrics``.

``/healthz`` touches nothing outside the process, so a database outage never makes an
orchestrator restart every web process. ``/readyz`` says whether this process can serve
traffic (database, schema at the migration head, encryption key). ``/metrics`` is the
Prometheus text format; who may read it is decided by :func:`metrics_allowed`.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from meetbridge import __version__
from meetbridge.observability import metrics
from meetbridge.observability.health import Readiness, readiness_body
from meetbridge.web.context import web

router = APIRouter(include_in_schema=False)

# A request that went through a proxy is not local, whatever address the proxy connects from.
_FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


@router.get("/healthz")
async def healthz(request: Request) -> Response:
    """Liveness: the process answers. Cheap: no database, no network."""
    services = web(request).services
    return JSONResponse(
        {"status": "ok", "version": __version__, "providers": sorted(services.plugins.providers())}
    )


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    """Readiness: 200 when the database answers at the migration head and the encryption key
    works; else 503 naming each failing check."""
    readiness: Readiness = request.app.state.readiness
    body, status = readiness_body(await readiness.run())
    return JSONResponse(body, status_code=status)


def is_local(request: Request) -> bool:
    """From this machine's loopback, and not relayed by a proxy."""
    if any(name in request.headers for name in _FORWARDING_HEADERS):
        return False
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def metrics_allowed(request: Request) -> Response | None:
    """None when the request may read ``/metrics``, else the answer to give it.

    Loopback clients always may (a Prometheus agent on the same machine). Anyone else needs
    ``Authorization: Bearer <MEETBRIDGE_WEB__METRICS_TOKEN>``; with no token configured the
    endpoint does not exist for them (404). ``MEETBRIDGE_WEB__METRICS_ENABLED=false``: 404
    for everyone.
    """
    settings = web(request).services.settings.web
    not_found = Response("Not Found", status_code=404, media_type="text/plain")
    if not settings.metrics_enabled:
        return not_found
    expected = settings.metrics_token.get_secret_value()
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    if (
        expected
        and scheme.lower() == "bearer"
        and hmac.compare_digest(sent.strip().encode(), expected.encode())
    ):
        return None
    if is_local(request):
        return None
    if expected:
        return Response(
            "A bearer token is required.",
            status_code=401,
            media_type="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return not_found


@router.get("/metrics")
async def prometheus_metrics(request: Request) -> Response:
    denied = metrics_allowed(request)
    if denied is not None:
        return denied
    # The app's own registry (metrics.app_registry); the database collector in it queries
    # synchronously, so the scrape runs off the event loop.
    body = await run_in_threadpool(metrics.render, request.app.state.metrics_registry)
    return Response(body, media_type=metrics.CONTENT_TYPE)
