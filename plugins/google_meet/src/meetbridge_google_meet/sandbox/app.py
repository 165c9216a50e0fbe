"""The sandbox's ASGI app: Google's OAuth endpoints and the Calendar API in one FastAPI app.

Works standalone (``uvicorn meetbridge_google_meet.sandbox:create_app --factory``) and mounted
under a prefix (``/sandbox/google_meet`` in ``meetbridge serve --sandbox``): every URL it
hands out is built from the incoming request, never from a fixed host.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse

from meetbridge_google_meet.sandbox.calendar import calendar_router
from meetbridge_google_meet.sandbox.faults import FaultMiddleware, install_log_filter
from meetbridge_google_meet.sandbox.oauth import oauth_router
from meetbridge_google_meet.sandbox.state import SandboxState
from meetbridge_google_meet.sandbox.urls import sandbox_base_url, sandbox_endpoints


def create_app(state: SandboxState | None = None) -> FastAPI:
    """A fresh sandbox app over ``state`` (a new seeded state when omitted)."""
    state = state if state is not None else SandboxState()
    install_log_filter()
    app = FastAPI(
        title="Google sandbox (meetbridge)", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.sandbox = state
    app.include_router(oauth_router(state))
    app.include_router(calendar_router(state))

    @app.get("/")
    async def index(request: Request) -> JSONResponse:
        """What this sandbox offers, with URLs valid wherever it is mounted."""
        base = sandbox_base_url(request)
        return JSONResponse(
            {
                "sandbox": "google",
                "endpoints": sandbox_endpoints(base),
                "accounts": sorted(a.email for a in state.accounts.values()),
                "clients": sorted(state.clients),
            }
        )

    app.add_middleware(FaultMiddleware, state=state)
    return app
