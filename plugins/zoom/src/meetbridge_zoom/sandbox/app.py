"""The Zoom sandbox as one ASGI app: OAuth server, REST API, and meeting join/start pages.

Paths mirror Zoom's (``/oauth/...`` as on zoom.us, ``/v2/...`` as on api.zoom.us), so pointing
the plugin's endpoint settings at the sandbox is all it takes (see :func:`sandbox_endpoints`).
The app works standalone and mounted under a prefix (``/sandbox/zoom`` in ``meetbridge serve
--sandbox``): every link it makes is built from the request.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from meetbridge_zoom.sandbox import api, oauth, pages
from meetbridge_zoom.sandbox import meetings as store
from meetbridge_zoom.sandbox.faults import FaultMiddleware
from meetbridge_zoom.sandbox.guard import ZoomError
from meetbridge_zoom.sandbox.state import SandboxState


def sandbox_endpoints(base_url: str) -> dict[str, str]:
    """The endpoint settings that point the Zoom plugin at a sandbox served at ``base_url``."""
    base = base_url.rstrip("/")
    return {
        "authorize_url": f"{base}/oauth/authorize",
        "token_url": f"{base}/oauth/token",
        "revoke_url": f"{base}/oauth/revoke",
        "api_base_url": f"{base}/v2",
        "userinfo_url": f"{base}/v2/users/me",
    }


def create_app(state: SandboxState | None = None) -> FastAPI:
    """A Zoom sandbox backed by ``state`` (a freshly seeded one when not given)."""
    state = state or SandboxState()
    app = FastAPI(
        title="Zoom sandbox (meetbridge)", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.zoom = state
    app.add_middleware(FaultMiddleware, state=state)
    app.include_router(oauth.build_router(state))
    app.include_router(api.build_router(state))

    @app.exception_handler(ZoomError)
    async def zoom_error(request: Request, exc: ZoomError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.get("/", response_class=HTMLResponse)
    async def home() -> HTMLResponse:
        users = "".join(
            f"<li>{u.email} ({u.role_name}, type {u.type})</li>" for u in state.users.values()
        )
        return HTMLResponse(
            pages.page(
                "Zoom sandbox", f"<h1>Zoom sandbox</h1><p>Sandbox users:</p><ul>{users}</ul>"
            )
        )

    @app.get("/j/{meeting_id}", response_class=HTMLResponse)
    async def join(meeting_id: str) -> HTMLResponse:
        meeting = state.meetings.get(int(meeting_id)) if meeting_id.isdigit() else None
        if meeting is None or meeting["_deleted"]:
            return HTMLResponse(
                pages.error("Meeting not found", "This meeting does not exist or was deleted."), 404
            )
        return HTMLResponse(
            pages.meeting(
                "Joining meeting",
                meeting["topic"],
                f"Meeting ID {meeting['id']}, passcode"
                f" {meeting['password']}. Waiting for the host.",
            )
        )

    @app.get("/s/{meeting_id}", response_class=HTMLResponse)
    async def start(meeting_id: str, zak: str = "") -> HTMLResponse:
        meeting = state.meetings.get(int(meeting_id)) if meeting_id.isdigit() else None
        if meeting is None or meeting["_deleted"]:
            return HTMLResponse(
                pages.error("Meeting not found", "This meeting does not exist or was deleted."), 404
            )
        if not store.start_link_valid(state, meeting["id"], zak):
            return HTMLResponse(
                pages.error(
                    "Start link expired", "Host start links work for two hours; get a new one."
                ),
                403,
            )
        return HTMLResponse(
            pages.meeting(
                "Starting meeting as host", meeting["topic"], f"Meeting ID {meeting['id']}."
            )
        )

    return app
