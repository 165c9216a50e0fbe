"""What goes wrong during a campaign, and when.

Faults are armed through the sandboxes' own switches (``faults.fail_next``) on the paths the
plugins use: creating, moving and deleting meetings, finding one again, and refreshing tokens.
The next matching request fails that way, whichever process sends it. Out-of-band events
happen at fixed points of the run: grants revoked at the provider, a Zoom deauthorization
webhook (signed by the sandbox, delivered through ``ConnectionService.handle_webhook``, then
replayed to prove replays are refused), and people reconnecting afterwards.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# What can go wrong on any API call (each sandbox implements them all).
API_KINDS = (
    "5xx",
    "503_retry_after",
    "timeout_after_acting",
    "reset_before",
    "reset_after_acting",
    "rate_limit_qps",
    "revoke_grant",
)
# What can go wrong at the token endpoint without destroying the grant. (An answer lost after
# Zoom rotated the refresh token kills the grant, as it would at Zoom: that is what
# "revoke_grant" and the out-of-band revocations cover.)
TOKEN_KINDS = ("5xx", "503_retry_after", "reset_before")

# (path prefix, method, kinds) per provider. Zoom's daily cap and Google's daily quota are
# 429/403 answers on writes; Teams has no daily cap (its monthly quota is covered in tests).
TARGETS: dict[str, list[tuple[str, str | None, tuple[str, ...]]]] = {
    "zoom": [
        ("/v2/users/", "POST", (*API_KINDS, "rate_limit_daily")),
        ("/v2/meetings/", "PATCH", (*API_KINDS, "rate_limit_daily")),
        ("/v2/meetings/", "DELETE", API_KINDS),
        ("/v2/users/", "GET", ("5xx", "reset_before", "rate_limit_qps")),
        ("/oauth/token", "POST", TOKEN_KINDS),
    ],
    "google_meet": [
        ("/calendar/v3/calendars/primary/events", "POST", (*API_KINDS, "rate_limit_daily")),
        ("/calendar/v3/calendars/primary/events", "PATCH", API_KINDS),
        ("/calendar/v3/calendars/primary/events", "DELETE", API_KINDS),
        ("/token", "POST", TOKEN_KINDS),
    ],
    "teams": [
        ("/v1.0/me/onlineMeetings", "POST", API_KINDS),
        ("/v1.0/me/onlineMeetings", "PATCH", API_KINDS),
        ("/v1.0/me/onlineMeetings", "DELETE", API_KINDS),
        ("/organizations/oauth2/v2.0/token", "POST", TOKEN_KINDS),
    ],
}


@dataclass
class Event:
    """An out-of-band event at a fraction of the run."""

    at: float  # 0..1 of the operations
    action: str  # "revoke", "deauthorize", "reconnect"
    provider: str
    host: str  # meetbridge user email
    done: bool = False


def default_events() -> list[Event]:
    return [
        Event(0.20, "revoke", "google_meet", "gus@chaos.test"),
        Event(0.30, "deauthorize", "zoom", "zoe@chaos.test"),
        Event(0.45, "revoke", "teams", "theo@chaos.test"),
        Event(0.55, "reconnect", "google_meet", "gus@chaos.test"),
        Event(0.60, "reconnect", "zoom", "zoe@chaos.test"),
        Event(0.70, "revoke", "zoom", "zack@chaos.test"),
        Event(0.80, "reconnect", "teams", "theo@chaos.test"),
        Event(0.90, "reconnect", "zoom", "zack@chaos.test"),
    ]


@dataclass
class FaultPlan:
    """Arms a random fault before some operations, reproducibly from the seed."""

    rng: random.Random
    rate: float = 0.35  # chance that a fault is armed before an operation
    backlog: int = 3  # at most this many armed and not yet fired, per provider
    armed: Counter[str] = field(default_factory=Counter)
    armed_at: Counter[str] = field(default_factory=Counter)  # by provider

    def maybe_arm(self, sandboxes: Any) -> None:
        if self.rng.random() >= self.rate:
            return
        happened = sandboxes.fired()
        fired = {kind for _, kind in happened}
        fired_at = Counter(provider for provider, _ in happened)
        # A path rarely used (finding a meeting again) would pile faults up otherwise.
        open_providers = {p for p in TARGETS if self.armed_at[p] - fired_at[p] < self.backlog}
        options = [
            (provider, path, method, kind)
            for provider, targets in sorted(TARGETS.items())
            if provider in open_providers
            for path, method, kinds in targets
            for kind in kinds
        ]
        if not options:
            return
        rare = [o for o in options if o[3] not in fired]
        # Half the time, a kind that has not happened yet: a run covers every kind early.
        pool = rare if rare and self.rng.random() < 0.5 else options
        provider, path, method, kind = self.rng.choice(pool)
        sandboxes.arm(provider, path, kind, method)
        self.armed[kind] += 1
        self.armed_at[provider] += 1
