"""Forgetting a person removes their tokens and personal data, keeps a minimal trail."""

from __future__ import annotations

from sqlalchemy import select

from meetbridge.models import Attendee, AuditEvent, Connection, OutboundMessage, User
from meetbridge.privacy import forget_person
from tests.world import World


async def test_forgetting_a_member_revokes_and_scrubs(world: World) -> None:
    conn = await world.connect("ann", "zoom")
    await world.book(world.meeting_type(location="zoom"))
    report = await forget_person(world.services, "Ann@acme.test", actor="admin@acme.test")
    assert report.user_found and report.connections_revoked == 1
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
    assert again.attendee_records == 0
