"""A local Microsoft identity platform + Microsoft Graph, faithful to what meetbridge relies on.

``create_app(state)`` builds the ASGI app; ``SandboxState`` holds its memory (seeded tenants,
people and one app registration, codes, tokens, meetings, counters, fault switches, clock).
``sandbox_endpoints(base_url)`` gives the provider settings that point meetbridge at a sandbox
served at ``base_url``.
"""

from __future__ import annotations

from meetbridge_teams.sandbox.app import create_app
from meetbridge_teams.sandbox.state import (
    CONTOSO_TENANT_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REDIRECT_URIS,
    FABRIKAM_TENANT_ID,
    PERSONAL_TENANT_ID,
    Account,
    SandboxState,
    Tenant,
)

__all__ = [
    "CONTOSO_TENANT_ID",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_REDIRECT_URIS",
    "FABRIKAM_TENANT_ID",
    "PERSONAL_TENANT_ID",
    "Account",
    "SandboxState",
    "Tenant",
    "create_app",
    "sandbox_endpoints",
]


def sandbox_endpoints(base_url: str) -> dict[str, str]:
    """Endpoint settings for a sandbox served at ``base_url`` (e.g. ``.../sandbox/teams``).

    The login URLs keep the ``{tenant}`` placeholder, which the plugin fills from
    ``options.tenant`` exactly as it does for the real ones.
    """
    base = base_url.rstrip("/")
    return {
        "authorize_url": f"{base}/{{tenant}}/oauth2/v2.0/authorize",
        "token_url": f"{base}/{{tenant}}/oauth2/v2.0/token",
        "api_base_url": f"{base}/v1.0",
        "userinfo_url": f"{base}/v1.0/me",
    }
