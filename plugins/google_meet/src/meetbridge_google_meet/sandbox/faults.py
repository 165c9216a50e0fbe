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
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from meetbridge_google_meet.sandbox.errors import fault_response

if TYPE_CHECKING:
    from meetbridge_google_meet.sandbox.state import SandboxState

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

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
FAULT_KINDS = ERROR_KINDS | {
    "timeout_after_acting",
    "reset_before",
    "reset_after_acting",
    "revoke_grant",
}
OAUTH_PREFIXES = ("/token", "/revoke", "/o/oauth2", "/v1/userinfo")


class ConnectionDropped(Exception):
    """Raised after the response has started, which makes uvicorn close the socket."""


class _QuietDrops(logging.Filter):
    """Keep uvicorn from logging the sandbox's deliberate connection drops as crashes."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped)


_quiet = _QuietDrops()


def install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if _quiet not in logger.filters:
        logger.addFilter(_quiet)


@dataclass
class _Planned:
    prefix: str
    kind: str
    remaining: int
    method: str | None


@dataclass
class Faults:
    """The planned faults, consumed in order by matching requests."""

    hang_seconds: float = 2.0
    planned: list[_Planned] = field(default_factory=list)
    triggered: list[tuple[str, str]] = field(default_factory=list)
    # Tests arm faults from their own thread while the server thread consumes them.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fail_next(
        self, path_prefix: str, kind: str, *, times: int = 1, method: str | None = None
    ) -> None:
        """Make the next ``times`` requests whose path starts with ``path_prefix`` fail."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {sorted(FAULT_KINDS)}")
        plan = _Planned(path_prefix, kind, times, method.upper() if method else None)
        with self._lock:
            self.planned.append(plan)

    def clear(self) -> None:
        with self._lock:
            self.planned.clear()

    def take(self, path: str, method: str) -> str | None:
        """The fault for this request, if one is armed for it (consuming it)."""
        with self._lock:
            for plan in self.planned:
                if path.startswith(plan.prefix) and plan.method in (None, method):
                    plan.remaining -= 1
                    if plan.remaining <= 0:
                        self.planned.remove(plan)
                    self.triggered.append((path, plan.kind))
                    return plan.kind
        return None


def relative_path(scope: Scope) -> str:
    """The request path inside the sandbox, whether it is mounted under a prefix or not."""
    path: str = scope.get("path", "")
    root = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class FaultMiddleware:
    """ASGI middleware applying :class:`Faults` before the sandbox's routes see a request."""

    def __init__(self, app: Callable[..., Awaitable[None]], state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = relative_path(scope)
        kind = self.state.faults.take(path, scope["method"])
        if kind is None:
            await self.app(scope, receive, send)
        elif kind in ERROR_KINDS:
            response = fault_response(kind, oauth=path.startswith(OAUTH_PREFIXES))
            await response(scope, receive, send)
        elif kind == "reset_before":
            await _drop(send)
        elif kind == "reset_after_acting":
            await self.app(scope, receive, _discard)
            await _drop(send)
        elif kind == "timeout_after_acting":
            held: list[Message] = []

            async def hold(message: Message) -> None:
                held.append(message)

            await self.app(scope, receive, hold)
            await asyncio.sleep(self.state.faults.hang_seconds)
            for message in held:
                await send(message)
        else:  # revoke_grant
            body = await _read_body(receive)
            token = _bearer(scope) or _form_token(body) or _query_token(scope)
            if token:
                self.state.revoke_token_grant(token)
            await self.app(scope, _replay(body), send)


async def _discard(message: Message) -> None:
    return None


async def _drop(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )
    raise ConnectionDropped("sandbox fault: connection dropped")


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _bearer(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization":
            text = value.decode("latin-1")
            if text.lower().startswith("bearer "):
                return text[7:].strip()
    return ""


def _form_token(body: bytes) -> str:
    form = parse_qs(body.decode("utf-8", "replace"))
    for key in ("refresh_token", "token"):
        if form.get(key):
            return form[key][0]
    return ""


def _query_token(scope: Scope) -> str:
    query = parse_qs(scope.get("query_string", b"").decode("utf-8", "replace"))
    return query["token"][0] if query.get("token") else ""
