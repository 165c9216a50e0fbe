"""What every request handler can reach: the services, and who is signed in.

Handlers get the :class:`WebContext` with ``web(request)`` and the signed-in person with the
``require_user`` / ``require_admin`` dependencies. The person is re-read from the database on
every request, so a role change or deactivation takes effect at once, and a session is only
valid while its password fingerprint matches (a new password signs out other sessions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request

from meetbridge.accounts import session_fingerprint
from meetbridge.models import User
from meetbridge.web.errors import Forbidden, LoginRequired
from meetbridge.web.login_throttle import LoginThrottle

if TYPE_CHECKING:
    from meetbridge.conferencing.connections import ConnectionService
    from meetbridge.scheduling.bookings import BookingService
    from meetbridge.services import Services
    from meetbridge.web.sandbox import SandboxMount


@dataclass
class WebContext:
    services: Services
    connections: ConnectionService
    bookings: BookingService
    sandboxes: list[SandboxMount] = field(default_factory=list)
    login_throttle: LoginThrottle = field(
        default_factory=lambda: LoginThrottle(
            max_failures=10, max_failures_per_ip=50, window_seconds=15 * 60
        )
    )

    @property
    def base_url(self) -> str:
        return self.services.settings.base_url.rstrip("/")


@dataclass(frozen=True)
class Viewer:
    """The signed-in person, as plain values (safe to use after the DB session closed)."""

    id: int
    email: str
    name: str
    role: str
    organization_id: int
    timezone: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def web(request: Request) -> WebContext:
    return request.app.state.web


def sign_in(request: Request, user: User) -> None:
    """Start a fresh session for ``user`` (a new CSRF token too: no session fixation)."""
    request.session.clear()
    request.session["uid"] = user.id
    request.session["fp"] = session_fingerprint(user)


def sign_out(request: Request) -> None:
    request.session.clear()


def current_viewer(request: Request) -> Viewer | None:
    cached = getattr(request.state, "viewer", None)
    if cached is not None:
        return cached
    uid = request.session.get("uid")
    if not isinstance(uid, int):
        return None
    with web(request).services.sessions() as session:
        user = session.get(User, uid)
        if (
            user is None
            or not user.active
            or request.session.get("fp") != session_fingerprint(user)
        ):
            request.session.pop("uid", None)
            request.session.pop("fp", None)
            return None
        viewer = Viewer(
            user.id, user.email, user.name, str(user.role), user.organization_id, user.timezone
        )
    request.state.viewer = viewer
    return viewer


def require_user(request: Request) -> Viewer:
    viewer = current_viewer(request)
    if viewer is None:
        raise LoginRequired()
    return viewer


def require_admin(request: Request) -> Viewer:
    viewer = require_user(request)
    if not viewer.is_admin:
        raise Forbidden()
    return viewer


def flash(request: Request, message: str, level: str = "info") -> None:
    """A message shown once on the next page (after a redirect)."""
    messages = list(request.session.get("flash", []))
    messages.append([level, message])
    request.session["flash"] = messages[-5:]


def take_flashes(request: Request) -> list[tuple[str, str]]:
    messages = request.session.pop("flash", None) or []
    return [(str(level), str(text)) for level, text in messages]


def load_user(request: Request, viewer: Viewer) -> User:
    """The ``User`` row for the viewer, detached (for service calls that take a ``User``)."""
    with web(request).services.sessions() as session:
        user = session.get(User, viewer.id)
        assert user is not None
        session.expunge(user)
        return user
