"""The web application: ``create_app(services)`` builds it.

Pages (Jinja2, server-rendered, a small stylesheet, no JavaScript framework), the REST API
under ``/api/v1`` with its OpenAPI document at ``/api/v1/openapi.json``, the OAuth connect
routes, provider webhooks, ``/healthz``, ``/readyz`` and ``/metrics`` (routes/health.py), and
(``--sandbox``) the provider sandboxes under ``/sandbox/{provider}``. Handlers hold no business
logic: they call the service layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from meetbridge import __version__
from meetbridge.conferencing.connections import ConnectionService
from meetbridge.observability.health import Readiness
from meetbridge.observability.metrics import app_registry
from meetbridge.scheduling.bookings import BookingService
from meetbridge.web import platform_events
from meetbridge.web.api import build_router
from meetbridge.web.context import WebContext
from meetbridge.web.errors import install_error_handlers
from meetbridge.web.login_throttle import LoginThrottle
from meetbridge.web.routes import (
    admin,
    auth,
    connect,
    health,
    host,
    integrations,
    meeting_types,
    profile,
    provider_webhooks,
    public,
)
from meetbridge.web.sandbox import SandboxMount, mount_sandboxes
from meetbridge.web.security import SESSION_COOKIE, AccessLog, SecurityHeaders, session_secret

if TYPE_CHECKING:
    from meetbridge.services import Services

log = logging.getLogger("meetbridge.web")
STATIC = Path(__file__).parent / "static"
SESSION_MAX_AGE = 14 * 24 * 3600


def create_app(
    services: Services,
    *,
    sandboxes: list[SandboxMount] | None = None,
    embedded_worker: bool = False,
) -> FastAPI:
    """The ASGI app over ``services``.

    ``sandboxes`` (from :func:`meetbridge.web.sandbox.build_sandboxes`) are mounted under
    ``/sandbox/``; ``services.settings`` should already point the providers at them.
    ``embedded_worker`` runs a job worker in the app's lifespan (``meetbridge serve``).
    """
    settings = services.settings
    ctx = WebContext(
        services=services,
        connections=ConnectionService(services),
        bookings=BookingService(services, inline_budget=settings.web.inline_budget_seconds),
        sandboxes=list(sandboxes or []),
        login_throttle=LoginThrottle(
            max_failures=settings.web.login_max_failures,
            max_failures_per_ip=settings.web.login_max_failures_per_ip,
            window_seconds=settings.web.login_window_minutes * 60,
        ),
    )
    platform_events.install_event_capture(services.sessions)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = None
        if embedded_worker:
            task = asyncio.create_task(ctx.bookings.worker.run_forever(stop))
            log.info("embedded worker started")
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                with contextlib.suppress(Exception):
                    await task
            await ctx.bookings.worker.wait_background()
            await services.aclose()

    app = FastAPI(
        title="meetbridge",
        version=__version__,
        description="Video meetings on scheduled bookings. Authenticate with an API key"
        ' (Authorization: Bearer mb_...); errors come as {"error": {"code", "message",'
        ' "details"}}.',
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.web = ctx
    app.state.readiness = Readiness(services)
    # Each app has its own registry (this process's metrics + its database's figures), so
    # several apps in one process (tests) never register the same collector twice.
    app.state.metrics_registry = app_registry(services)
    install_error_handlers(app)

    https = settings.base_url.lower().startswith("https://")
    # Order: the last added runs first. Sessions must wrap the routes; headers and the
    # access log wrap everything.
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=https,
    )
    app.add_middleware(SecurityHeaders, https=https)
    app.add_middleware(AccessLog)

    for module in (
        health,
        auth,
        connect,
        integrations,
        meeting_types,
        public,
        host,
        admin,
        profile,
        provider_webhooks,
    ):
        app.include_router(module.router)
    app.include_router(build_router())
    _mount_feeds(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    mount_sandboxes(app, ctx.sandboxes)
    if ctx.sandboxes:
        _sandbox_index(app)
    return app


def _mount_feeds(app: FastAPI) -> None:
    """``/feeds/{token}.ics``: a person's calendar feed, from the notifications layer."""
    try:
        from meetbridge.notifications.feeds import feed_for_token
    except ImportError:
        return

    @app.get("/feeds/{token}.ics", include_in_schema=False)
    async def feed(request: Request, token: str) -> Response:
        from meetbridge.web.context import web

        body = feed_for_token(web(request).services, token)
        if body is None:
            return Response("Unknown calendar feed.", status_code=404, media_type="text/plain")
        return Response(body, media_type="text/calendar; charset=utf-8")


def _sandbox_index(app: FastAPI) -> None:
    @app.get("/sandbox", include_in_schema=False)
    async def sandbox_index(request: Request) -> Response:
        from meetbridge.web.context import web
        from meetbridge.web.templating import render

        return render(request, "sandbox.html", title="Sandboxes", mounts=web(request).sandboxes)
