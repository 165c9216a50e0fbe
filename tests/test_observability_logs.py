"""Structured logs: one JSON object per line, carrying the request id (echoed to the caller)
or the job id, and never a header, cookie, token or API key."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from meetbridge.jobs import queue
from meetbridge.jobs.worker import Worker
from meetbridge.observability.logs import (
    ContextFilter,
    JsonFormatter,
    TextFormatter,
    bind_request_id,
    configure_logging,
    job_context,
    unbind_request_id,
    valid_request_id,
)
from meetbridge.settings import Settings
from meetbridge.testing.server import free_port

pytest_plugins = ["tests.web_fixtures"]

SESSION_COOKIE_VALUE = "eyJzZXNzaW9uIjoic2VjcmV0In0.cookie-secret-value"
API_KEY = "mb_ThisIsASecretApiKeyValue123"


class Captured:
    """Records of some loggers, formatted by the JSON formatter, one parsed dict per line."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    @property
    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines()]

    def access_lines(self, count: int) -> list[dict]:
        """The access log lines, once ``count`` are there (the server thread writes each
        right after its response went out)."""
        deadline = time.monotonic() + 5
        while True:
            found = [d for d in self.lines if d["logger"] == "meetbridge.web.access"]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.01)


@pytest.fixture
def captured() -> Iterator[Captured]:
    capture = Captured()
    handler = logging.StreamHandler(capture.stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    loggers = [logging.getLogger(n) for n in ("meetbridge", "tests.probe")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    yield capture
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


def record(message: str = "hello %s", *args: object, **kwargs: object) -> logging.LogRecord:
    probe = logging.getLogger("tests.probe")
    made = probe.makeRecord(
        probe.name, logging.INFO, __file__, 1, message, args or ("world",), None, **kwargs
    )
    ContextFilter().filter(made)
    return made


# -- the formatter ----------------------------------------------------------------------------


def test_a_line_is_one_json_object_with_the_documented_fields() -> None:
    line = JsonFormatter().format(record("two\nlines %s"))
    assert "\n" not in line
    doc = json.loads(line)
    assert doc.keys() == {"ts", "level", "logger", "message"}  # no ids when none is bound
    assert doc["level"] == "INFO" and doc["logger"] == "tests.probe"
    assert doc["message"] == "two\nlines world"
    assert doc["ts"].endswith("Z") and doc["ts"][10] == "T"


def test_request_and_job_ids_are_added_while_bound() -> None:
    token = bind_request_id("req-1")
    try:
        with job_context(42):
            doc = json.loads(JsonFormatter().format(record()))
        assert doc["request_id"] == "req-1" and doc["job_id"] == "42"
        after_job = json.loads(JsonFormatter().format(record()))
        assert after_job["request_id"] == "req-1" and "job_id" not in after_job
    finally:
        unbind_request_id(token)
    assert "request_id" not in json.loads(JsonFormatter().format(record()))


def test_an_exception_is_one_field_of_the_same_line() -> None:
    probe = logging.getLogger("tests.probe")
    try:
        raise ValueError("broken widget")
    except ValueError:
        made = probe.makeRecord(
            probe.name, logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    doc = json.loads(JsonFormatter().format(made))
    assert doc["message"] == "failed" and doc["level"] == "ERROR"
    assert "ValueError: broken widget" in doc["exception"] and "Traceback" in doc["exception"]


def test_headers_cookies_and_tokens_never_reach_a_line() -> None:
    made = record(
        "calling with Authorization: Bearer %s and cookie=%s",
        "tok-123456789",
        SESSION_COOKIE_VALUE,
        extra={
            "headers": {"authorization": f"Bearer {API_KEY}", "cookie": SESSION_COOKIE_VALUE},
            "cookies": {"meetbridge_session": SESSION_COOKIE_VALUE},
            "request": object(),
            "status": 200,
            "path": f"/api/v1/bookings?key={API_KEY}",
        },
    )
    line = JsonFormatter().format(made)
    doc = json.loads(line)
    assert "headers" not in doc and "cookies" not in doc and "request" not in doc
    assert doc["status"] == 200
    for secret in (API_KEY, SESSION_COOKIE_VALUE, "tok-123456789"):
        assert secret not in line
    assert "Authorization: ***" in doc["message"] or "Bearer ***" in doc["message"]


def test_text_format_keeps_the_ids_readable() -> None:
    token = bind_request_id("req-7")
    try:
        line = TextFormatter().format(record("booked %s", "it"))
    finally:
        unbind_request_id(token)
    assert line.endswith("INFO tests.probe [request_id=req-7]: booked it")


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("abc-123", True),
        ("Root=1-5f84c7a3-e1c2b0a4;Parent=x", False),  # ';' is outside the safe set
        ("has space", False),
        ("line\nbreak", False),
        ("x" * 128, True),
        ("x" * 129, False),
        ("", False),
    ],
)
def test_only_safe_request_ids_are_taken_from_callers(sent: str, kept: bool) -> None:
    assert (valid_request_id(sent) == sent) is kept


# -- configuration ----------------------------------------------------------------------------


@pytest.fixture
def root_logging() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def test_configure_logging_installs_one_handler_however_often_called(root_logging) -> None:
    stream = io.StringIO()
    configure_logging("INFO", json=False, stream=io.StringIO())
    configure_logging("WARNING", json=True, stream=stream)
    ours = [h for h in root_logging.handlers if h.get_name() == "meetbridge"]
    assert len(ours) == 1 and root_logging.level == logging.WARNING
    logging.getLogger("tests.elsewhere").warning("disk %s", "full")
    logging.getLogger("tests.elsewhere").info("not shown")
    [doc] = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert doc["message"] == "disk full" and doc["logger"] == "tests.elsewhere"


def test_log_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEETBRIDGE_CONFIG", raising=False)
    assert Settings().log.format == "json" and Settings().log.level == "INFO"
    monkeypatch.setenv("MEETBRIDGE_LOG__FORMAT", "text")
    monkeypatch.setenv("MEETBRIDGE_LOG__LEVEL", "debug")
    assert Settings().log.format == "text" and Settings().log.level == "DEBUG"
    monkeypatch.setenv("MEETBRIDGE_LOG__LEVEL", "chatty")
    with pytest.raises(ValidationError, match="Unknown log level"):
        Settings()


# -- the web app and the worker ---------------------------------------------------------------


async def test_a_request_id_is_echoed_and_on_the_access_log_line(stack, captured) -> None:
    headers = {
        "X-Request-ID": "trace-abc-123",
        "Cookie": f"meetbridge_session={SESSION_COOKIE_VALUE}",
        "Authorization": f"Bearer {API_KEY}",
    }
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        answer = await client.get("/login?next=/bookings&code=secret-code", headers=headers)
    assert answer.status_code == 200
    assert answer.headers["X-Request-ID"] == "trace-abc-123"
    [line] = captured.access_lines(1)
    assert line["request_id"] == "trace-abc-123"
    assert line["method"] == "GET" and line["path"] == "/login" and line["status"] == 200
    assert line["message"].startswith("GET /login 200 ")
    for secret in (SESSION_COOKIE_VALUE, API_KEY, "secret-code"):
        assert secret not in captured.text


async def test_an_unsafe_or_missing_request_id_is_replaced_by_a_fresh_one(stack, captured) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        unsafe = await client.get("/login", headers={"X-Request-ID": "<script>" + "x" * 200})
        missing = await client.get("/login")
    ids = [unsafe.headers["X-Request-ID"], missing.headers["X-Request-ID"]]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids) and ids[0] != ids[1]
    logged = [d["request_id"] for d in captured.access_lines(2)]
    assert logged == ids
    assert "<script>" not in captured.text


async def test_an_unexpected_error_is_logged_with_the_requests_id(
    stack, captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken() -> None:
        raise RuntimeError("readiness bug")

    monkeypatch.setattr(stack.app.state.readiness, "run", broken)
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        answer = await client.get(
            "/readyz", headers={"X-Request-ID": "err-req-9", "Authorization": f"Bearer {API_KEY}"}
        )
    assert answer.status_code == 500
    # The answer names the id the log lines carry, for a person to quote.
    assert answer.headers["X-Request-ID"] == "err-req-9"
    assert "Reference: err-req-9" in answer.text
    [access] = captured.access_lines(1)
    assert access["status"] == 500 and access["request_id"] == "err-req-9"
    [error] = [d for d in captured.lines if d["message"].startswith("unexpected error on")]
    assert (
        error["request_id"] == "err-req-9" and "RuntimeError: readiness bug" in error["exception"]
    )
    assert API_KEY not in captured.text


async def test_a_job_logs_with_its_job_id(meetbridge_services, captured) -> None:
    from meetbridge.conferencing.lifecycle import SyncOutcome

    probe = logging.getLogger("tests.probe")

    async def fine(payload: dict) -> SyncOutcome:
        probe.info("working on %s", payload["n"])
        return SyncOutcome(done=True)

    async def broken(payload: dict) -> SyncOutcome:
        raise RuntimeError("handler bug")

    worker = Worker(meetbridge_services, worker_id="w1")
    worker.handlers.update({"probe_fine": fine, "probe_broken": broken})
    with meetbridge_services.sessions() as session, session.begin():
        good = queue.enqueue(session, "probe_fine", {"n": 1}).id
        bad = queue.enqueue(session, "probe_broken", {}, max_attempts=1).id
    assert await worker.drain() == 2
    [working] = [d for d in captured.lines if d["message"] == "working on 1"]
    assert working["job_id"] == str(good) and "request_id" not in working
    [failed] = [d for d in captured.lines if d["message"] == f"job {bad} (probe_broken) failed"]
    assert failed["job_id"] == str(bad) and "RuntimeError: handler bug" in failed["exception"]
    dead = [d for d in captured.lines if "dead after" in d["message"]]
    assert [d["job_id"] for d in dead] == [str(bad)]
    probe.info("after the jobs")
    assert "job_id" not in captured.lines[-1]  # the worker's own lines carry none


# -- meetbridge serve, a real process ---------------------------------------------------------


def test_serve_writes_json_lines_with_request_ids(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEETBRIDGE_")}
    env["MEETBRIDGE_DATA_DIR"] = str(tmp_path / "data")
    proc = subprocess.Popen(
        [sys.executable, "-m", "meetbridge", "serve", "--no-worker", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        answer = httpx.get(
            f"{url}/login",
            headers={"X-Request-ID": "from-the-edge-1", "Cookie": f"x={SESSION_COOKIE_VALUE}"},
        )
        assert answer.headers["X-Request-ID"] == "from-the-edge-1"
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert any(d["logger"].startswith("uvicorn") for d in lines)  # uvicorn's lines too
    [access] = [d for d in lines if d["logger"] == "meetbridge.web.access"]
    assert access["request_id"] == "from-the-edge-1" and access["path"] == "/login"
    assert SESSION_COOKIE_VALUE not in err
