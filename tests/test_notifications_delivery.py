"""Delivery: the outbox, the worker, the transports (file, real SMTP, console) and channels."""

from __future__ import annotations

import json
import stat
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from meetbridge.cli import main
from meetbridge.models import Job, JobStatus, MessageStatus, OutboundMessage
from meetbridge.notifications import delivery
from meetbridge.notifications.delivery import DeliveryError, OutgoingMessage, register_channel
from meetbridge.notifications.outbox import DELIVER_MESSAGE, queue_message
from meetbridge.notifications.transports import outbox_directory
from tests.notifications_support import (
    SMTP_PASSWORD,
    SMTP_USER,
    calendar_part,
    deliver,
    make_due,
    only_event,
    self_signed_certificate,
    smtp_server,
    use_smtp,
)
from tests.world import World

# aiosmtpd warns when an implicit-TLS server asks for AUTH: it cannot tell the session is TLS.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def _statuses(world: World) -> list[str]:
    return [m.status for m in world.outbox()]


def _delivery_jobs(world: World) -> list[Job]:
    return [j for j in world.jobs() if j.kind == DELIVER_MESSAGE]


async def test_file_transport_writes_private_eml_files_a_mail_client_reads(world: World) -> None:
    await world.connect("ann", "zoom")
    result = await world.book(world.meeting_type(location="zoom"))
    assert _statuses(world) == ["queued", "queued"]  # queued with the booking, sent later
    await deliver(world)
    assert _statuses(world) == ["sent", "sent"]
    assert {j.status for j in _delivery_jobs(world)} == {JobStatus.DONE}
    folder = outbox_directory(world.services.settings)
    assert folder == world.services.settings.data_dir / "outbox"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = sorted(folder.glob("*.eml"))
    assert len(files) == 2 and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    client = next(
        message_from_bytes(f.read_bytes(), policy=policy.default)
        for f in files
        if b"cli@client.test" in f.read_bytes()
    )
    assert client["To"] == "Casey Client <cli@client.test>"
    assert client["From"] == "meetbridge <meetbridge@localhost>"
    assert client["Reply-To"] == "ann@acme.test" and client["Message-ID"].endswith("@127.0.0.1>")
    assert client.get_content_type() == "multipart/mixed"
    [alternative, attachment] = list(client.iter_parts())
    kinds = [p.get_content_type() for p in alternative.iter_parts()]
    assert kinds == ["text/plain", "text/html", "text/calendar"]
    assert calendar_part(client).get_param("method") == "REQUEST"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content_type() == "application/ics"
    event = only_event(attachment.get_content())
    assert str(event["url"]) == result.join_url
    assert result.join_url in client.get_body(("plain",)).get_content()


@pytest.mark.parametrize("security", ["none", "starttls", "ssl"])
async def test_smtp_delivers_to_a_real_server(world: World, security: str, tmp_path: Path) -> None:
    certificate = self_signed_certificate(tmp_path) if security != "none" else None
    auth = security != "none"
    with smtp_server(security, certificate=certificate, auth=auth) as (mailbox, port):
        options: dict[str, Any] = {"smtp_security": security, "from_address": "Acme <b@acme.test>"}
        if certificate:
            options.update(
                smtp_ca_file=certificate[0], smtp_username=SMTP_USER, smtp_password=SMTP_PASSWORD
            )
        use_smtp(world, port, **options)
        await world.connect("ann", "zoom")
        result = await world.book(world.meeting_type(location="zoom"))
        await deliver(world)
    assert _statuses(world) == ["sent", "sent"]
    assert mailbox.logins == ([SMTP_USER, SMTP_USER] if auth else [])
    assert sorted(rcpt for _, [rcpt] in mailbox.envelopes) == ["ann@acme.test", "cli@client.test"]
    assert {sender for sender, _ in mailbox.envelopes} == {"b@acme.test"}
    [client] = mailbox.to("cli@client.test")
    assert client["Subject"] == "Confirmed: Interview with ann on Tue 1 Dec, 3:00 PM CET"
    assert result.join_url in client.get_body(("plain",)).get_content()
    assert f'href="{result.join_url}"' in client.get_body(("html",)).get_content()
    event = only_event(calendar_part(client).get_content())
    assert event["sequence"] == 0 and str(event["uid"]).startswith(result.uid)
    [host] = mailbox.to("ann@acme.test")
    assert host["Subject"].startswith("New booking:")


async def test_a_failing_smtp_server_is_retried_then_dead_lettered_and_the_booking_stands(
    world: World, cli: Any
) -> None:
    with smtp_server() as (mailbox, port):
        mailbox.refuse = "451 4.3.0 Mail system busy, try later"
        use_smtp(world, port, smtp_security="none")
        await world.connect("ann", "zoom")
        result = await world.book(world.meeting_type(location="zoom"))
        assert result.status == "confirmed" and result.conferencing == "provisioned"
        with world.services.sessions() as session, session.begin():
            session.execute(update(Job).where(Job.kind == DELIVER_MESSAGE).values(max_attempts=3))
        await world.bookings.worker.drain()
        first = world.outbox()
        assert {m.status for m in first} == {MessageStatus.QUEUED}
        assert all("451" in (m.last_error or "") for m in first)
        jobs = _delivery_jobs(world)
        assert all(j.status == JobStatus.QUEUED and j.attempts == 1 for j in jobs)
        assert await world.bookings.worker.drain() == 0  # backoff: not due again yet
        await deliver(world)
        assert mailbox.refused == 6  # 2 messages x 3 attempts
        dead = world.outbox()
        assert {m.status for m in dead} == {MessageStatus.DEAD}
        assert {(j.status, j.attempts) for j in _delivery_jobs(world)} == {(JobStatus.DEAD, 3)}
        # The booking and its meeting never noticed.
        after = world.bookings.result(result.booking_id)
        assert (after.status, after.conferencing, after.join_url) == (
            "confirmed",
            "provisioned",
            result.join_url,
        )
        rows = json.loads(cli("outbox", "list", "--status", "dead", "--json"))
        assert {r["recipient"] for r in rows} == {"cli@client.test", "ann@acme.test"}
        assert "451 4.3.0 Mail system busy" in rows[0]["last_error"]
        # The server recovers; the operator retries one message and sends now.
        mailbox.refuse = None
        client_id = next(m.id for m in dead if m.recipient == "cli@client.test")
        assert "queued again" in cli("outbox", "retry", str(client_id))
        assert "not dead" in cli("outbox", "retry", str(client_id), code=1)
        assert "1 sent" in cli("outbox", "send")
    assert [m["To"] for m in mailbox.messages] == ["Casey Client <cli@client.test>"]
    statuses = {m.recipient: m.status for m in world.outbox()}
    assert statuses == {"cli@client.test": "sent", "ann@acme.test": "dead"}


async def test_a_permanent_refusal_is_dead_at_once(world: World) -> None:
    with smtp_server() as (mailbox, port):
        mailbox.refuse = "550 5.1.1 No such mailbox"
        use_smtp(world, port, smtp_security="none")
        await world.book(world.meeting_type(location="phone", location_value="+1 555 0100"))
        await world.bookings.worker.drain()
    assert mailbox.refused == 2
    assert {m.status for m in world.outbox()} == {MessageStatus.DEAD}
    assert {(j.status, j.attempts) for j in _delivery_jobs(world)} == {(JobStatus.DEAD, 1)}


async def test_a_refused_login_is_retried_and_says_what_to_fix(
    world: World, tmp_path: Path
) -> None:
    certificate = self_signed_certificate(tmp_path)
    with smtp_server("starttls", certificate=certificate, auth=True) as (mailbox, port):
        use_smtp(
            world,
            port,
            smtp_security="starttls",
            smtp_ca_file=certificate[0],
            smtp_username=SMTP_USER,
            smtp_password="wrong-password",
        )
        await world.book(world.meeting_type(location="phone", location_value="+1 555 0100"))
        await world.bookings.worker.drain()
    [message, _] = world.outbox()
    assert message.status == MessageStatus.QUEUED  # fixing the setting is enough
    assert "refused the login of 'mailer'" in message.last_error
    assert "email.smtp_password" in message.last_error
    assert "wrong-password" not in message.last_error and not mailbox.messages


async def test_an_untrusted_certificate_is_refused_with_the_setting_to_use(
    world: World, tmp_path: Path
) -> None:
    certificate = self_signed_certificate(tmp_path)
    with smtp_server("ssl", certificate=certificate) as (mailbox, port):
        use_smtp(world, port, smtp_security="ssl")  # no smtp_ca_file: the system CAs
        await world.book(world.meeting_type(location="phone", location_value="+1 555 0100"))
        await world.bookings.worker.drain()
    assert not mailbox.messages
    assert all("email.smtp_ca_file" in (m.last_error or "") for m in world.outbox())


async def test_console_transport_prints_the_text(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.services.settings.email.transport = "console"
    await world.book(world.meeting_type(location="phone", location_value="+1 555 0100"))
    await deliver(world)
    out = capsys.readouterr().out
    assert "Subject: Confirmed: Interview with ann on Tue 1 Dec, 3:00 PM CET" in out
    assert "Phone call: +1 555 0100" in out and "[attached: invite.ics]" in out
    assert _statuses(world) == ["sent", "sent"]


# -- channels ---------------------------------------------------------------------------------
RECEIVED: list[OutgoingMessage] = []


async def collect(services: Any, message: OutgoingMessage) -> None:
    """A test channel registered by its import path, as the web layer registers 'webhook'."""
    if message.payload.get("fail"):
        raise DeliveryError("410 Gone: the endpoint was removed", retryable=False)
    RECEIVED.append(message)


@pytest.fixture
def test_channel() -> Any:
    RECEIVED.clear()
    register_channel("test-webhook", "tests.test_notifications_delivery:collect")
    yield RECEIVED
    delivery.unregister_channel("test-webhook")


async def test_other_channels_use_the_same_outbox_and_worker(
    world: World, test_channel: list[OutgoingMessage]
) -> None:
    with world.services.sessions() as session, session.begin():
        for fail in (False, True):
            queue_message(
                session,
                channel="test-webhook",
                kind="conferencing.provisioned",
                recipient="https://platform.test/hooks",
                payload={"event": "conferencing.provisioned", "fail": fail},
            )
        queue_message(session, channel="carrier-pigeon", kind="x", recipient="loft")
    await world.bookings.worker.drain()
    [delivered] = test_channel
    assert delivered.recipient == "https://platform.test/hooks"
    assert delivered.payload["event"] == "conferencing.provisioned"
    ok, refused, unknown = world.outbox()
    assert ok.status == MessageStatus.SENT and ok.sent_at is not None
    assert refused.status == MessageStatus.DEAD and "410 Gone" in refused.last_error
    assert unknown.status == MessageStatus.QUEUED
    assert "No delivery channel 'carrier-pigeon'" in unknown.last_error
    assert "email" in unknown.last_error and "test-webhook" in unknown.last_error


async def test_a_message_is_delivered_once_even_if_its_job_runs_twice(
    world: World, test_channel: list[OutgoingMessage]
) -> None:
    with world.services.sessions() as session, session.begin():
        message = queue_message(session, channel="test-webhook", kind="k", recipient="r")
        message_id = message.id
    await world.bookings.worker.drain()
    with world.services.sessions() as session, session.begin():
        job = session.scalars(select(Job).where(Job.kind == DELIVER_MESSAGE)).one()
        job.status = JobStatus.QUEUED  # e.g. a worker died after sending, before recording
    make_due(world)
    await world.bookings.worker.drain()
    assert len(test_channel) == 1 and test_channel[0].id == message_id


@pytest.fixture
def cli(world: World, meetbridge_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    settings = world.services.settings
    monkeypatch.setenv("MEETBRIDGE_DATABASE_URL", meetbridge_database_url)
    monkeypatch.setenv("MEETBRIDGE_SECRET_KEYS", settings.secret_keys[0].get_secret_value())
    monkeypatch.setenv("MEETBRIDGE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: table rows stay on one line

    def run(*args: str, code: int = 0) -> str:
        # The email settings of the test (e.g. its SMTP port) are read when the command runs.
        for key, value in world.services.settings.email.model_dump(mode="json").items():
            if value is not None and not isinstance(value, list):
                monkeypatch.setenv(f"MEETBRIDGE_EMAIL__{key.upper()}", str(value))
        monkeypatch.setenv(
            "MEETBRIDGE_EMAIL__SMTP_PASSWORD",
            world.services.settings.email.smtp_password.get_secret_value(),
        )
        # In a thread of its own, like a separate process: commands run their own event loop.
        with ThreadPoolExecutor(1) as pool:
            result = pool.submit(CliRunner().invoke, main, list(args)).result()
        assert result.exit_code == code, result.output
        return result.output

    return run


async def test_outbox_list_shows_where_email_goes(world: World, cli: Any) -> None:
    await world.book(world.meeting_type(location="phone", location_value="+1 555 0100"))
    out = cli("outbox", "list")
    assert "booking_confirmed" in out and "cli@client.test" in out and "queued" in out
    assert "Email goes to: .eml files in" in out
    assert "Tried 2: 2 sent, 0 will be retried, 0 dead." in cli("outbox", "send")
    assert json.loads(cli("outbox", "list", "--status", "queued", "--json")) == []
    assert "No message 999" in cli("outbox", "retry", "999", code=1)


async def test_reviving_a_dead_delivery_job_revives_its_message(
    world: World, test_channel: list[OutgoingMessage]
) -> None:
    from meetbridge.jobs import queue

    with world.services.sessions() as session, session.begin():
        queue_message(session, channel="test-webhook", kind="k", recipient="r", payload={"fail": 1})
    await world.bookings.worker.drain()
    [message] = world.outbox()
    [job] = _delivery_jobs(world)
    assert message.status == MessageStatus.DEAD and job.status == JobStatus.DEAD
    with world.services.sessions() as session, session.begin():
        stored = session.get(OutboundMessage, message.id)
        stored.payload = {}  # the endpoint is fixed
        queue.retry_dead(session, job.id)  # what `meetbridge jobs retry` does
    await world.bookings.worker.drain()
    assert world.outbox()[0].status == MessageStatus.SENT and len(test_channel) == 1
