"""Structured logs: one JSON object per line, each carrying the request or job it belongs to.

The web middleware (:class:`meetbridge.web.security.AccessLog`) binds a request id and the job
worker binds a job id (:func:`job_scoped`) in context variables; :class:`ContextFilter` copies
them onto every record, and :class:`JsonFormatter` writes::

    {"ts": "2026-11-30T12:00:00.123Z", "level": "INFO", "logger": "meetbridge.web.access",
     "message": "GET /bookings 200 12ms", "request_id": "9f1c...", "method": "GET", ...}

Secrets stay out: the formatter writes a fixed set of fields (never arbitrary ``extra``
attributes such as headers or cookies), and masks bearer tokens, API keys, cookies and
authorization values should a message or a traceback ever quote one.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import IO, Any, Literal, TypeVar

request_id_var: ContextVar[str | None] = ContextVar("meetbridge_request_id", default=None)
job_id_var: ContextVar[str | None] = ContextVar("meetbridge_job_id", default=None)

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+/=-]{0,127}$")

# Extra attributes (``log.info(..., extra={...})``) that may appear in a JSON line: code-chosen
# scalars. Anything else passed as ``extra`` (headers, cookies, request objects) is dropped.
EXTRA_FIELDS = (
    "method",
    "path",
    "status",
    "duration_ms",
    "provider",
    "operation",
    "outcome",
    "job_kind",
)
_MAX_FIELD = 500

_SECRETS = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 ***"),
    (
        re.compile(
            r"(?i)\b(authorization|proxy-authorization|cookie|set-cookie|x-api-key)"
            r"""(["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,;]+)"""
        ),
        r"\1\2***",
    ),
    (re.compile(r"\bmb_[A-Za-z0-9_\-]{8,}"), "mb_***"),
)


def scrub(text: str) -> str:
    """``text`` with bearer tokens, API keys and cookie/authorization values masked."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


# -- context ---------------------------------------------------------------------------------


def valid_request_id(value: str | None) -> str | None:
    """``value`` if it is usable as a request id (1-128 characters of a safe set), else None.

    An incoming ``X-Request-ID`` is written to logs and echoed in a header: anything longer,
    or with spaces, quotes or control characters, is replaced by a fresh id.
    """
    if value and _REQUEST_ID.match(value):
        return value
    return None


def new_request_id() -> str:
    return uuid.uuid4().hex


def bind_request_id(value: str) -> Token[str | None]:
    return request_id_var.set(value)


def unbind_request_id(token: Token[str | None]) -> None:
    request_id_var.reset(token)


@contextmanager
def job_context(job_id: int | str) -> Iterator[None]:
    """Records logged inside carry ``job_id`` (tasks started inside inherit it)."""
    token = job_id_var.set(str(job_id))
    try:
        yield
    finally:
        job_id_var.reset(token)


_R = TypeVar("_R")


def job_scoped(
    method: Callable[..., Awaitable[_R]],
) -> Callable[..., Awaitable[_R]]:
    """Decorate ``async def method(self, job, ...)``: it runs inside :func:`job_context`."""

    @functools.wraps(method)
    async def wrapper(self: Any, job: Any, *args: Any, **kwargs: Any) -> _R:
        with job_context(job.id):
            return await method(self, job, *args, **kwargs)

    return wrapper


class ContextFilter(logging.Filter):
    """Puts the current ``request_id`` and ``job_id`` on every record (None when unset)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        if getattr(record, "job_id", None) is None:
            record.job_id = job_id_var.get()
        return True


# -- formatters ------------------------------------------------------------------------------


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(record.msecs):03d}Z"


def _scalar(value: Any) -> Any:
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, str):
        return scrub(value[:_MAX_FIELD])
    return None  # not a scalar: never serialised (it could be a header dict)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, request_id and job_id when set,
    the whitelisted extras (:data:`EXTRA_FIELDS`), exception when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for name in ("request_id", "job_id"):
            value = getattr(record, name, None)
            if value is not None:
                doc[name] = str(value)
        for name in EXTRA_FIELDS:
            value = _scalar(getattr(record, name, None))
            if value is not None:
                doc[name] = value
        if record.exc_info:
            doc["exception"] = scrub(self.formatException(record.exc_info))
        elif record.exc_text:
            doc["exception"] = scrub(record.exc_text)
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """A readable line: time, level, logger, ``[request_id job_id]``, message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        ids = [
            f"{name}={value}"
            for name in ("request_id", "job_id")
            if (value := getattr(record, name, None)) is not None
        ]
        record.context = f" [{' '.join(ids)}]" if ids else ""
        return scrub(super().format(record))


# -- set-up ----------------------------------------------------------------------------------

_HANDLER_NAME = "meetbridge"


class _StandardError(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


def configure_logging(
    level: str | int = "INFO",
    json: bool = True,
    *,
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Send every logger's records to ``stream`` (stderr) as JSON lines or readable text.

    Replaces the handler an earlier call installed (calling it twice does not double lines)
    and leaves other handlers alone. uvicorn's loggers propagate to it when uvicorn runs with
    ``log_config=None``.
    """
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
            existing.close()
    handler: logging.Handler = (
        logging.StreamHandler(stream) if stream is not None else _StandardError()
    )
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    return handler


def configure_from_settings(settings: Any) -> logging.Handler:
    """:func:`configure_logging` from ``settings.log``: ``MEETBRIDGE_LOG__FORMAT``
    (``json``/``text``) and ``MEETBRIDGE_LOG__LEVEL``."""
    fmt: Literal["json", "text"] = settings.log.format
    return configure_logging(settings.log.level, json=fmt == "json")
