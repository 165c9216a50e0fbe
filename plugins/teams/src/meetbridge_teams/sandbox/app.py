"""The Microsoft sandbox as one FastAPI app: login under tenant paths, and Graph under /v1.0.

Works served alone (``serve_in_thread(create_app())``) or mounted under a prefix (the host
mounts it at ``/sandbox/teams``): every URL it hands out is built from the request.
"""

from __future__ import annotations

from fastapi import FastAPI

from meetbridge_teams.sandbox import events, graph, identity, online_meetings, token_endpoint
from meetbridge_teams.sandbox.faults import FaultInjector
from meetbridge_teams.sandbox.state import SandboxState


def create_app(state: SandboxState | None = None) -> FastAPI:
    """Build the sandbox app around ``state`` (a freshly seeded one when not given)."""
    app = FastAPI(
        title="Microsoft identity platform + Graph (meetbridge sandbox)",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.sandbox = state if state is not None else SandboxState()
    app.include_router(identity.router)
    app.include_router(token_endpoint.router)
    app.include_router(graph.router)
    app.include_router(online_meetings.router)
    app.include_router(events.router)
    app.add_exception_handler(graph.GraphFailure, graph.answer_failure)
    app.add_middleware(FaultInjector, state=app.state.sandbox)
    return app
