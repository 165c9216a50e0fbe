"""A local, faithful emulation of Google OAuth and Google Calendar (with Meet conferences).

``create_app(state)`` builds the ASGI app; ``SandboxState`` holds accounts, OAuth clients,
grants, tokens, events, counters, fault switches and rate limits.
"""

from meetbridge_google_meet.sandbox.app import create_app
from meetbridge_google_meet.sandbox.faults import FAULT_KINDS, Faults
from meetbridge_google_meet.sandbox.state import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    Account,
    ManualClock,
    OAuthClient,
    SandboxState,
)
from meetbridge_google_meet.sandbox.urls import ENDPOINT_PATHS, sandbox_endpoints

__all__ = [
    "ENDPOINT_PATHS",
    "FAULT_KINDS",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "Account",
    "Faults",
    "ManualClock",
    "OAuthClient",
    "SandboxState",
    "create_app",
    "sandbox_endpoints",
]
