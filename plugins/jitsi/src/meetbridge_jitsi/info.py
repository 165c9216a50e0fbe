"""What the Jitsi provider is: its name, its one endpoint, and what it cannot do.

Jitsi has no accounts to connect and no API to call: a room exists as soon as someone opens
its URL. So the description declares no capabilities at all (no connect step, no tokens to
refresh or revoke, no webhooks), and the host never asks anyone to connect Jitsi.
"""

from __future__ import annotations

from meetbridge.providers import AuthKind, ProviderInfo

NAME = "jitsi"
LABEL = "Jitsi Meet"

# The Jitsi server rooms are made on. Operators point it at their own server with
# MEETBRIDGE_PROVIDERS__JITSI__API_BASE_URL=https://jitsi.example.org
ENDPOINTS = {"api_base_url": "https://meet.jit.si"}

INFO = ProviderInfo(
    name=NAME,
    label=LABEL,
    auth_kind=AuthKind.NONE,
    capabilities=frozenset(),
    endpoints=ENDPOINTS,
    docs_url="https://jitsi.github.io/handbook/",
    sandbox_app="meetbridge_jitsi.sandbox:create_app",
)
