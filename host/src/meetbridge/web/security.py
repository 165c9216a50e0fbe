"""Web security plumbing: the session secret, CSRF tokens, security headers, a redacting
access log that gives each request an id.

Sessions are signed cookies (Starlette's ``SessionMiddleware``, itsdangerous): HttpOnly,
SameSite=Lax, and Secure whenever the public base URL is https. Every form carries a CSRF token
bound to the session (synchroniser token); SameSite=Lax is a second line, not the only one.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from typing import TYPE_CHECKING, Any

from starlette.datastructures import FormData, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from meetbridge.observability import metrics
from meetbridge.observability.logs import (
    REQUEST_ID_HEADER,
    bind_request_id,
    new_request_id,
    unbind_request_id,
    valid_request_id,
)

if TYPE_CHECKING:
    from meetbridge.settings import Settings

SESSION_COOKIE = "meetbridge_session"
CSRF_FIELD = "csrf_token"
access_log = logging.getLogger("meetbridge.web.access")


class CsrfFailed(Exception):
    """A form came without this session's CSRF token (forged, or the session expired)."""


def session_secret(settings: Settings) -> str:
    """``settings.web.session_secret``, else a key derived from the vault's primary key (so
    one configured secret is enough; rotating the vault key signs everyone out)."""
    configured = settings.web.session_secret.get_secret_value()
    if configured:
        return configured
    from meetbridge.vault import load_keys

    primary = load_keys(settings)[0]
    return hmac.new(primary.encode(), b"meetbridge web sessions v1", hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


async def verified_form(request: Request) -> FormData:
    """The submitted form, after checking its CSRF token against the session's."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = request.session.get("csrf")
    if (
        not isinstance(sent, str)
        or not expected
        or not hmac.compare_digest(sent.encode(), str(expected).encode())
    ):
        raise CsrfFailed()
    return form


# -- headers ----------------------------------------------------------------------------------

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " object-src 'none'; base-uri 'self'; frame-ancestors {frames}"
)


class SecurityHeaders:
    """Adds security headers to every response of meetbridge's own pages and API.

    Booking pages may be embedded on other sites (that is what the embed snippet is for);
    nothing else may be framed. Mounted provider sandboxes keep their own headers.
    """

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/sandbox/"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        embeddable = path.startswith("/book/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                headers.setdefault(
                    "Content-Security-Policy", _CSP.format(frames="*" if embeddable else "'none'")
                )
                if not embeddable:
                    headers.setdefault("X-Frame-Options", "DENY")
                if not path.startswith("/static/"):
                    headers.setdefault("Cache-Control", "no-store")
                if self.https:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, send_with_headers)


# -- access log -------------------------------------------------------------------------------

# Path segments that are secrets: connect-link tokens and calendar feed tokens. (Manage
# tokens travel in the query string, which is never logged.)
_SECRET_PATHS = (
    (re.compile(r"^(/connect/link/)[^/]+"), r"\1***"),
    (re.compile(r"^(/feeds/)[^/]+"), r"\1***"),
)


def redact_path(path: str) -> str:
    for pattern, replacement in _SECRET_PATHS:
        path = pattern.sub(replacement, path)
    return path


# Probes and scrapes come every few seconds: logged at DEBUG so they do not drown the rest.
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or ():
        if name == b"x-request-id":
            return valid_request_id(value.decode("latin-1"))
    return None


class AccessLog:
    """Gives every request an id and writes one line for it: method, path with secrets
    redacted, status, duration. Query strings, headers and cookies are never logged (OAuth
    callbacks carry codes and state in the query; sessions and API keys travel in headers).

    The id is the caller's ``X-Request-ID`` when it is a safe token (1-128 characters of
    ``A-Z a-z 0-9 . _ : + / = -``), else a fresh one. It is bound for the request's duration,
    so every log line written while handling it (and by tasks it starts) carries it, and it is
    returned in the ``X-Request-ID`` response header. Also counts the request in the HTTP
    metrics (by route template, never the raw path).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500}
        request_id = _incoming_request_id(scope) or new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        bound = bind_request_id(request_id)

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        failed = False
        try:
            await self.app(scope, receive, record)
        except BaseException:
            failed = True
            raise
        finally:
            elapsed = time.perf_counter() - started
            path = redact_path(scope["path"])
            metrics.observe_http(scope, status["code"], elapsed)
            access_log.log(
                logging.DEBUG if scope["path"] in _QUIET_PATHS else logging.INFO,
                "%s %s %s %.0fms",
                scope["method"],
                path,
                status["code"],
                elapsed * 1000,
                extra={
                    "method": scope["method"],
                    "path": path,
                    "status": status["code"],
                    "duration_ms": round(elapsed * 1000, 1),
                },
            )
            if not failed:
                unbind_request_id(bound)
            # else: the app's "unexpected error" handler and the server log the exception
            # after this, further out, in this request's own task: they keep the id.
