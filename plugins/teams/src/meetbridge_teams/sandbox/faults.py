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
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from meetbridge_teams.sandbox import errors

if TYPE_CHECKING:
    from meetbridge_teams.sandbox.state import SandboxState

KINDS = frozenset(
    {
        "5xx",
        "503_retry_after",
        "timeout_after_acting",
        "reset_before",
        "reset_after_acting",
        "rate_limit_qps",
        "rate_limit_daily",
        "rate_limit_monthly",
        "revoke_grant",
    }
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ConnectionDropped(Exception):
    """Raised after the response started so that uvicorn closes the socket mid-answer."""


@dataclass
class Fault:
    path_prefix: str
    kind: str
    method: str | None
    remaining: int


class Faults:
    """Armed faults, consumed in order by matching requests."""

    def __init__(self) -> None:
        self._armed: list[Fault] = []
        self._lock = threading.Lock()
        self.hang_seconds = 2.0
        self.retry_after_seconds = 3
        self.fired: list[tuple[str, str]] = []  # (kind, path), for tests to assert on

    def fail_next(
        self, path_prefix: str, kind: str, *, count: int = 1, method: str | None = None
    ) -> None:
        """Arm ``kind`` for the next ``count`` requests under ``path_prefix`` (and ``method``)."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {sorted(KINDS)}")
        with self._lock:
            self._armed.append(Fault(path_prefix, kind, method.upper() if method else None, count))

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def take(self, method: str, path: str) -> str | None:
        with self._lock:
            for fault in self._armed:
                if path.startswith(fault.path_prefix) and fault.method in (None, method):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._armed.remove(fault)
                    self.fired.append((fault.kind, path))
                    return fault.kind
        return None


def route_path(scope: Scope) -> str:
    """The request path inside the sandbox app, whether served alone or mounted."""
    root = scope.get("root_path", "") or ""
    path = scope["path"]
    return path[len(root) :] if root and path.startswith(root) else path


def _is_login(path: str) -> bool:
    return "/oauth2/" in path or path.endswith("/adminconsent")


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    raw = json.dumps(body).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    head += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": raw})


async def _drop(send: Send) -> None:
    # Announce a body that never comes, then fail: uvicorn closes the connection, and the
    # client reads a truncated answer, as with a reset in the middle of a response.
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
        }
    )
    raise ConnectionDropped("sandbox fault: connection dropped")


class FaultInjector:
    """Pure ASGI middleware applying armed faults (outside FastAPI's error handling)."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        kind = self.state.faults.take(scope["method"], path)
        if kind is None:
            await self.app(scope, receive, send)
            return
        faults = self.state.faults
        login = _is_login(path)
        if kind == "reset_before":
            await _drop(send)
        elif kind == "5xx":
            body = (
                errors.aad_body(
                    "server_error",
                    50000,
                    "There was an error issuing a token or an authorization code.",
                    self.state,
                )
                if login
                else errors.graph_body(
                    "generalException", "General exception while processing.", self.state
                )
            )
            await _send_json(send, 500, body)
        elif kind in {"503_retry_after", "rate_limit_qps"}:
            status = 503 if kind == "503_retry_after" else 429
            if login:
                body = errors.aad_body(
                    "temporarily_unavailable",
                    50196,
                    "The server is temporarily unavailable.",
                    self.state,
                )
            elif status == 503:
                body = errors.graph_body(
                    "serviceNotAvailable",
                    "The service is temporarily unavailable. Retry after the indicated time.",
                    self.state,
                )
            else:
                body = errors.graph_body(
                    "TooManyRequests",
                    "Too many requests; retry after the indicated time.",
                    self.state,
                )
            await _send_json(send, status, body, {"Retry-After": str(faults.retry_after_seconds)})
        elif kind in {"rate_limit_daily", "rate_limit_monthly"}:
            status, body, headers = errors.monthly_limit(self.state)
            await _send_json(send, status, body, headers)
        elif kind == "revoke_grant":
            receive = await self._revoke_caller(scope, receive)
            await self.app(scope, receive, send)
        else:  # timeout_after_acting, reset_after_acting: act first, answer badly after
            captured: list[Message] = []

            async def capture(message: Message) -> None:
                captured.append(message)

            await self.app(scope, receive, capture)
            if kind == "reset_after_acting":
                await _drop(send)
            await asyncio.sleep(faults.hang_seconds)
            for message in captured:
                await send(message)

    async def _revoke_caller(self, scope: Scope, receive: Receive) -> Receive:
        """Revoke the grant of whoever makes this request; return a receive that replays it."""
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        state = self.state
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        bearer = headers.get("authorization", "").removeprefix("Bearer ").strip()
        token = state.access_tokens.get(bearer)
        if token is None:
            form = {k: v[0] for k, v in parse_qs(raw.decode(errors="replace")).items()}
            token = state.refresh_tokens.get(form.get("refresh_token", ""))
        if token is not None:
            state.revoke_grant(token.account_id, token.client_id)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()  # only a disconnect can come now
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        return replay
