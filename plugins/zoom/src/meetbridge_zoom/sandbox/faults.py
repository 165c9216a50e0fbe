"""Fault switches: make the sandbox fail the next matching request in a chosen way.

``state.faults.fail_next("/v2/users/me/meetings", "timeout_after_acting")`` arms one fault for
the next request whose path (below the app's mount point) starts with that prefix. Kinds:

``5xx``                   answer 500 without acting
``503_retry_after``       answer 503 with ``Retry-After: 3`` without acting
``timeout_after_acting``  act, then hold the answer back ``state.hang_seconds``
``reset_before``          drop the connection mid-answer without acting
``reset_after_acting``    act, then drop the connection mid-answer
``rate_limit_qps``        answer 429 as Zoom's per-second limit does
``rate_limit_daily``      answer 429 as Zoom's daily create/update cap does
``revoke_grant``          revoke the grant behind the request's token, then handle it

The switches and the middleware are meetbridge's sandbox fault kit
(:mod:`meetbridge.testing.sandbox_faults`); this module adds Zoom's error answers, how a grant
is revoked here, and the request log.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from meetbridge.testing import sandbox_faults as kit
from meetbridge.testing.sandbox_faults import (
    GENERIC_KINDS,
    ArmedFault,
    SandboxFaults,
    bearer_token,
    form_fields,
    json_answer,
)
from meetbridge_zoom.sandbox.paths import route_path

if TYPE_CHECKING:
    from meetbridge.testing.sandbox_faults import ASGIApp, Receive, Scope, Send
    from meetbridge_zoom.sandbox.state import SandboxState

KINDS = GENERIC_KINDS | {"5xx", "503_retry_after", "rate_limit_qps", "rate_limit_daily"}

Fault = ArmedFault


class Faults(SandboxFaults):
    """The armed faults; ``fired`` lists ``(kind, path)`` of those that happened.

    (Zoom's sandbox holds ``timeout_after_acting`` answers for ``state.hang_seconds``.)
    """

    def __init__(self) -> None:
        super().__init__(KINDS)


class FaultMiddleware(kit.FaultMiddleware):
    """Pure ASGI middleware: records requests and applies armed faults."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        super().__init__(
            app,
            lambda: state.faults,
            error_response=self._error,
            revoke_grant=self._revoke,
            hang_seconds=lambda: state.hang_seconds,
        )
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            with self.state.lock:
                self.state.requests.append((scope["method"], route_path(scope)))
        await super().__call__(scope, receive, send)

    def _error(self, kind: str, path: str) -> ASGIApp:
        if kind == "5xx":
            return _json(500, {"code": 500, "message": "Internal Error"})
        if kind == "503_retry_after":
            body = {"code": 503, "message": "Service Unavailable"}
            return _json(503, body, {"retry-after": "3"})
        if kind == "rate_limit_qps":
            return _json(429, qps_body(), qps_headers("Light", 30))
        cap = self.state.daily_cap  # rate_limit_daily
        return _json(429, daily_body(cap), daily_headers(cap, self.state.clock()))

    def _revoke(self, scope: Scope, body: bytes) -> None:
        """Revoke behind the bearer token of an API call, or the tokens of an OAuth form."""
        form = form_fields(body)
        for token in [bearer_token(scope), *form.get("refresh_token", []), *form.get("token", [])]:
            if token:
                self.state.revoke_grant_of(token)


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> ASGIApp:
    return json_answer(status, body, headers, content_type="application/json;charset=UTF-8")


def qps_body() -> dict[str, Any]:
    return {
        "code": 429,
        "message": "You have reached the maximum per-second rate limit for this"
        " API. Try again later.",
    }


def qps_headers(category: str, limit: int) -> dict[str, str]:
    return {
        "x-ratelimit-category": category,
        "x-ratelimit-type": "QPS",
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-remaining": "0",
    }


def daily_body(cap: int) -> dict[str, Any]:
    return {
        "code": 429,
        "message": f"You have exceeded the daily rate limit ({cap}) of Meeting"
        " Create/Update API requests permitted for this particular user. You may resume"
        " these requests at GMT 00:00:00.",
    }


def daily_headers(cap: int, now: datetime) -> dict[str, str]:
    day = now.astimezone(UTC).date() + timedelta(days=1)
    return {
        "x-ratelimit-category": "Medium",
        "x-ratelimit-type": "Daily-limit",
        "x-ratelimit-limit": str(cap),
        "x-ratelimit-remaining": "0",
        "retry-after": f"{day.isoformat()}T00:00:00Z",
    }
