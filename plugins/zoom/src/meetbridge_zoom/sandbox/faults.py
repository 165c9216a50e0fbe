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
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from meetbridge_zoom.sandbox.paths import route_path

if TYPE_CHECKING:
    from meetbridge_zoom.sandbox.state import SandboxState

KINDS = frozenset(
    {
        "5xx",
        "503_retry_after",
        "timeout_after_acting",
        "reset_before",
        "reset_after_acting",
        "rate_limit_qps",
        "rate_limit_daily",
        "revoke_grant",
    }
)


@dataclass
class Fault:
    path_prefix: str
    kind: str
    method: str | None
    times: int


class Faults:
    def __init__(self) -> None:
        self._armed: list[Fault] = []
        self._lock = threading.Lock()
        self.fired: list[tuple[str, str]] = []  # (kind, path) of faults that happened

    def fail_next(
        self, path_prefix: str, kind: str, *, times: int = 1, method: str | None = None
    ) -> None:
        """Fail the next ``times`` requests under ``path_prefix`` (optionally one method)."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {sorted(KINDS)}")
        with self._lock:
            self._armed.append(Fault(path_prefix, kind, method.upper() if method else None, times))

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def take(self, method: str, path: str) -> str | None:
        with self._lock:
            for fault in self._armed:
                if path.startswith(fault.path_prefix) and fault.method in (None, method):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._armed.remove(fault)
                    self.fired.append((fault.kind, path))
                    return fault.kind
        return None


class FaultMiddleware:
    """Pure ASGI middleware: records requests and applies armed faults."""

    def __init__(self, app: Any, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], route_path(scope)
        with self.state.lock:
            self.state.requests.append((method, path))
        kind = self.state.faults.take(method, path)
        if kind is None:
            await self.app(scope, receive, send)
        elif kind == "5xx":
            await _json(send, 500, {"code": 500, "message": "Internal Error"})
        elif kind == "503_retry_after":
            await _json(
                send, 503, {"code": 503, "message": "Service Unavailable"}, {"retry-after": "3"}
            )
        elif kind == "rate_limit_qps":
            await _json(send, 429, qps_body(), qps_headers("Light", 30))
        elif kind == "rate_limit_daily":
            now = self.state.clock()
            await _json(
                send,
                429,
                daily_body(self.state.daily_cap),
                daily_headers(self.state.daily_cap, now),
            )
        elif kind == "revoke_grant":
            body = await _read_body(receive)
            for token in _tokens_in(scope, body):
                self.state.revoke_grant_of(token)
            await self.app(scope, _replay(body), send)
        elif kind == "reset_before":
            await _drop(send)
        else:  # acting first: timeout_after_acting, reset_after_acting
            held: list[dict[str, Any]] = []

            async def hold(message: dict[str, Any]) -> None:
                held.append(message)

            await self.app(scope, receive, hold)
            if kind == "reset_after_acting":
                await _drop(send)
                return
            await asyncio.sleep(self.state.hang_seconds)
            for message in held:
                await send(message)


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


async def _json(
    send: Any, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    raw = json.dumps(body).encode()
    pairs = [
        (b"content-type", b"application/json;charset=UTF-8"),
        (b"content-length", str(len(raw)).encode()),
    ]
    pairs += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": pairs})
    await send({"type": "http.response.body", "body": raw})


async def _drop(send: Any) -> None:
    # Promise a body, send part of it and stop: the server closes the connection (logging one
    # line, "returned without completing response") and the client sees the answer cut off,
    # as with a connection reset.
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"id":', "more_body": True})


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes) -> Any:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _tokens_in(scope: dict[str, Any], body: bytes) -> list[str]:
    """Bearer token of an API call, or the refresh/revoke token of an OAuth form."""
    found = []
    for name, value in scope.get("headers", []):
        if name == b"authorization" and value.lower().startswith(b"bearer "):
            found.append(value[7:].decode().strip())
    form = parse_qs(body.decode(errors="replace"))
    found += form.get("refresh_token", []) + form.get("token", [])
    return found
