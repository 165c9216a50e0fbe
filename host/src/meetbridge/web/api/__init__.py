"""The REST API for platforms, under ``/api/v1``: API keys, one JSON error shape, OpenAPI."""

from __future__ import annotations

from fastapi import APIRouter

from meetbridge.web.api import bookings, connections, meeting_types, subscriptions

PREFIX = "/api/v1"


def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    for module in (meeting_types, bookings, connections, subscriptions):
        router.include_router(module.router)
    return router
