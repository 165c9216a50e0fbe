"""The web application (pages, REST API, OAuth callbacks, provider webhooks).

``create_app(services)`` builds the ASGI app; ``meetbridge serve`` runs it with uvicorn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI


def create_app(services: Any, **options: Any) -> FastAPI:
    """See :func:`meetbridge.web.app.create_app`."""
    from meetbridge.web.app import create_app as build

    return build(services, **options)
