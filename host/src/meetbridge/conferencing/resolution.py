"""Which provider, and whose account, hosts a booking's meeting.

Order: the meeting type's preferred provider(s), then the organisation's fallback order
(default zoom -> google_meet -> teams). For each provider, the candidate hosts in order (the
assigned host for round-robin, the person for one-person types, the members in order for
collective ones), then an account-level connection of the organisation. The first active
connection wins. Every step is written to the trail, so "why did this booking get Google Meet?"
has an answer (``meetbridge bookings explain``).

This module is pure: it takes plain values and returns plain values, so it is easy to test
exhaustively and to reason about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ConnectionView:
    id: int
    provider: str
    owner_user_id: int | None  # None: account-level, for the whole organisation
    status: str
    has_tokens: bool
    email: str = ""

    @property
    def usable(self) -> bool:
        return self.status == "active" and self.has_tokens


@dataclass(frozen=True)
class HostView:
    user_id: int
    email: str


@dataclass(frozen=True)
class Resolution:
    provider: str | None
    connection_id: int | None
    host: HostView | None  # the member the meeting is for
    account_level: bool = False
    trail: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @property
    def found(self) -> bool:
        return self.provider is not None

    @property
    def reason(self) -> str:
        """One sentence for people: what was chosen, or why nothing could be."""
        if self.found:
            whose = (
                "the organisation's account"
                if self.account_level
                else (self.host.email if self.host else "no account")
            )
            return f"{self.provider} on {whose}"
        tried = [step for step in self.trail if step["outcome"] != "chosen"]
        if not tried:
            return "No conferencing provider is configured for this meeting type."
        return "No video: " + "; ".join(step["detail"] for step in tried) + "."


def provider_order(preferred: Sequence[str], fallback: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for name in [*preferred, *fallback]:
        seen.setdefault(name, None)
    return list(seen)


def resolve(
    *,
    preferred: Sequence[str],
    fallback: Sequence[str],
    installed: Mapping[str, bool],
    hosts: Sequence[HostView],
    connections: Iterable[ConnectionView],
    exclude_connections: Iterable[int] = (),
) -> Resolution:
    """Pick (provider, connection, host).

    ``installed`` maps installed provider names to whether they need a connection (a provider
    without a connect step, like Jitsi, is always available). ``exclude_connections`` are
    connections that just failed for this booking and must not be picked again.
    """
    excluded = set(exclude_connections)
    by_key: dict[tuple[str, int | None], ConnectionView] = {}
    for conn in connections:
        key = (conn.provider, conn.owner_user_id)
        # Prefer a usable connection when several rows exist for one owner.
        if key not in by_key or (conn.usable and not by_key[key].usable):
            by_key[key] = conn
    trail: list[dict[str, Any]] = []

    def step(provider: str, outcome: str, detail: str, **extra: Any) -> None:
        trail.append({"provider": provider, "outcome": outcome, "detail": detail, **extra})

    for provider in provider_order(preferred, fallback):
        if provider not in installed:
            step(provider, "not_installed", f"{provider} is not installed")
            continue
        if not installed[provider]:
            host = hosts[0] if hosts else None
            step(provider, "chosen", f"{provider} needs no account connection")
            return Resolution(provider, None, host, trail=tuple(trail))
        for host in hosts:
            conn = by_key.get((provider, host.user_id))
            if conn is None:
                step(
                    provider,
                    "no_connection",
                    f"{host.email} has not connected {provider}",
                    user_id=host.user_id,
                )
            elif conn.id in excluded:
                step(
                    provider,
                    "failed",
                    f"{provider} of {host.email} failed for this booking",
                    user_id=host.user_id,
                    connection_id=conn.id,
                )
            elif not conn.usable:
                step(
                    provider,
                    conn.status,
                    f"{provider} of {host.email} is {conn.status.replace('_', ' ')}",
                    user_id=host.user_id,
                    connection_id=conn.id,
                )
            else:
                step(
                    provider,
                    "chosen",
                    f"{provider} of {host.email}",
                    user_id=host.user_id,
                    connection_id=conn.id,
                )
                return Resolution(provider, conn.id, host, trail=tuple(trail))
        org = by_key.get((provider, None))
        if org is not None and org.usable and org.id not in excluded and hosts:
            step(
                provider,
                "chosen",
                f"the organisation's {provider} account ({org.email})",
                connection_id=org.id,
                account_level=True,
            )
            return Resolution(provider, org.id, hosts[0], account_level=True, trail=tuple(trail))
        if org is not None:
            step(
                provider,
                org.status if not org.usable else "failed",
                f"the organisation's {provider} account is {org.status.replace('_', ' ')}",
                connection_id=org.id,
            )
        else:
            step(provider, "no_connection", f"no organisation-wide {provider} account")
    return Resolution(None, None, None, trail=tuple(trail))
