"""Fault switches: make the next request(s) to a path fail the way real networks and Google do.

``state.faults.fail_next("/calendar/v3/calendars/primary/events", "timeout_after_acting")``

Kinds:

``5xx``                  500 ``backendError`` (OAuth endpoints: ``internal_failure``)
``503_retry_after``      503 with ``Retry-After: 2``
``timeout_after_acting`` do the work, then hang ``faults.hang_seconds`` before answering
``reset_before``         drop the connection without doing anything
``reset_after_acting``   do the work, then drop the connection without an answer
``rate_limit_qps``       403 ``rateLimitExceeded``
``rate_limit_429``       429 ``rateLimitExceeded``
``rate_limit_user``      403 ``userRateLimitExceeded``
``rate_limit_daily``     403 ``dailyLimitExceeded`` (the project's daily quota)
``calendar_usage_limit`` 403 ``quotaExceeded`` ("Calendar usage limits exceeded.")
``revoke_grant``         the person revokes the grant just before the request is handled

The switches and the middleware are meetbridge's sandbox fault kit
(:mod:`meetbridge.testing.sandbox_faults`); this module adds Google's error answers
(:func:`~meetbridge_google_meet.sandbox.errors.fault_response`) and how a grant is revoked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from meetbridge.testing import sandbox_faults as kit
from meetbridge.testing.sandbox_faults import (
    GENERIC_KINDS,
    ConnectionDropped,
    SandboxFaults,
    bearer_token,
    form_fields,
    install_log_filter,
    query_fields,
)
from meetbridge.testing.sandbox_faults import route_path as relative_path
from meetbridge_google_meet.sandbox.errors import fault_response

if TYPE_CHECKING:
    from meetbridge.testing.sandbox_faults import ArmedFault, ASGIApp, Scope
    from meetbridge_google_meet.sandbox.state import SandboxState

__all__ = [
    "ERROR_KINDS",
    "FAULT_KINDS",
    "OAUTH_PREFIXES",
    "ConnectionDropped",
    "FaultMiddleware",
    "Faults",
    "install_log_filter",
    "relative_path",
]

ERROR_KINDS = frozenset(
    {
        "5xx",
        "503_retry_after",
        "rate_limit_qps",
        "rate_limit_429",
        "rate_limit_user",
        "rate_limit_daily",
        "calendar_usage_limit",
    }
)
FAULT_KINDS = ERROR_KINDS | GENERIC_KINDS
OAUTH_PREFIXES = ("/token", "/revoke", "/o/oauth2", "/v1/userinfo")


class Faults(SandboxFaults):
    """The planned faults, consumed in order by matching requests.

    ``triggered`` lists ``(path, kind)`` of the faults that happened (``fired``: the same as
    ``(kind, path)``, as the other sandboxes have it).
    """

    def __init__(self, hang_seconds: float = 2.0) -> None:
        super().__init__(FAULT_KINDS, hang_seconds=hang_seconds)

    @property
    def planned(self) -> list[ArmedFault]:
        return self.armed

    @property
    def triggered(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(path, kind) for kind, path in self.fired]

    def take(self, path: str, method: str) -> str | None:  # type: ignore[override]
        """The fault for this request, if one is armed for it (consuming it)."""
        return super().take(method, path)


class FaultMiddleware(kit.FaultMiddleware):
    """ASGI middleware applying :class:`Faults` before the sandbox's routes see a request."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        super().__init__(
            app, lambda: state.faults, error_response=_error, revoke_grant=self._revoke
        )
        self.state = state

    def _revoke(self, scope: Scope, body: bytes) -> None:
        form, query = form_fields(body), query_fields(scope)
        token = (
            bearer_token(scope)
            or (form.get("refresh_token") or form.get("token") or [""])[0]
            or (query.get("token") or [""])[0]
        )
        if token:
            self.state.revoke_token_grant(token)


def _error(kind: str, path: str) -> ASGIApp:
    return fault_response(kind, oauth=path.startswith(OAUTH_PREFIXES))
