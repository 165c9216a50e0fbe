"""Fault switches for a provider sandbox: fail the next matching request on demand.

The generic half of every sandbox's ``faults.py``. A sandbox declares its fault kinds (the
generic ones below plus its own HTTP error kinds), keeps a :class:`SandboxFaults` on its state
and installs :class:`FaultMiddleware` around its app, telling it how to answer its error kinds
and how to revoke the grant behind a request::

    faults = SandboxFaults(GENERIC_KINDS | {"5xx"})
    app.add_middleware(
        FaultMiddleware,
        faults=faults,
        error_response=lambda kind, path: json_answer(500, {"error": "internal"}),
        revoke_grant=lambda scope, body: state.revoke(bearer_token(scope)),
    )
    faults.fail_next("/v1/meetings", "reset_after_acting", method="POST")

Generic kinds, handled here:

``timeout_after_acting``  the app handles the request, then the answer is held back
                          ``hang_seconds`` (long enough for the client to time out)
``reset_before``          the connection drops mid-answer; the app never sees the request
``reset_after_acting``    the app handles the request, then the connection drops mid-answer
``revoke_grant``          the ``revoke_grant`` callback runs first, then the app handles the
                          request (and fails as it naturally would)

Any other kind is an HTTP error answered by the ``error_response`` factory. Paths are matched
below the app's mount point (the ASGI ``root_path``), so the same prefixes work whether the
sandbox is served alone or mounted under ``/sandbox/<provider>``. Tests arm faults from their
own thread while the server thread consumes them, so arming and consuming share a lock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ErrorResponse = Callable[[str, str], ASGIApp]  # (kind, path) -> an ASGI response
RevokeGrant = Callable[[Scope, bytes], None]  # (scope, request body) -> None

GENERIC_KINDS = frozenset(
    {"timeout_after_acting", "reset_before", "reset_after_acting", "revoke_grant"}
)

__all__ = [
    "GENERIC_KINDS",
    "ArmedFault",
    "ConnectionDropped",
    "FaultMiddleware",
    "FiredFault",
    "SandboxFaults",
    "bearer_token",
    "drop_connection",
    "form_fields",
    "install_log_filter",
    "json_answer",
    "query_fields",
    "route_path",
]


# -- the switches -------------------------------------------------------------------------------


@dataclass
class ArmedFault:
    """A fault waiting for ``remaining`` more requests under ``path_prefix``."""

    path_prefix: str
    kind: str
    method: str | None  # upper case; None matches every method
    remaining: int

    def matches(self, method: str, path: str) -> bool:
        return path.startswith(self.path_prefix) and self.method in (None, method)


class FiredFault(NamedTuple):
    """A fault that happened: its kind and the request path (below the mount point)."""

    kind: str
    path: str


class SandboxFaults:
    """The armed faults, consumed in the order they were armed by matching requests.

    ``kinds`` is every kind :meth:`fail_next` accepts (the sandbox's vocabulary);
    ``hang_seconds`` is how long ``timeout_after_acting`` holds an answer back;
    ``fired`` records each fault that happened, for tests to assert on.
    """

    def __init__(self, kinds: Iterable[str] = GENERIC_KINDS, *, hang_seconds: float = 2.0) -> None:
        self.kinds = frozenset(kinds)
        self.hang_seconds = hang_seconds
        self.armed: list[ArmedFault] = []
        self.fired: list[FiredFault] = []
        self._lock = threading.Lock()

    def fail_next(
        self, path_prefix: str, kind: str, *, times: int = 1, method: str | None = None
    ) -> None:
        """Fail the next ``times`` requests under ``path_prefix`` (optionally one method)."""
        if kind not in self.kinds:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {sorted(self.kinds)}")
        fault = ArmedFault(path_prefix, kind, method.upper() if method else None, times)
        with self._lock:
            self.armed.append(fault)

    def clear(self) -> None:
        """Disarm every fault not yet fired (``fired`` is kept)."""
        with self._lock:
            self.armed.clear()

    def take(self, method: str, path: str) -> str | None:
        """The kind of the first fault armed for this request, consuming one use of it."""
        with self._lock:
            for fault in self.armed:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self.armed.remove(fault)
                    self.fired.append(FiredFault(fault.kind, path))
                    return fault.kind
        return None

    # The middleware calls this name, so a sandbox may give ``take`` its own argument order.
    _take = take


# -- the middleware -----------------------------------------------------------------------------


def route_path(scope: Scope) -> str:
    """The request path below the app's mount point (the ASGI ``root_path``)."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "") or ""
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


class FaultMiddleware:
    """Pure ASGI middleware applying armed faults before the app sees a request.

    ``faults`` is the :class:`SandboxFaults`, or a function returning it (looked up on every
    request). ``error_response(kind, path)`` answers the sandbox's own error kinds with an ASGI
    response (a Starlette ``Response`` or :func:`json_answer`); ``revoke_grant(scope, body)``
    revokes the grant behind a request for ``revoke_grant``; ``hang_seconds()``, when given,
    replaces ``faults.hang_seconds``. Installs :func:`install_log_filter`.
    """

    def __init__(
        self,
        app: ASGIApp,
        faults: SandboxFaults | Callable[[], SandboxFaults],
        *,
        error_response: ErrorResponse | None = None,
        revoke_grant: RevokeGrant | None = None,
        hang_seconds: Callable[[], float] | None = None,
    ) -> None:
        self.app = app
        self._faults = faults
        self._error_response = error_response
        self._revoke_grant = revoke_grant
        self._hang_seconds = hang_seconds
        install_log_filter()

    def faults(self) -> SandboxFaults:
        return self._faults if isinstance(self._faults, SandboxFaults) else self._faults()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        faults = self.faults()
        path = route_path(scope)
        kind = faults._take(scope["method"], path)
        if kind is None:
            await self.app(scope, receive, send)
        elif kind == "reset_before":
            await drop_connection(send)
        elif kind == "reset_after_acting":
            await self.app(scope, receive, _discard)
            await drop_connection(send)
        elif kind == "timeout_after_acting":
            held: list[Message] = []

            async def hold(message: Message) -> None:
                held.append(message)

            await self.app(scope, receive, hold)
            wait = self._hang_seconds() if self._hang_seconds else faults.hang_seconds
            await asyncio.sleep(wait)
            for message in held:
                await send(message)
        elif kind == "revoke_grant":
            if self._revoke_grant is None:
                raise LookupError("fault 'revoke_grant' fired but no revoke_grant was given")
            body = await _read_body(receive)
            self._revoke_grant(scope, body)
            await self.app(scope, _replay(body, receive), send)
        else:
            if self._error_response is None:
                raise LookupError(f"fault {kind!r} fired but no error_response was given")
            await self._error_response(kind, path)(scope, receive, send)


def json_answer(
    status: int,
    body: Any,
    headers: dict[str, str] | None = None,
    *,
    content_type: str = "application/json",
) -> ASGIApp:
    """An ASGI response sending ``body`` as JSON (header names are sent lower case)."""
    raw = json.dumps(body).encode()
    pairs = [(b"content-type", content_type.encode()), (b"content-length", str(len(raw)).encode())]
    pairs += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]

    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": pairs})
        await send({"type": "http.response.body", "body": raw})

    return answer


# -- dropping connections -----------------------------------------------------------------------


class ConnectionDropped(Exception):
    """Raised after the response has started, which makes uvicorn close the socket."""


async def drop_connection(send: Send) -> None:
    """Promise a body that never comes, then fail: the server closes the connection.

    The client reads the status line and headers, then the connection ends before the body,
    as with a reset in the middle of an answer (httpx: ``RemoteProtocolError``).
    """
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )
    raise ConnectionDropped("sandbox fault: connection dropped")


class _QuietDrops(logging.Filter):
    """Keep uvicorn from logging the sandbox's deliberate connection drops as crashes."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped)


_quiet = _QuietDrops()


def install_log_filter() -> None:
    """Silence uvicorn's "Exception in ASGI application" for :class:`ConnectionDropped`."""
    logger = logging.getLogger("uvicorn.error")
    if _quiet not in logger.filters:
        logger.addFilter(_quiet)


# -- reading the request, for revoke_grant callbacks --------------------------------------------


def bearer_token(scope: Scope) -> str:
    """The token of ``Authorization: Bearer ...`` (any case of "Bearer"), or ``""``."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization":
            text = value.decode("latin-1")
            if text.lower().startswith("bearer "):
                return text[7:].strip()
    return ""


def form_fields(body: bytes) -> dict[str, list[str]]:
    """The fields of a form-encoded request body."""
    return parse_qs(body.decode("utf-8", "replace"))


def query_fields(scope: Scope) -> dict[str, list[str]]:
    """The fields of the request's query string."""
    return parse_qs(scope.get("query_string", b"").decode("utf-8", "replace"))


async def _discard(message: Message) -> None:
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive giving the app the body already read, then the connection's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # only a disconnect can come now
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
