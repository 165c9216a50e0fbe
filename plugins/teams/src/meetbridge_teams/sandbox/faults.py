"""Fault switches: make the next matching request fail the way real networks and Microsoft do.

``state.faults.fail_next("/v1.0/me/onlineMeetings", "timeout_after_acting")`` arms a fault for
the next request whose path (inside the sandbox app) starts with that prefix. Kinds:

``5xx``                   500 ``generalException`` (Graph) / ``server_error`` (login)
``503_retry_after``       503 with ``Retry-After: {retry_after_seconds}``
``timeout_after_acting``  the request is carried out, then the answer waits ``hang_seconds``
``reset_before``          the connection drops before anything is done
``reset_after_acting``    the request is carried out, then the connection drops
``rate_limit_qps``        429 ``TooManyRequests`` with ``Retry-After: {retry_after_seconds}``
``rate_limit_daily``      Microsoft has no daily cap; this is the per-user *monthly* meetings
                          quota answer (429, Retry-After until the 1st of next month)
``rate_limit_monthly``    the same, by its Microsoft name
``revoke_grant``          the caller's grant is revoked first (as a password reset does), then
                          the request runs and fails as it naturally would

The switches and the middleware are meetbridge's sandbox fault kit
(:mod:`meetbridge.testing.sandbox_faults`); this module adds Microsoft's error answers (login
and Graph shapes) and how a grant is revoked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from meetbridge.testing.sandbox_faults import (
    GENERIC_KINDS,
    ArmedFault,
    ASGIApp,
    ConnectionDropped,
    FaultMiddleware,
    Message,
    Receive,
    SandboxFaults,
    Scope,
    Send,
    bearer_token,
    form_fields,
    json_answer,
    route_path,
)
from meetbridge_teams.sandbox import errors

if TYPE_CHECKING:
    from meetbridge_teams.sandbox.state import SandboxState

__all__ = [
    "KINDS",
    "ASGIApp",
    "ConnectionDropped",
    "Fault",
    "FaultInjector",
    "Faults",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "route_path",
]

KINDS = GENERIC_KINDS | {
    "5xx",
    "503_retry_after",
    "rate_limit_qps",
    "rate_limit_daily",
    "rate_limit_monthly",
}

Fault = ArmedFault


class Faults(SandboxFaults):
    """Armed faults, consumed in order by matching requests; ``fired``: ``(kind, path)``."""

    def __init__(self) -> None:
        super().__init__(KINDS, hang_seconds=2.0)
        self.retry_after_seconds = 3

    def fail_next(
        self,
        path_prefix: str,
        kind: str,
        *,
        count: int = 1,
        method: str | None = None,
        times: int | None = None,
    ) -> None:
        """Arm ``kind`` for the next ``count`` requests under ``path_prefix`` (and ``method``).

        (``times`` is accepted too, as the other sandboxes name it.)
        """
        super().fail_next(path_prefix, kind, times=count if times is None else times, method=method)


class FaultInjector(FaultMiddleware):
    """Pure ASGI middleware applying armed faults (outside FastAPI's error handling)."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        super().__init__(
            app, lambda: state.faults, error_response=self._error, revoke_grant=self._revoke
        )
        self.state = state

    def _error(self, kind: str, path: str) -> ASGIApp:
        state = self.state
        login = _is_login(path)
        if kind == "5xx":
            body = (
                errors.aad_body(
                    "server_error",
                    50000,
                    "There was an error issuing a token or an authorization code.",
                    state,
                )
                if login
                else errors.graph_body(
                    "generalException", "General exception while processing.", state
                )
            )
            return json_answer(500, body)
        if kind in {"503_retry_after", "rate_limit_qps"}:
            status = 503 if kind == "503_retry_after" else 429
            if login:
                body = errors.aad_body(
                    "temporarily_unavailable",
                    50196,
                    "The server is temporarily unavailable.",
                    state,
                )
            elif status == 503:
                body = errors.graph_body(
                    "serviceNotAvailable",
                    "The service is temporarily unavailable. Retry after the indicated time.",
                    state,
                )
            else:
                body = errors.graph_body(
                    "TooManyRequests",
                    "Too many requests; retry after the indicated time.",
                    state,
                )
            retry_after = str(state.faults.retry_after_seconds)
            return json_answer(status, body, {"Retry-After": retry_after})
        status, body, headers = errors.monthly_limit(state)  # rate_limit_daily / _monthly
        return json_answer(status, body, headers)

    def _revoke(self, scope: Scope, body: bytes) -> None:
        """Revoke the grant of whoever makes this request (access token, or refresh token)."""
        state = self.state
        token = state.access_tokens.get(bearer_token(scope))
        if token is None:
            refresh = form_fields(body).get("refresh_token", [""])[0]
            token = state.refresh_tokens.get(refresh)
        if token is not None:
            state.revoke_grant(token.account_id, token.client_id)


def _is_login(path: str) -> bool:
    return "/oauth2/" in path or path.endswith("/adminconsent")
