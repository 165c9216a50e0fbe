"""What Zoom checks before an API call does anything: token, scopes, rate limits.

Each check raises :class:`ZoomError`, which the app turns into Zoom's error shape
``{"code": ..., "message": ...}`` with the right HTTP status (and headers for 429s).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC

from fastapi import Request

from meetbridge_zoom.sandbox.faults import daily_body, daily_headers, qps_body, qps_headers
from meetbridge_zoom.sandbox.state import SandboxState
from meetbridge_zoom.sandbox.world import Grant, SandboxUser

QPS_WINDOW_SECONDS = 1.0


class ZoomError(Exception):
    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.errors = errors

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body


@dataclass(frozen=True)
class Caller:
    """Who is calling: the token's grant and user."""

    grant: Grant
    user: SandboxUser
    scopes: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Need:
    """Scopes that allow an operation: on the caller's own data, or (admin) anyone's."""

    own: tuple[str, ...]
    admin: tuple[str, ...]

    def missing_message(self, others: bool, classic: bool) -> str:
        wanted = [
            s
            for s in (self.admin if others else self.own + self.admin)
            if is_classic_scope(s) == classic
        ]
        return f"Invalid access token, does not contain scopes:[{', '.join(wanted)}]."


READ_USER = Need(
    ("user:read", "user:read:user", "user:write"),
    ("user:read:admin", "user:read:user:admin", "user:write:admin"),
)
CREATE_MEETING = Need(
    ("meeting:write", "meeting:write:meeting"),
    ("meeting:write:admin", "meeting:write:meeting:admin"),
)
UPDATE_MEETING = Need(
    ("meeting:write", "meeting:update:meeting"),
    ("meeting:write:admin", "meeting:update:meeting:admin"),
)
DELETE_MEETING = Need(
    ("meeting:write", "meeting:delete:meeting"),
    ("meeting:write:admin", "meeting:delete:meeting:admin"),
)
READ_MEETING = Need(
    ("meeting:read", "meeting:write", "meeting:read:meeting"),
    ("meeting:read:admin", "meeting:write:admin", "meeting:read:meeting:admin"),
)
LIST_MEETINGS = Need(
    ("meeting:read", "meeting:write", "meeting:read:list_meetings"),
    ("meeting:read:admin", "meeting:write:admin", "meeting:read:list_meetings:admin"),
)
LIST_ROOMS = Need((), ("room:read:admin", "zoom_rooms:read:list_rooms:admin"))


def authenticate(state: SandboxState, request: Request) -> Caller:
    """The caller behind ``Authorization: Bearer``; 401 code 124 otherwise."""
    header = request.headers.get("authorization", "")
    value = header[7:].strip() if header.lower().startswith("bearer ") else ""
    with state.lock:
        token = state.live_token(value, "access") if value else None
        if token is None:
            raise ZoomError(401, 124, "Invalid access token.")
        if state.clock() >= token.expires_at:
            raise ZoomError(401, 124, "Access token is expired.")
        grant = state.grants[token.grant_id]
        return Caller(grant, state.users[grant.user_id], frozenset(grant.scopes))


def is_classic_scope(scope: str) -> bool:
    # Granular scopes have three parts before an optional ":admin" (meeting:write:meeting).
    return len(scope.removesuffix(":admin").split(":")) < 3


def _classic(scopes: Iterable[str]) -> bool:
    return all(is_classic_scope(s) for s in scopes)


def require(caller: Caller, need: Need, *, others: bool) -> None:
    """400 code 4711 unless the grant holds a scope allowing the operation."""
    allowed = need.admin if others else need.own + need.admin
    if caller.scopes.intersection(allowed):
        return
    raise ZoomError(400, 4711, need.missing_message(others, _classic(caller.scopes)))


def target_user(state: SandboxState, caller: Caller, ident: str, need: Need) -> SandboxUser:
    """The user named in a path (``me``, an id or an email), with the scope check for it."""
    if ident == "me" or ident.lower() in {caller.user.id.lower(), caller.user.email}:
        require(caller, need, others=False)
        return caller.user
    require(caller, need, others=True)
    user = state.user(ident, caller.user.account_id)
    if user is None:
        raise ZoomError(404, 1001, f"User does not exist: {ident}.")
    return user


def check_qps(state: SandboxState, caller: Caller, category: str) -> None:
    """Zoom's per-account, per-second limit by plan and rate-limit label."""
    if not state.qps_enabled:
        return
    account = state.accounts[caller.user.account_id]
    limit = state.plan_qps.get(account.plan, state.plan_qps["pro"])[category]
    with state.lock:
        window = state.qps_windows.setdefault((account.id, category), deque())
        now = state.monotonic()
        while window and now - window[0] >= QPS_WINDOW_SECONDS:
            window.popleft()
        if len(window) >= limit:
            state.rate_limited += 1
            raise ZoomError(
                429,
                429,
                str(qps_body()["message"]),
                headers=qps_headers(category.capitalize(), limit),
            )
        window.append(now)


def count_daily(state: SandboxState, host: SandboxUser) -> None:
    """The per-host cap on meeting creates + updates per UTC day."""
    now = state.clock().astimezone(UTC)
    key = (host.id, now.date().isoformat())
    with state.lock:
        if state.daily_counts[key] >= state.daily_cap:
            state.rate_limited += 1
            raise ZoomError(
                429,
                429,
                str(daily_body(state.daily_cap)["message"]),
                headers=daily_headers(state.daily_cap, now),
            )
        state.daily_counts[key] += 1
