"""What the Google Meet provider is: its name, scopes, real endpoints and capabilities."""

from __future__ import annotations

from meetbridge.providers import AuthKind, Capability, ProviderInfo

NAME = "google_meet"
LABEL = "Google Meet"

# The one scope meetings need: create, move and delete events (with their Meet conference)
# on the person's calendars. ``calendar`` (full access) also covers it, so a grant that holds
# it from an earlier, broader connection counts too.
CALENDAR_EVENTS_SCOPE = "https://www.googleapis.com/auth/calendar.events"
CALENDAR_SCOPES_THAT_COVER_EVENTS = frozenset(
    {CALENDAR_EVENTS_SCOPE, "https://www.googleapis.com/auth/calendar"}
)
# ``openid email`` identify the account (userinfo ``sub`` and ``email``).
SCOPES = ("openid", "email", CALENDAR_EVENTS_SCOPE)

# Google's real URLs; every one of them can be overridden in settings (sandbox, test double).
ENDPOINTS = {
    "authorize_url": "https://accounts.google.com/o/oauth2/v2/auth",
    "token_url": "https://oauth2.googleapis.com/token",
    "revoke_url": "https://oauth2.googleapis.com/revoke",
    "userinfo_url": "https://openidconnect.googleapis.com/v1/userinfo",
    "api_base_url": "https://www.googleapis.com/calendar/v3",
}

INFO = ProviderInfo(
    name=NAME,
    label=LABEL,
    auth_kind=AuthKind.OAUTH2,
    capabilities=frozenset(
        {
            Capability.CONNECT,
            Capability.REFRESH,
            Capability.REVOKE,
            Capability.IDEMPOTENT_CREATE,
            Capability.DIAL_IN,
            Capability.PREFLIGHT,
        }
    ),
    scopes=SCOPES,
    endpoints=ENDPOINTS,
    docs_url="docs/providers/google_meet.md",
    sandbox_app="meetbridge_google_meet.sandbox:create_app",
)
