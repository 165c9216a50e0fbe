"""A local, faithful emulation of Zoom's OAuth server and REST API (see ``app.py``).

``create_app(state)`` builds the ASGI app; :class:`SandboxState` holds its world (seeded with
an account of three users: an admin, a licensed member and a Basic member, plus a free solo
account, two registered OAuth apps and two Zoom Rooms).
"""

from meetbridge_zoom.sandbox.app import create_app, sandbox_endpoints
from meetbridge_zoom.sandbox.state import (
    DEFAULT_ADMIN_CLIENT_ID,
    DEFAULT_ADMIN_CLIENT_SECRET,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REDIRECT_URIS,
    DEFAULT_WEBHOOK_SECRET,
    SandboxState,
)

__all__ = [
    "DEFAULT_ADMIN_CLIENT_ID",
    "DEFAULT_ADMIN_CLIENT_SECRET",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_REDIRECT_URIS",
    "DEFAULT_WEBHOOK_SECRET",
    "SandboxState",
    "create_app",
    "sandbox_endpoints",
]
