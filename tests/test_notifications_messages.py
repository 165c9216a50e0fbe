"""What people read: every message, in their timezone, without secrets, with the right fix."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

from sqlalchemy import select

from meetbridge.models import Assignment, Connection, OutboundMessage
from meetbridge.notifications import connection_notices
from meetbridge.notifications.render import message_kinds
from meetbridge.notifications.transports import outbox_directory
from meetbridge.providers import (
    DailyLimitReached,
    GrantRevoked,
    ProviderError,
    ProviderUnavailable,
)
from tests.notifications_support import deliver, expire_tokens, only_event
from tests.world import NOW, TUE_9, TUE_10, TUE_11, World


def flat(text: str) -> str:
    """Text with its line wrapping undone (the plain-text part wraps at 72 columns)."""
    return " ".join(text.split())


def _messages(world: World, kind: str | None = None) -> list[OutboundMessage]:
    return world.outbox(kind)


def _one(world: World, kind: str, recipient: str) -> OutboundMessage:
    [message] = [m for m in world.outbox(kind) if m.recipient == recipient]
    return message


def _secret_start_links(world: World) -> set[str]:
    """The host start links of every meeting made (decrypted: they exist, and are secret)."""
    from meetbridge.models import Meeting

    with world.services.sessions() as session:
        return {
            world.services.vault.decrypt(m.start_url_ciphertext)
            for m in session.scalars(select(Meeting))
            if m.start_url_ciphertext
        }


async def _every_kind_of_message(world: World) -> None:
    """Drive the real flows until every template has produced at least one message."""
    zoom = await world.connect("ann", "zoom")
    await world.connect("bob", "zoom")
    rr = world.meeting_type(
        location="zoom", assignment=Assignment.ROUND_ROBIN, hosts=["ann@acme.test", "bob@acme.test"]
    )
    first = await world.book(rr, TUE_9)  # confirmed (ann)
    blocker = await world.book(
        world.meeting_type(name="Ann only", location="zoom"), TUE_10, email="o@client.test"
    )
    await world.bookings.reschedule(first.booking_id, TUE_10, actor="x")  # -> bob; ann told
    await world.bookings.cancel(blocker.booking_id, actor="o@client.test", reason="Ill")
    fails = world.fakes["zoom"].failures
    fails.append(("create", ProviderUnavailable("502")))  # pending, then provisioned
    await world.book(rr, datetime(2026, 12, 2, 14, tzinfo=UTC), email="p@client.test")
    await deliver(world)
    fails.append(("create", ProviderError("Invalid meeting settings")))  # failed for good
    await world.book(rr, datetime(2026, 12, 3, 14, tzinfo=UTC), email="f@client.test")
    resets = datetime.now(UTC) + timedelta(hours=3)
    fails.append(("create", DailyLimitReached("Daily limit reached.", resets_at=resets)))
    await world.book(rr, datetime(2026, 12, 4, 14, tzinfo=UTC), email="d@client.test")
    cara = world.meeting_type(name="Cara", location="zoom", hosts=["cara@acme.test"])
    await world.book(cara, TUE_9, email="n@client.test")  # nobody can host: no video
    # Ann's grant dies at the next refresh; Bob uninstalls the app at the provider.
    expire_tokens(world, zoom.id)
    world.fakes["zoom"].dead_grant = True
    await world.book(
        world.meeting_type(name="Ann again", location="zoom"), TUE_11, email="r@client.test"
    )
    headers = {"x-fake-signature": "good", "x-fake-id": "d1"}
    result = await world.connections.handle_webhook("zoom", headers, b"user-bob-zoom")
    await world.connections.apply_webhook_events("zoom", result.events)
    await deliver(world)  # retries, notices, then every reminder (deliver makes them due)


async def test_every_template_renders_and_none_carries_the_host_start_link(world: World) -> None:
    await _every_kind_of_message(world)
    made = {m.kind for m in _messages(world)}
    assert made == set(message_kinds()), "a template is not exercised by this test"
    secrets = _secret_start_links(world)
    assert secrets and all("zak=secret" in s for s in secrets)  # the meetings have start links
    for message in _messages(world):
        everything = " ".join(
            [message.subject, message.body_text, message.body_html, json.dumps(message.payload)]
        )
        for secret in secrets:
            assert secret not in everything, (message.kind, message.recipient)
        assert "zak=" not in everything and "fake.example/s/" not in everything
        assert message.subject and message.body_text.strip() and "<html" in message.body_html
        assert "{" not in message.subject and "None" not in flat(message.body_text)


async def test_times_are_in_each_readers_zone_around_a_dst_change(world: World) -> None:
    """New York moves to EDT on 14 March 2027, Paris to CEST on 28 March: the weeks between
    are 5 hours apart instead of 6, and each reader must see their own clock."""
    await world.connect("ann", "zoom")
    slug = world.meeting_type(location="zoom")
    est = datetime(2027, 3, 9, 15, 0, tzinfo=UTC)  # Tue 10:00 EST, 16:00 CET
    booked = await world.book(slug, est, timezone="Europe/Paris")
    client = _one(world, "booking_confirmed", "cli@client.test")
    host = _one(world, "booking_confirmed", "ann@acme.test")
    assert "Tuesday, 9 March 2027, 4:00 PM \u2013 4:30 PM" in flat(client.body_text)
    assert "CET (Europe/Paris)" in flat(client.body_text)
    assert "Tuesday, 9 March 2027, 10:00 AM \u2013 10:30 AM" in flat(host.body_text)
    assert "EST (America/New_York)" in flat(host.body_text)
    edt = datetime(2027, 3, 16, 14, 0, tzinfo=UTC)  # Tue 10:00 EDT, still 15:00 CET
    await world.bookings.reschedule(booked.booking_id, edt, actor="x")
    client = _one(world, "booking_rescheduled", "cli@client.test")
    host = _one(world, "booking_rescheduled", "ann@acme.test")
    assert "Tuesday, 16 March 2027, 3:00 PM \u2013 3:30 PM" in flat(client.body_text)
    assert "CET (Europe/Paris)" in flat(client.body_text)
    assert "Tuesday, 16 March 2027, 10:00 AM \u2013 10:30 AM" in flat(host.body_text)
    assert "EDT (America/New_York)" in flat(host.body_text)
    assert "Previously: Tuesday, 9 March 2027, 10:00 AM" in flat(host.body_text)
    assert only_event(client.payload["ics"])["dtstart"].dt == edt  # UTC, no offset applied twice
    cest = datetime(2027, 3, 30, 14, 0, tzinfo=UTC)  # Tue 10:00 EDT, 16:00 CEST
    await world.bookings.reschedule(booked.booking_id, cest, actor="x")
    [_, client] = [
        m for m in world.outbox("booking_rescheduled") if m.payload["role"] == "attendee"
    ]
    assert "Tuesday, 30 March 2027, 4:00 PM \u2013 4:30 PM" in flat(client.body_text)
    assert "CEST (Europe/Paris)" in flat(client.body_text)
    assert client.subject == "Updated: Interview is now on Tue 30 Mar, 4:00 PM CEST"


async def test_confirmation_carries_the_join_details_in_both_parts(world: World) -> None:
    await world.connect("ann", "zoom")
    result = await world.book(world.meeting_type(location="zoom"))
    client = _one(world, "booking_confirmed", "cli@client.test")
    assert client.subject == "Confirmed: Interview with ann on Tue 1 Dec, 3:00 PM CET"
    for part in (client.body_text, client.body_html):
        assert result.join_url in part
        assert "Passcode" in part and "123456" in part
        assert "Tuesday, 1 December 2026" in part and "Europe/Paris" in part
    assert f'href="{result.join_url}"' in client.body_html
    assert "Join Zoom meeting" in client.body_html
    assert client.payload["reply_to"] == ["ann@acme.test"]  # replies reach the host
    host = _one(world, "booking_confirmed", "ann@acme.test")
    assert host.subject == "New booking: Interview with Casey Client on Tue 1 Dec, 9:00 AM EST"
    assert "cli@client.test" in flat(host.body_text) and "Start meeting" in flat(host.body_text)
    assert f"/bookings/{result.uid}" in flat(
        host.body_text
    )  # the host starts from the booking page


async def test_the_manage_link_is_sealed_in_the_database_and_opened_on_delivery(
    world: World,
) -> None:
    result = await world.book(world.meeting_type(location="phone", location_value="+1 555 0100"))
    token = "manage-token-0123456789"
    # What BookingService.book does with the token it hands back (see its _confirm).
    world.bookings._confirm(result.booking_id, "booking_confirmed", manage_token=token)
    [_, client] = [m for m in world.outbox("booking_confirmed") if m.payload["role"] == "attendee"]
    assert token not in json.dumps(client.payload) + client.body_text + client.body_html
    assert "@@sealed:manage_url@@" in client.body_text
    assert "Reschedule or cancel" in client.body_html
    hosts = [m for m in world.outbox("booking_confirmed") if m.payload["role"] == "host"]
    assert all("sealed" not in m.body_text + json.dumps(m.payload) for m in hosts)
    await deliver(world)
    [eml] = [
        p
        for p in outbox_directory(world.services.settings).iterdir()
        if f"{client.id:06d}" in p.name
    ]
    delivered = message_from_bytes(eml.read_bytes(), policy=policy.default)
    url = f"http://127.0.0.1:8000/manage/{result.uid}?token={token}"
    assert url in delivered.get_body(("plain",)).get_content()
    assert f'href="{url}"' in delivered.get_body(("html",)).get_content()
    with world.services.sessions() as session:
        stored = session.get(OutboundMessage, client.id)
        assert stored.status == "sent" and "sealed" not in stored.payload  # nothing kept


async def test_pending_then_provisioned_sends_the_link_to_the_client_and_the_host(
    world: World,
) -> None:
    await world.connect("ann", "zoom")
    world.fakes["zoom"].failures.append(("create", ProviderUnavailable("502 Bad Gateway")))
    result = await world.book(world.meeting_type(location="zoom"))
    client = _one(world, "booking_confirmed", "cli@client.test")
    assert "Your Zoom link is on its way" in flat(client.body_text)
    assert "fake.example/j/" not in flat(client.body_text)
    assert "LOCATION:Zoom video meeting" in client.payload["ics"]
    await deliver(world)
    link = world.bookings.result(result.booking_id).join_url
    later = _one(world, "conferencing_provisioned", "cli@client.test")
    assert later.subject == "Your link for Interview on Tue 1 Dec, 3:00 PM CET"
    assert link in flat(later.body_text) and link in later.body_html
    host_later = _one(world, "conferencing_provisioned", "ann@acme.test")
    assert "your guest has the link" in flat(host_later.body_text)
    first, second = only_event(client.payload["ics"]), only_event(later.payload["ics"])
    assert first["uid"] == second["uid"] and first["sequence"] == second["sequence"] == 0
    assert second["dtstamp"].dt >= first["dtstamp"].dt  # the newer copy of the same revision
    assert str(second["url"]) == link


async def test_booked_without_video_tells_hosts_and_admins_why_and_the_client_nothing_alarming(
    world: World,
) -> None:
    await world.book(world.meeting_type(location="zoom"))
    alerts = {m.recipient: m for m in world.outbox("conferencing_unavailable")}
    assert set(alerts) == {"ann@acme.test", "admin@acme.test"}
    text = flat(alerts["ann@acme.test"].body_text)
    assert "ann@acme.test has not connected zoom" in text  # the resolution trail
    assert "/profile/integrations" in text
    raw = alerts["ann@acme.test"].body_text
    assert "`meetbridge bookings reprovision`" in raw  # never wrapped inside a command
    assert "<code" in alerts["admin@acme.test"].body_html
    assert alerts["ann@acme.test"].payload["auto"] is True
    client = _one(world, "booking_confirmed", "cli@client.test")
    assert "Your host will send you the meeting details." in flat(client.body_text)
    for word in ("connect", "could not", "fail", "error"):
        assert word not in flat(client.body_text).lower()


async def test_failed_conferencing_reaches_hosts_and_admins_with_reason_and_fix(
    world: World,
) -> None:
    await world.connect("ann", "zoom")
    world.fakes["zoom"].failures.append(("create", ProviderError("Invalid meeting settings")))
    await world.book(world.meeting_type(location="zoom"))
    alerts = {m.recipient: m for m in world.outbox("conferencing_failed")}
    assert set(alerts) == {"ann@acme.test", "admin@acme.test"}
    alert = alerts["admin@acme.test"]
    assert alert.subject == "Action needed: no video link for Interview on Tue 1 Dec, 9:00 AM EST"
    assert "Invalid meeting settings" in flat(alert.body_text)
    assert "How to fix it" in flat(alert.body_text) and "reconnect" in flat(alert.body_text)
    assert "You receive this as an administrator of Acme." in flat(alert.body_text)
    assert (
        "Your host will send you the meeting details."
        in _one(world, "booking_confirmed", "cli@client.test").body_text
    )


async def test_reassignment_on_reschedule_tells_the_old_host_and_welcomes_the_new_one(
    world: World,
) -> None:
    await world.connect("ann", "zoom")
    await world.connect("bob", "zoom")
    slug = world.meeting_type(
        location="zoom", assignment=Assignment.ROUND_ROBIN, hosts=["ann@acme.test", "bob@acme.test"]
    )
    first = await world.book(slug, TUE_9)
    await world.book(
        world.meeting_type(name="Ann only", location="zoom"), TUE_10, email="o@client.test"
    )
    moved = await world.bookings.reschedule(first.booking_id, TUE_10, actor="system")
    assert moved.host_emails == ("bob@acme.test",)
    old = _one(world, "booking_reassigned", "ann@acme.test")
    assert "is now hosted by bob" in flat(old.body_text)
    assert old.payload["ics_method"] == "CANCEL"
    event = only_event(old.payload["ics"])
    assert event["status"] == "CANCELLED" and event["sequence"] == 1
    new = [m for m in world.outbox("booking_confirmed") if m.recipient == "bob@acme.test"]
    assert len(new) == 1 and new[0].subject.startswith("New booking:")
    client = _one(world, "booking_rescheduled", "cli@client.test")
    assert "with bob" in flat(client.body_text) and "Previously:" in flat(client.body_text)
    await world.bookings.reschedule(first.booking_id, TUE_9, actor="system")
    assert len(world.outbox("booking_reassigned")) == 1  # told once, not on every change


async def test_cancellation_gives_the_reason_and_a_way_to_book_again(world: World) -> None:
    result = await world.book(world.meeting_type(location="in_person", location_value="12 Main St"))
    await world.bookings.cancel(result.booking_id, actor="ann@acme.test", reason="Office closed")
    client = _one(world, "booking_cancelled", "cli@client.test")
    assert client.subject == "Cancelled: Interview on Tue 1 Dec, 3:00 PM CET"
    assert "Reason:" in flat(client.body_text) and "Office closed" in flat(client.body_text)
    assert "/book/interview" in flat(client.body_text)
    assert client.payload["ics_method"] == "CANCEL"
    assert "In person: 12 Main St" in flat(client.body_text)


async def test_french_clients_read_french_with_english_as_the_fallback(world: World) -> None:
    world.services.settings.email.locale = "fr"
    await world.connect("ann", "zoom")
    await world.book(world.meeting_type(location="zoom"))
    client = _one(world, "booking_confirmed", "cli@client.test")
    assert client.subject == "Confirmé : Interview avec ann le mar. 1 déc., 15:00 CET"
    assert "mardi 1 décembre 2026, 15:00 \u2013 15:30" in flat(client.body_text)
    assert "Rejoindre la réunion Zoom" in client.body_html and 'lang="fr"' in client.body_html
    host = _one(world, "booking_confirmed", "ann@acme.test")
    assert host.subject.startswith("New booking: Interview")  # not translated yet: English


async def test_connection_notice_lists_the_upcoming_bookings_it_affects(world: World) -> None:
    zoom = await world.connect("ann", "zoom")
    await world.book(world.meeting_type(location="zoom"))
    world.services.clock = lambda: NOW  # "upcoming" as of the world's now
    with world.services.sessions() as session, session.begin():
        conn = session.get(Connection, zoom.id)
        world.connections.tokens._mark_needs_reconnect(conn, GrantRevoked("Invalid Token!"))
    await world.bookings.worker.drain()
    notice = _one(world, "connection_needs_reconnect", "ann@acme.test")
    assert notice.subject == "Reconnect your Zoom account"
    assert "ann-zoom@fake.example" in flat(notice.body_text) and "Invalid Token!" in flat(
        notice.body_text
    )
    assert "Upcoming bookings with Zoom meetings from this account: 1." in flat(notice.body_text)
    assert "after 1, 3 and 7 days" in flat(notice.body_text)
    assert "Reconnect Zoom" in notice.body_html and "/profile/integrations" in notice.body_html
    assert connection_notices.CONNECTION_REMINDER in {j.kind for j in world.jobs()}


def test_times_show_the_offset_where_a_zone_has_no_letters() -> None:
    from meetbridge.notifications.catalogue import Translator
    from meetbridge.notifications.when import format_when

    start = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    when = format_when(start, start + timedelta(minutes=45), "Asia/Dubai", Translator("en"))
    assert when.zone == "UTC+04:00 (Asia/Dubai)" and when.start == "6:00 PM"
    overnight = format_when(start, start + timedelta(hours=11), "Europe/Paris", Translator("en"))
    assert (
        overnight.text
        == "Tuesday, 1 December 2026, 3:00 PM \u2013 Wednesday, 2 December 2026, 2:00 AM"
    )
