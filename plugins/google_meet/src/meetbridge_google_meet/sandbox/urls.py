"""Where the sandbox's endpoints live, and its own base URL as a client sees it."""

from __future__ import annotations

from starlette.requests import Request

# Where each provider endpoint lives inside the sandbox, by settings key. The paths mirror
# Google's own (accounts.google.com, oauth2.googleapis.com, openidconnect.googleapis.com,
# www.googleapis.com) so only the scheme and host part of each setting changes.
ENDPOINT_PATHS = {
    "authorize_url": "/o/oauth2/v2/auth",
    "token_url": "/token",
    "revoke_url": "/revoke",
    "userinfo_url": "/v1/userinfo",
    "api_base_url": "/calendar/v3",
}


def sandbox_endpoints(base_url: str) -> dict[str, str]:
    """Endpoint settings pointing the plugin at a sandbox served at ``base_url``."""
    base = base_url.rstrip("/")
    return {key: f"{base}{path}" for key, path in ENDPOINT_PATHS.items()}


def sandbox_base_url(request: Request) -> str:
    """This sandbox's base URL, mount prefix included.

    ``request.base_url`` points at the outermost app when the sandbox is mounted, so the
    prefix is taken from the ASGI ``root_path`` instead.
    """
    root = request.scope.get("root_path", "")
    return str(request.url.replace(path=root, query="", fragment="")).rstrip("/")
