"""The REST API for platforms, under ``/api/v1``: API keys, one JSON error shape, OpenAPI."""

from __future__ import annotations

from urllib.parse import unquote

from fastapi import APIRouter, Depends, Request

from meetbridge.web.api import bookings, connections, meeting_types, subscriptions
from meetbridge.web.api.schemas import NUL_MESSAGE
from meetbridge.web.errors import ApiError

PREFIX = "/api/v1"


def reject_nul(request: Request) -> None:
    """No path or query value may carry a NUL character: no database stores or compares them
    (PostgreSQL refuses the query), so they are refused as invalid, never looked up."""
    details = [
        {"field": name, "message": NUL_MESSAGE}
        for name, value in request.query_params.multi_items()
        if "\x00" in name or "\x00" in value
    ]
    if "\x00" in unquote(request.url.path):
        details.insert(0, {"field": "path", "message": NUL_MESSAGE})
    if details:
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        raise ApiError(422, "invalid_request", f"The request is not valid: {summary}", details)


def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, dependencies=[Depends(reject_nul)])
    for module in (meeting_types, bookings, connections, subscriptions):
        router.include_router(module.router)
    return router
