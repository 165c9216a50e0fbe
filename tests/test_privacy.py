"""Forgetting a person removes their tokens and personal data, keeps a minimal trail.

The service (:func:`meetbridge.privacy.forget_person`) and the command an operator runs,
``meetbridge users forget EMAIL``, on a real database with connected people.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from meetbridge.cli import main
from meetbridge.models import (
    Attendee,
    AuditEvent,
    Booking,
    Connection,
    ConnectionStatus,
    OutboundMessage,
    User,
)
from meetbridge.privacy import forget_person
from meetbridge.services import Services
from tests.world import TUE_10, World


async def test_forgetting_a_member_revokes_and_scrubs(world: World) -> None:
    conn = await world.connect("ann", "zoom")
    await world.book(world.meeting_type(location="zoom"))
    report = await forget_person(world.services, "Ann@acme.test", actor="admin@acme.test")
    assert report.user_found and report.connections_revoked == 1
    assert report.revoked_at_provider == 1 and report.revocation_unconfirmed == []
    assert world.fakes["zoom"].revoked == ["access-0"]
    with world.services.sessions() as session:
        stored = session.get(Connection, conn.id)
        assert stored.token_ciphertext is None and stored.email == ""
        assert stored.external_account_id == ""
        user = session.get(User, world.users["ann"])
        assert "ann" not in user.email and user.password_hash is None and not user.active
        actors = set(session.scalars(select(AuditEvent.actor)))
        assert "ann@acme.test" not in actors
        recipients = set(session.scalars(select(OutboundMessage.recipient)))
        assert "ann@acme.test" not in recipients
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "person.forgotten"))
        assert "ann" not in str(event.data) and event.actor == "admin@acme.test"
    assert len(world.fakes["zoom"].meetings) == 1  # the meeting itself stays scheduled


async def test_forgetting_a_client_scrubs_bookings_and_messages(world: World) -> None:
    slug = world.meeting_type(location="phone", location_value="+1 555 0100")
    result = await world.book(slug, email="casey@client.test", name="Casey Client")
    report = await forget_person(world.services, "casey@client.test", actor="admin@acme.test")
    assert not report.user_found and report.attendee_records == 1
    assert report.messages_scrubbed >= 1
    with world.services.sessions() as session:
        [attendee] = session.scalars(select(Attendee))
        assert attendee.name == "(forgotten)" and "casey" not in attendee.email
        bodies = " ".join(
            m.body_text + m.subject
            for m in session.scalars(
                select(OutboundMessage).where(OutboundMessage.recipient.like("forgotten-%"))
            )
        )
        assert "Casey" not in bodies
    assert world.bookings.result(result.booking_id).status == "confirmed"
    again = await forget_person(world.services, "casey@client.test", actor="admin@acme.test")
    assert again.attendee_records == 0 and again.nothing_to_do and again.already_forgotten


async def test_a_revocation_the_provider_does_not_confirm_is_reported_not_fatal(
    world: World,
) -> None:
    await world.connect("ann", "zoom")
    world.fakes["zoom"].revoke_fails = True
    report = await forget_person(world.services, "ann@acme.test", actor="admin@acme.test")
    assert report.connections_revoked == 1 and report.revoked_at_provider == 0
    assert report.revocation_unconfirmed == ["zoom"]
    with world.services.sessions() as session:
        assert session.scalars(select(Connection.token_ciphertext)).one() is None  # gone here
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "person.forgotten"))
        assert event.data["revocation_unconfirmed"] == ["zoom"]


# -- the command ---------------------------------------------------------------------------------
@pytest.fixture
def cli(world: World, meetbridge_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``meetbridge ...`` on the world's database, with the world's (fake) providers."""
    settings = world.services.settings
    monkeypatch.setenv("MEETBRIDGE_DATABASE_URL", meetbridge_database_url)
    monkeypatch.setenv("MEETBRIDGE_SECRET_KEYS", settings.secret_keys[0].get_secret_value())
    monkeypatch.setenv("MEETBRIDGE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setattr(
        "meetbridge.cli.users.build_services",
        lambda: Services(settings=settings, plugins=world.services.plugins),
    )

    def run(*args: str, code: int = 0, answer: str | None = None) -> Any:
        # In a thread of its own, like a separate process: commands run their own event loop.
        with ThreadPoolExecutor(1) as pool:
            result = pool.submit(CliRunner().invoke, main, list(args), input=answer).result()
        assert result.exit_code == code, result.output
        return result

    return run


def _everything(world: World) -> str:
    """Every text the database holds about people, as one string to search."""
    with world.services.sessions() as session:
        parts: list[Any] = []
        for model in (User, Attendee, OutboundMessage, AuditEvent, Connection, Booking):
            for row in session.scalars(select(model)):
                parts.append({c.name: getattr(row, c.name) for c in model.__table__.columns})
    return json.dumps(parts, default=str)


async def test_users_forget_revokes_the_grant_and_removes_the_member_and_client(
    world: World, cli: Any
) -> None:
    conn = await world.connect("ann", "zoom")
    bob = await world.connect("bob", "google_meet")
    slug = world.meeting_type(location="zoom", hosts=["ann@acme.test"])
    await world.book(slug, email="dana@client.test", name="Dana Doe")
    other = await world.book(slug, TUE_10, email="erin@client.test", name="Erin Example")
    before = _everything(world)
    assert "ann@acme.test" in before and "Dana Doe" in before

    out = cli("users", "forget", "ANN@acme.test", "--yes", "--json").output
    report = json.loads(out)
    assert report["user_found"] and report["connections_revoked"] == 1
    assert report["revoked_at_provider"] == 1 and report["revocation_unconfirmed"] == []
    assert report["pseudonym"].startswith("forgotten-") and "ann" not in out
    assert world.fakes["zoom"].revoked == ["access-0"]  # revoked at the provider
    with world.services.sessions() as session:
        assert session.get(Connection, conn.id).token_ciphertext is None
        assert session.get(Connection, conn.id).status == ConnectionStatus.REVOKED

    client = json.loads(cli("users", "forget", "dana@client.test", "--yes", "--json").output)
    assert client["attendee_records"] == 1 and client["messages_scrubbed"] >= 1
    assert not client["user_found"]

    after = _everything(world)
    for personal in ("ann@acme.test", "dana@client.test", "Dana Doe", "access-0"):
        assert personal not in after, f"{personal!r} is still stored"
    # Other people's data is intact: Bob's connection, Erin's booking and messages.
    assert "Erin Example" in after and "erin@client.test" in after
    assert world.connection(bob.id).status == ConnectionStatus.ACTIVE
    assert world.bookings.result(other.booking_id).status == "confirmed"
    # The trail: one record per person forgotten, by pseudonym, who asked, no address.
    with world.services.sessions() as session:
        forgotten = list(
            session.scalars(select(AuditEvent).where(AuditEvent.action == "person.forgotten"))
        )
    assert [e.subject_id for e in forgotten] == [report["pseudonym"], client["pseudonym"]]
    assert all(e.actor == "cli" and "@" not in json.dumps(e.data) for e in forgotten)

    again = cli("users", "forget", "dana@client.test", "--yes").output
    assert "already forgotten" in again and "nothing to do" in again
    again_json = json.loads(cli("users", "forget", "ann@acme.test", "--yes", "--json").output)
    assert again_json["nothing_to_do"] and again_json["already_forgotten"]
    with world.services.sessions() as session:
        count = len(
            list(session.scalars(select(AuditEvent).where(AuditEvent.action == "person.forgotten")))
        )
    assert count == 2  # a second run records nothing new


def test_users_forget_an_unknown_email_fails_clearly(world: World, cli: Any) -> None:
    result = cli("users", "forget", "nobody@nowhere.test", "--yes", code=1)
    assert "no user, booking or message has the email nobody@nowhere.test" in result.output


async def test_users_forget_asks_first_and_does_nothing_when_refused(
    world: World, cli: Any
) -> None:
    await world.connect("ann", "zoom")
    refused = cli("users", "forget", "ann@acme.test", code=1, answer="n\n")
    assert "Forget ann@acme.test?" in refused.output and "Aborted" in refused.output
    assert world.fakes["zoom"].revoked == []
    done = cli("users", "forget", "ann@acme.test", answer="y\n")
    assert "Forgot ann@acme.test" in done.output and "1 revoked at the provider" in done.output
    assert "access-0" not in done.output  # never a token


async def test_users_forget_warns_when_the_provider_did_not_confirm(world: World, cli: Any) -> None:
    await world.connect("ann", "zoom")
    world.fakes["zoom"].revoke_fails = True
    out = cli("users", "forget", "ann@acme.test", "--yes").output
    assert "zoom did not confirm the revocation" in out
