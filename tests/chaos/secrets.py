"""The secrets scan of a campaign: no provider secret in plaintext anywhere meetbridge writes.

ARCHITECTURE.md's security model, as a check: tokens and host start links are never in
plaintext in the database, the logs, the HTML and API answers given to non-hosts, error
messages, or the messages in the outbox. During a run, :class:`SecretLedger` records every
secret the three sandboxes issue (access, refresh and ID tokens, authorization codes, Zoom
start tokens) besides the static ones (client and webhook secrets); :class:`LogCapture`
keeps every log record of the run, at every level, tracebacks included. After the run,
:func:`scan_stage` looks for each secret in

* every text, JSON and binary column of every table (raw SQL, so nothing the ORM hides is
  missed) and, on SQLite, the raw bytes of the database file and its WAL (deleted rows and
  old page images included);
* the error messages (jobs, connections, meetings, outbox) and each booking's explanation;
* every message in the outbox rendered as it is sent (MIME with its ICS, sealed values
  opened), the ``.eml`` files already sent, and the files of the work directory;
* the pages and API answers an attendee or a platform gets, through the real web app;
* every log record.

Each finding says where (``table.column row id``, ``logger name``, ``page URL``) and which
kind of secret it was; the value itself is never printed, only a short fingerprint.
"""

from __future__ import annotations

import base64
import bisect
import email
import email.policy
import hashlib
import json
import logging
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import httpx
from sqlalchemy import MetaData, Table, select
from sqlalchemy.engine import Engine, make_url

if TYPE_CHECKING:
    from tests.chaos.invariants import Check
    from tests.chaos.sandboxes import Sandboxes
    from tests.chaos.stage import Stage

# Every page an attendee sees is scanned for this many bookings (spread over the run).
PAGE_SAMPLE = 12
EXPLAINED = 40  # bookings whose explanation (with its error texts) is rendered and scanned
# The work directory's files that hold secrets on purpose: the config a worker process is
# started with (0600; the client secrets are configuration, like a settings file).
CONFIG_FILES = {"process.json"}
CHECK_NAME = "secrets found in plaintext"
HARNESS_LOGGERS = {"httpx", "httpcore"}  # the harness's HTTP client, acting as a browser
_STANDARD_RECORD_KEYS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


@dataclass(frozen=True)
class Secret:
    kind: str  # "zoom access token", "google_meet authorization code", ...
    value: str
    # Where the secret may appear: an attendee's own manage token is in their email and on
    # their manage page, by design. Empty: nowhere.
    allowed: frozenset[str] = frozenset()

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.value.encode()).hexdigest()[:8]

    def needles(self) -> list[str]:
        """The strings whose presence means the secret leaked: the value as it is, URL-encoded
        and JSON-escaped; of a long token only its first 20 characters (a token cut short in
        a log line is still a leak, and fewer, shorter needles search faster). A JWT's header
        is the same in every token; its signature is what is secret."""
        value = self.value
        parts = value.split(".")
        if len(parts) == 3 and value.startswith("eyJ"):
            return [parts[2]]
        forms = {value, quote(value, safe=""), value.replace("/", "\\/")}
        return sorted({f[:20] if len(value) >= 32 else f for f in forms})


@dataclass(frozen=True)
class Finding:
    where: str
    kind: str
    fingerprint: str

    def __str__(self) -> str:
        value = f" (sha256 {self.fingerprint}…)" if self.fingerprint else ""
        return f"{self.kind}{value} in {self.where}"


class Needles:
    """Every needle of every secret, searched for in texts and located when present."""

    def __init__(self, secrets: Iterable[Secret]) -> None:
        self.secrets = list({s.value: s for s in secrets if s.value}.values())
        self._text = [(n, s) for s in self.secrets for n in s.needles()]
        self._bytes = [(n.encode(), s) for n, s in self._text]

    def __len__(self) -> int:
        return len(self.secrets)

    def search(self, items: list[tuple[str, str]], scope: str = "") -> list[Finding]:
        """``items`` are (where, text); one finding per (where, secret)."""
        if not items:
            return []
        joined = "\x00".join(text for _, text in items)
        starts, at = [], 0
        for _, text in items:
            starts.append(at)
            at += len(text) + 1
        found: dict[tuple[str, str], Finding] = {}
        for needle, secret in self._text:
            if needle not in joined or scope in secret.allowed:
                continue
            pos = joined.find(needle)
            while pos != -1:
                where = items[bisect.bisect_right(starts, pos) - 1][0]
                found.setdefault(
                    (where, secret.value), Finding(where, secret.kind, secret.fingerprint)
                )
                pos = joined.find(needle, pos + 1)
        return list(found.values())

    def search_bytes(self, where: str, data: bytes) -> list[Finding]:
        found: dict[str, Finding] = {}
        for needle, secret in self._bytes:
            if needle in data:
                found.setdefault(secret.value, Finding(where, secret.kind, secret.fingerprint))
        return list(found.values())


# -- what the sandboxes issue ---------------------------------------------------------------------
class SecretLedger:
    """Every secret the campaign's sandboxes hand out, recorded as they are issued.

    The sandboxes forget some of them (Google deletes rotated and revoked tokens), so their
    issuing methods are wrapped on the instances; what they keep for good (codes, Zoom's
    tokens and start tokens, Microsoft's tokens) is read back at the end as well.
    """

    def __init__(self, sandboxes: Sandboxes) -> None:
        self.sandboxes = sandboxes
        self.issued: list[Secret] = []
        self.extra: list[Secret] = []  # added by the scan: the API key it makes, manage tokens
        zoom, google, teams = sandboxes.zoom, sandboxes.google, sandboxes.teams
        self._wrap(zoom, "issue_tokens", "zoom", lambda body: _token_body(body))
        self._wrap(teams, "issue_tokens", "teams", lambda body: _token_body(body))
        self._wrap(
            google, "issue_access_token", "google_meet", lambda t: [("access token", t.token)]
        )
        self._wrap(
            google, "issue_refresh_token", "google_meet", lambda t: [("refresh token", t.token)]
        )

    def _wrap(self, state: Any, name: str, provider: str, read: Any) -> None:
        issue = getattr(state, name)

        def recording(*args: Any, **kwargs: Any) -> Any:
            answer = issue(*args, **kwargs)
            self.issued += [Secret(f"{provider} {kind}", value) for kind, value in read(answer)]
            return answer

        setattr(state, name, recording)

    def secrets(self) -> list[Secret]:
        zoom, google, teams = self.sandboxes.zoom, self.sandboxes.google, self.sandboxes.teams
        out = list(self.issued) + list(self.extra)
        out += [Secret(f"zoom {t.kind} token", v) for v, t in list(zoom.tokens.items())]
        out += [Secret("zoom authorization code", c) for c in list(zoom.codes)]
        out += [Secret("zoom start link token (zak)", z) for z in list(zoom.start_links)]
        out += [Secret("zoom webhook secret", zoom.webhook_secret)]
        out += [Secret("google_meet authorization code", c) for c in list(google.codes)]
        out += [Secret("google_meet access token", t) for t in list(google.access_tokens)]
        out += [Secret("google_meet refresh token", t) for t in list(google.refresh_tokens)]
        out += [Secret("teams authorization code", c) for c in list(teams.codes)]
        out += [Secret("teams access token", t) for t in list(teams.access_tokens)]
        out += [Secret("teams refresh token", t) for t in list(teams.refresh_tokens)]
        clients = [("zoom", a.client_id, a.client_secret) for a in list(zoom.apps.values())] + [
            (p, c.client_id, c.client_secret)
            for p, state in (("google_meet", google), ("teams", teams))
            for c in list(state.clients.values())
        ]
        for provider, client_id, secret in clients:
            out.append(Secret(f"{provider} client secret", secret))
            basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
            out.append(Secret(f"{provider} client credentials (Basic)", basic))
        return out


def _token_body(body: dict[str, Any]) -> list[tuple[str, str]]:
    names = {
        "access_token": "access token",
        "refresh_token": "refresh token",
        "id_token": "ID token",
    }
    return [(kind, str(body[key])) for key, kind in names.items() if body.get(key)]


# -- logs -----------------------------------------------------------------------------------------
_HARNESS: ContextVar[bool] = ContextVar("chaos_harness", default=False)


@contextmanager
def harness() -> Iterator[None]:
    """What the harness does in a person's place (their browser clicking through a consent
    page sees the authorization code; an attendee opens their manage link) is not
    meetbridge: the records of its HTTP client emitted meanwhile, in this task, are not
    scanned. meetbridge's own records (the web app's access log of those requests) are."""
    reset = _HARNESS.set(True)
    try:
        yield
    finally:
        _HARNESS.reset(reset)


# -----------------------------------------------------------------------------------------
class LogCapture(logging.Handler):
    """Keeps every record of the run, as text: message, extras, traceback, stack.

    The root logger goes down to DEBUG while it is attached (every level is scanned); the
    handlers already on the root logger keep seeing only what they saw before.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[str, str]] = []
        self.skipped = 0  # emitted by the harness acting as a person (see harness())
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        if _HARNESS.get() and record.name.split(".")[0] in HARNESS_LOGGERS:
            self.skipped += 1
            return
        try:
            parts = [record.getMessage()]
        except Exception as exc:  # a broken format string still gets its raw parts scanned
            parts = [str(record.msg), repr(record.args), repr(exc)]
        parts += [
            f"{k}={v!r}" for k, v in record.__dict__.items() if k not in _STANDARD_RECORD_KEYS
        ]
        if record.exc_info:
            parts.append(self._formatter.formatException(record.exc_info))
        elif record.exc_text:
            parts.append(record.exc_text)
        if record.stack_info:
            parts.append(record.stack_info)
        self.records.append(
            (f"log record of logger {record.name!r} ({record.levelname})", "\n".join(parts))
        )

    @contextmanager
    def attached(self) -> Iterator[LogCapture]:
        root = logging.getLogger()
        level = root.level
        quieted = [h for h in root.handlers if h.level == logging.NOTSET]
        for handler in quieted:
            handler.setLevel(level)
        root.addHandler(self)
        root.setLevel(logging.DEBUG)
        try:
            yield self
        finally:
            root.removeHandler(self)
            root.setLevel(level)
            for handler in quieted:
                handler.setLevel(logging.NOTSET)


# -- the scan -------------------------------------------------------------------------------------
@dataclass
class SecretScan:
    findings: list[Finding] = field(default_factory=list)
    secrets: int = 0
    rows: int = 0
    log_records: int = 0
    messages: int = 0
    pages: int = 0
    files: int = 0
    seconds: float = 0.0

    def add(self, findings: Iterable[Finding]) -> None:
        self.findings += findings

    def check(self) -> Check:
        from tests.chaos.invariants import Check

        detail = sorted({str(f) for f in self.findings})
        return Check(CHECK_NAME, len(detail), not detail, detail)

    def scanned(self) -> str:
        return (
            f"scanned {self.rows} rows, {self.log_records} log records, {self.messages}"
            f" messages, {self.pages} pages, {self.files} files for {self.secrets} secrets"
            f" in {self.seconds:.1f} s"
        )


def scan_database(engine: Engine, needles: Needles, scan: SecretScan) -> None:
    """Every column of every row of every table, read with plain SQL."""
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            items = _rows(conn, table, scan)
            scan.add(needles.search(items))


def _rows(conn: Any, table: Table, scan: SecretScan) -> list[tuple[str, str]]:
    key = next(iter(table.primary_key.columns), None)
    items: list[tuple[str, str]] = []
    for row in conn.execute(select(table)).mappings():
        scan.rows += 1
        ident = row[key.name] if key is not None else "?"
        for column, value in row.items():
            text = _as_text(value)
            if text:
                items.append((f"{table.name}.{column} (row {ident})", text))
    return items


def _as_text(value: Any) -> str:
    if value is None or isinstance(value, (int, float, bool)):
        return ""
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def scan_sqlite_files(url: str, needles: Needles, scan: SecretScan) -> None:
    """The database file's raw bytes and its WAL: free pages keep what rows once held."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return
    for suffix in ("", "-wal", "-journal"):
        path = Path(parsed.database + suffix)
        if path.exists():
            scan.files += 1
            scan.add(needles.search_bytes(f"SQLite file {path.name}", path.read_bytes()))


def scan_error_messages(stage: Stage, needles: Needles, scan: SecretScan) -> None:
    """Error texts wherever they are kept, and what a booking's explanation shows."""
    from meetbridge.models import Connection, Job, Meeting, OutboundMessage
    from meetbridge.scheduling.bookings import BookingService

    items: list[tuple[str, str]] = []
    services = stage.services
    with services.sessions() as session:
        for model, columns in (
            (Job, ("last_error",)),
            (Connection, ("last_error", "warnings")),
            (Meeting, ("last_error", "resolution")),
            (OutboundMessage, ("last_error",)),
        ):
            for row in session.scalars(select(model)):
                for column in columns:
                    text = _as_text(getattr(row, column))
                    if text:
                        items.append((f"{model.__tablename__}.{column} of {row.id}", text))
        # What a booking's page and ``bookings explain`` show: every booking whose meeting
        # has an error text, up to a bound (the texts themselves are all scanned above).
        troubled = session.scalars(
            select(Meeting.booking_id).where(Meeting.last_error.is_not(None)).distinct()
        )
        booking_ids = sorted(set(troubled))[:EXPLAINED]
    bookings = BookingService(services)
    for booking_id in booking_ids:
        explained = json.dumps(bookings.explain(booking_id), default=str)
        items.append((f"explanation of booking {booking_id}", explained))
        items.append((f"result of booking {booking_id}", repr(bookings.result(booking_id))))
    scan.messages += len(items)
    scan.add(needles.search(items))


# Provider start links by their shape, not their value: in any message or page, a start
# link is a leak even when its token was already rotated away.
_START_LINK = re.compile(r"/s/\d+\?zak=|[?&]zak=")


def scan_outbox(stage: Stage, needles: Needles, scan: SecretScan) -> dict[str, str]:
    """Every outbox row rendered as it is sent (MIME with its ICS, sealed values opened),
    every ``.eml`` the file transport wrote. Returns attendee manage links (uid -> url)."""
    from meetbridge.models import OutboundMessage
    from meetbridge.notifications.delivery import OutgoingMessage
    from meetbridge.notifications.mail import build_email
    from meetbridge.notifications.transports import outbox_directory

    services = stage.services
    vault = services.vault
    manage: dict[str, str] = {}
    items: list[tuple[str, str]] = []
    with services.sessions() as session:
        rows = list(session.scalars(select(OutboundMessage).order_by(OutboundMessage.id)))
    hosts = set(stage.users)  # the organisation's people; everyone else is an attendee
    # What the file transport wrote is what was sent; the rest is rendered the same way.
    directory = outbox_directory(services.settings)
    sent = {
        int(path.name.split("-")[1]): path
        for path in (directory.glob("*.eml") if directory.exists() else [])
    }
    for row in rows:
        who = "host/member" if row.recipient.lower() in hosts else "attendee/platform"
        where = f"outbox message {row.id} ({row.kind}, {row.channel}) to a {who}"
        opened = OutgoingMessage.of(row).opened(vault)
        if row.id in sent:
            where += f", sent as {sent[row.id].name}"
            text = _mime_text(email.message_from_bytes(sent[row.id].read_bytes(), policy=POLICY))
        elif row.channel == "email":
            text = _mime_text(build_email(services.settings, opened))
        else:
            text = json.dumps(dict(opened.payload), default=str) + opened.body_text
        items.append((where, text))
        if who.startswith("attendee"):
            for url in re.findall(r"https?://[^\s\"'<>]+/manage/[^\s\"'<>]+", text):
                uid = urlsplit(url).path.split("/")[2]
                manage.setdefault(uid, url.replace("&amp;", "&"))
    scan.messages += len(items)
    scan.add(needles.search(items, scope="outbox"))
    scan.add(
        Finding(where, "a provider start link", "")
        for where, text in items
        if _START_LINK.search(text)
    )
    return manage


POLICY = email.policy.default


def _mime_text(message: Any) -> str:
    """Headers and every part, transfer encodings undone (base64 bodies hide nothing)."""
    parts = [str(message.items())]
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        parts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return "\n".join(parts)


def scan_workdir(stage: Stage, needles: Needles, scan: SecretScan) -> None:
    """The run's own files: worker logs, execution records, the clock (not the outbox or the
    database, scanned their own way, nor the configuration handed to worker processes)."""
    for path in sorted(stage.workdir.rglob("*")):
        if not path.is_file() or path.name in CONFIG_FILES:
            continue
        if path.suffix == ".eml" or ".sqlite3" in path.name:
            continue
        scan.files += 1
        scan.add(needles.search_bytes(f"file {path.relative_to(stage.workdir)}", path.read_bytes()))


async def scan_pages(
    stage: Stage, needles: Needles, scan: SecretScan, manage: dict[str, str], ledger: SecretLedger
) -> None:
    """What attendees and platforms get from the real web app, for a sample of bookings:
    the confirmation and manage pages, the calendar file, the reschedule page, the public
    booking pages, and the REST API's bookings and connections."""
    from meetbridge.models import Booking, Role, User
    from meetbridge.web import create_app
    from meetbridge.web.api_keys import create_api_key

    services = stage.services
    with services.sessions() as session, session.begin():
        admin = session.scalars(select(User).where(User.role == Role.ADMIN)).first()
        assert admin is not None
        _, key = create_api_key(session, admin, "secrets scan")
        uids = list(session.scalars(select(Booking.uid).order_by(Booking.id)))
    # The API key is a secret too: it must be stored hashed and never logged.
    ledger.extra.append(Secret("meetbridge API key", key))
    sample = [u for u in uids if u in manage]
    step = max(1, len(sample) // PAGE_SAMPLE)
    sample = sample[::step][:PAGE_SAMPLE]
    app = create_app(services)
    transport = httpx.ASGITransport(app=app)
    items: list[tuple[str, str]] = []
    async with httpx.AsyncClient(transport=transport, base_url=services.settings.base_url) as web:
        urls: list[tuple[str, dict[str, str]]] = []
        for uid in sample:
            link = urlsplit(manage[uid])
            page = f"{link.path}?{link.query}"
            urls += [
                (page, {}),
                (page + "&booked=1", {}),
                (f"{link.path}/booking.ics?{link.query}", {}),
                (f"{link.path}/reschedule?{link.query}", {}),
                (f"/api/v1/bookings/{uid}", {"Authorization": f"Bearer {key}"}),
            ]
        urls += [(f"/book/{slug}", {}) for slug in stage.slugs]
        urls += [
            ("/api/v1/bookings", {"Authorization": f"Bearer {key}"}),
            ("/api/v1/connections", {"Authorization": f"Bearer {key}"}),
        ]
        for url, headers in urls:
            with harness():  # the attendee's browser logs the URL it opens: not meetbridge
                answer = await web.get(url, headers=headers)
            where = f"page GET {_redacted(url)} ({answer.status_code})"
            items.append((where, f"{answer.headers!r}\n{answer.text}"))
            if answer.status_code >= 500:
                scan.add([Finding(where, "an error answer to a page that should work", "")])
    scan.pages += len(items)
    scan.add(needles.search(items, scope="attendee pages"))
    scan.add(
        Finding(where, "a provider start link", "")
        for where, text in items
        if _START_LINK.search(text)
    )


def _redacted(url: str) -> str:
    return re.sub(r"token=[^&]+", "token=…", url)


async def scan_stage(stage: Stage, ledger: SecretLedger) -> SecretScan:
    """Everything but the logs (which go on being written until the stage closes)."""
    from meetbridge.notifications import links

    started = time.monotonic()
    scan = SecretScan()
    outbox = Needles(ledger.secrets())
    manage = scan_outbox(stage, outbox, scan)
    for uid, token in stage.manage_tokens.items():  # bookings whose email was not queued
        manage.setdefault(uid, links.manage_page(stage.services.settings, uid, token))
    # An attendee's manage token belongs in their email and on their own pages, nowhere else.
    for url in manage.values():
        token = re.search(r"token=([^&#\s]+)", url)
        if token:
            allowed = frozenset({"outbox", "attendee pages"})
            ledger.extra.append(Secret("attendee manage token", token[1], allowed))
    await scan_pages(stage, Needles(ledger.secrets()), scan, manage, ledger)
    needles = Needles(ledger.secrets())
    scan.secrets = len(needles)
    scan_error_messages(stage, needles, scan)
    url = stage.services.settings.effective_database_url
    scan_database(stage.services.engine, needles, scan)
    scan_sqlite_files(url, needles, scan)
    scan_workdir(stage, needles, scan)
    scan.seconds += time.monotonic() - started
    return scan


def scan_logs(capture: LogCapture, ledger: SecretLedger, scan: SecretScan) -> None:
    started = time.monotonic()
    scan.log_records = len(capture.records)
    scan.add(Needles(ledger.secrets()).search(capture.records))
    scan.seconds += time.monotonic() - started
