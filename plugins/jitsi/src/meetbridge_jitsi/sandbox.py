"""A stand-in Jitsi server, so join links work offline (``meetbridge serve --sandbox``, tests).

Jitsi has no API to emulate: the only thing a person does with a meetbridge link is open it.
This sandbox answers ``GET /{room}`` with a page saying which room they joined, and remembers
the rooms opened. It follows the sandbox convention every meetbridge plugin uses
(docs/plugins/sandbox.md): ``create_app(state)``, ``SandboxState``, ``sandbox_endpoints(url)``.
"""

from __future__ import annotations

import re
import threading
from html import escape

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

# What Jitsi accepts in a room name, roughly; anything else gets a 404 page like a typo would.
_ROOM = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


class SandboxState:
    """The rooms people opened, in order (tests assert on it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.opened: list[str] = []


def sandbox_endpoints(base_url: str) -> dict[str, str]:
    """The settings that point the Jitsi plugin at a sandbox served at ``base_url``."""
    return {"api_base_url": base_url.rstrip("/")}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title></head><body><p>Jitsi sandbox (meetbridge)</p>"
        f"{body}</body></html>",
        status,
    )


def create_app(state: SandboxState | None = None) -> FastAPI:
    """A Jitsi stand-in backed by ``state`` (a fresh one when not given)."""
    state = state if state is not None else SandboxState()
    app = FastAPI(
        title="Jitsi sandbox (meetbridge)", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.jitsi = state

    @app.get("/", response_class=HTMLResponse)
    async def home() -> HTMLResponse:
        with state.lock:
            opened = "".join(f"<li>{escape(room)}</li>" for room in state.opened)
        return _page(
            "Jitsi sandbox", f"<h1>Jitsi sandbox</h1><p>Rooms opened:</p><ul>{opened}</ul>"
        )

    @app.get("/{room}", response_class=HTMLResponse)
    async def room(room: str) -> HTMLResponse:
        if not _ROOM.match(room):
            return _page("No such room", "<h1>That is not a Jitsi room name</h1>", 404)
        with state.lock:
            state.opened.append(room)
        return _page(
            f"{room} | Jitsi sandbox",
            f"<h1>You joined {escape(room)}</h1><p>Waiting for others to join.</p>",
        )

    return app
