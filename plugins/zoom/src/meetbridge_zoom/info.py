"""What the Zoom plugin is: its description, endpoints, scopes and plan names.

Zoom has two scope families. Apps created since 2024 use *granular* scopes
(``meeting:write:meeting``); older apps keep *classic* ones (``meeting:write``). Admin-managed
(account-level) apps get the ``:admin`` variants, which let them act for any user of the Zoom
account. The plugin accepts either family wherever it checks a granted scope.
"""

from __future__ import annotations

from collections.abc import Iterable

from meetbridge.providers import AuthKind, Capability, ProviderInfo

NAME = "zoom"
LABEL = "Zoom"

ENDPOINTS = {
    "authorize_url": "https://zoom.us/oauth/authorize",
    "token_url": "https://zoom.us/oauth/token",
    "revoke_url": "https://zoom.us/oauth/revoke",
    "api_base_url": "https://api.zoom.us/v2",
    "userinfo_url": "https://api.zoom.us/v2/users/me",
}

# Granular scopes to select on a user-managed app (what ProviderInfo.scopes advertises).
USER_SCOPES = (
    "meeting:write:meeting",
    "meeting:update:meeting",
    "meeting:delete:meeting",
    "meeting:read:meeting",
    "meeting:read:list_meetings",
    "user:read:user",
)
# The same on an admin-managed (account-level) app, plus listing Zoom Rooms.
ADMIN_SCOPES = (
    *(f"{scope}:admin" for scope in USER_SCOPES),
    "zoom_rooms:read:list_rooms:admin",
)
# Classic equivalents, for apps created before granular scopes existed.
CLASSIC_USER_SCOPES = ("meeting:write", "user:read")
CLASSIC_ADMIN_SCOPES = ("meeting:write:admin", "user:read:admin", "room:read:admin")

# Any one of these lets the grant create meetings for its own user ...
CREATE_SCOPES = frozenset(
    {"meeting:write", "meeting:write:meeting", "meeting:write:admin", "meeting:write:meeting:admin"}
)
# ... and any one of these for every user of the account.
ADMIN_CREATE_SCOPES = frozenset({"meeting:write:admin", "meeting:write:meeting:admin"})

# Zoom's user ``type``: what plan the person's own licence is.
PLAN_TYPES = {1: "basic", 2: "licensed", 4: "unassigned", 99: "none"}
BASIC_PLAN = "basic"
BASIC_MAX_MINUTES = 40

ADMIN_ROLE_NAMES = frozenset({"owner", "admin"})
ADMIN_ROLE_IDS = frozenset({"0", "1"})  # Zoom's built-in Owner and Admin roles

INFO = ProviderInfo(
    name=NAME,
    label=LABEL,
    auth_kind=AuthKind.OAUTH2,
    capabilities=frozenset(
        {
            Capability.CONNECT,
            Capability.ACCOUNT_LEVEL,
            Capability.REFRESH,
            Capability.REVOKE,
            Capability.WEBHOOKS,
            Capability.ROOMS,
            Capability.PREFLIGHT,
            Capability.HOST_JOIN_URL,
            Capability.PASSCODE,
            Capability.DIAL_IN,
            Capability.IDEMPOTENT_CREATE,
        }
    ),
    scopes=USER_SCOPES,
    account_level_scopes=ADMIN_SCOPES,
    endpoints=ENDPOINTS,
    docs_url="https://developers.zoom.us/docs/api/",
    sandbox_app="meetbridge_zoom.sandbox:create_app",
)


def plan_name(user_type: object) -> str:
    """Zoom's numeric user ``type`` as a word ("basic", "licensed", ...)."""
    try:
        return PLAN_TYPES.get(int(str(user_type)), f"type_{user_type}")
    except ValueError:
        return f"type_{user_type}"


def can_create_meetings(scopes: Iterable[str]) -> bool:
    return bool(CREATE_SCOPES.intersection(scopes))


def has_admin_scopes(scopes: Iterable[str]) -> bool:
    return bool(ADMIN_CREATE_SCOPES.intersection(scopes))


def is_admin_role(role_name: object, role_id: object = None) -> bool:
    return str(role_name or "").strip().lower() in ADMIN_ROLE_NAMES or (
        role_id is not None and str(role_id) in ADMIN_ROLE_IDS
    )
