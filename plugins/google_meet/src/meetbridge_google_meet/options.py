"""Operator options of the Google Meet plugin (``[providers.google_meet.options]``).

Every option has a default that suits production; tests shorten the delays.

``send_updates``  Google's ``sendUpdates`` for inserts, moves and deletes: ``"none"`` (default;
    meetbridge sends its own emails), ``"all"`` or ``"externalOnly"``.
``invite_attendees``  put the booking's attendees on the Google event (default false, so Google
    neither emails them nor copies the event into their calendars).
``conference_poll_attempts`` / ``conference_poll_interval_seconds``  how long to wait for a
    Meet conference whose creation Google reports as ``pending`` (default 10 x 0.5 s).
``rate_limit_retries`` / ``rate_limit_backoff_seconds`` / ``rate_limit_max_wait_seconds``  how
    often a throttled call is retried inline, with exponential backoff starting at the base
    delay, before the host is told to retry later (default 2 retries, 1 s, at most 8 s each).
``event_id_namespace``  mixed into the client-chosen event ids so two meetbridge installations
    sharing an OAuth client never claim each other's events (default: the OAuth client id).
``timeout_seconds``  per-request timeout towards Google (default: the shared client's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from meetbridge.providers import ProviderError
from meetbridge_google_meet.info import NAME

SEND_UPDATES_VALUES = ("none", "all", "externalOnly")


class OptionsError(ProviderError):
    """An option has a value the plugin cannot use; the message names it and the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message, provider=NAME, provider_code="invalid_option")


@dataclass(frozen=True)
class GoogleOptions:
    send_updates: str = "none"
    invite_attendees: bool = False
    conference_poll_attempts: int = 10
    conference_poll_interval_seconds: float = 0.5
    rate_limit_retries: int = 2
    rate_limit_backoff_seconds: float = 1.0
    rate_limit_max_wait_seconds: float = 8.0
    event_id_namespace: str = ""
    timeout_seconds: float | None = None

    @classmethod
    def from_settings(cls, options: Mapping[str, Any], client_id: str = "") -> GoogleOptions:
        """Read and check the options; raise :class:`OptionsError` naming a bad one."""
        send_updates = str(options.get("send_updates", "none"))
        if send_updates not in SEND_UPDATES_VALUES:
            raise OptionsError(
                f"providers.google_meet.options.send_updates is {send_updates!r}; use one of"
                f" {', '.join(SEND_UPDATES_VALUES)}."
            )
        timeout = options.get("timeout_seconds")
        try:
            return cls(
                send_updates=send_updates,
                invite_attendees=_flag(options.get("invite_attendees", False)),
                conference_poll_attempts=max(1, int(options.get("conference_poll_attempts", 10))),
                conference_poll_interval_seconds=max(
                    0.0, float(options.get("conference_poll_interval_seconds", 0.5))
                ),
                rate_limit_retries=max(0, int(options.get("rate_limit_retries", 2))),
                rate_limit_backoff_seconds=max(
                    0.0, float(options.get("rate_limit_backoff_seconds", 1.0))
                ),
                rate_limit_max_wait_seconds=max(
                    0.0, float(options.get("rate_limit_max_wait_seconds", 8.0))
                ),
                event_id_namespace=str(options.get("event_id_namespace") or client_id),
                timeout_seconds=float(timeout) if timeout not in (None, "") else None,
            )
        except (TypeError, ValueError) as exc:
            raise OptionsError(
                f"providers.google_meet.options has a value of the wrong type ({exc}); numbers"
                " are expected for the *_attempts, *_retries and *_seconds options."
            ) from None


def _flag(value: Any) -> bool:
    # Options may come from environment variables, where every value is a string.
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)
