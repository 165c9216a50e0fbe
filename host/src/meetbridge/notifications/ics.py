"""Calendar invitations (iTIP, RFC 5546) and feeds (RFC 5545), built with ``icalendar``.

- One booking is one event for its whole life: ``UID`` is ``<booking.uid>@<host of base_url>``,
  and ``SEQUENCE`` is the booking's revision, which goes up on every reschedule and on
  cancellation, so calendar applications replace the event instead of adding a second one.
  When the video link arrives after the confirmation (same revision), the new REQUEST has the
  same SEQUENCE and a later ``DTSTAMP``, which RFC 5546 treats as the newer copy.
- Times are UTC (``DTSTART:20261201T140000Z``), so no VTIMEZONE is needed and no client can
  apply an offset twice.
- ``LOCATION`` and ``URL`` carry the join link (or the phone number, address or custom link),
  and a ``CONFERENCE`` property (RFC 7986) the join link with ``FEATURE=VIDEO``.
- Nothing secret goes in: no host start link, no manage link.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event, vCalAddress, vText, vUri

from meetbridge import __version__
from meetbridge.models import LocationKind
from meetbridge.notifications.catalogue import Translator
from meetbridge.notifications.views import BookingFacts, where_text

PRODID = f"-//meetbridge//meetbridge {__version__}//EN"


def event_uid(booking_uid: str, domain: str) -> str:
    return f"{booking_uid}@{domain}"


def _address(email: str, name: str, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = vText(name)
    for key, value in params.items():
        address.params[key.replace("_", "-").upper()] = value
    return address


def _description(facts: BookingFacts, t: Translator, extra_lines: Iterable[str]) -> str:
    lines = [facts.title]
    video = facts.video
    if video.status == "provisioned":
        lines += ["", f"{t('video.join_button', provider=video.provider)}: {video.join_url}"]
        if video.passcode:
            lines.append(f"{t('label.passcode')}: {video.passcode}")
        lines += [f"{t('label.dial_in')}: {number}" for number in video.dial_in]
    elif video.status == "pending":
        lines += ["", t("video.pending.attendee", provider=video.provider or t("video.generic"))]
    elif facts.location_value:
        lines += ["", where_text(facts, t)]
    lines += [line for line in extra_lines if line]
    return "\n".join(lines)


def _location_and_url(facts: BookingFacts, t: Translator) -> tuple[str, str]:
    kind, value = facts.location_kind, facts.location_value
    if facts.video.status == "provisioned":
        return facts.video.join_url, facts.video.join_url
    if kind == LocationKind.PHONE:
        return value, "tel:" + "".join(ch for ch in value if ch.isdigit() or ch == "+")
    if kind == LocationKind.IN_PERSON:
        return value, ""
    if kind == LocationKind.CUSTOM_LINK:
        return value, value
    return where_text(facts, t), ""


def booking_event(
    facts: BookingFacts,
    *,
    domain: str,
    t: Translator,
    now: datetime | None = None,
    cancelled: bool = False,
    extra_description: Iterable[str] = (),
    attendees_as_participants: bool = True,
) -> Event:
    """The VEVENT of a booking (shared by invitations and feeds)."""
    now = now or datetime.now(UTC)
    event = Event()
    event.add("uid", event_uid(facts.uid, domain))
    event.add("dtstamp", now.astimezone(UTC))
    event.add("sequence", facts.revision)
    event.add("dtstart", facts.start.astimezone(UTC))
    event.add("dtend", facts.end.astimezone(UTC))
    guests = " & ".join(a.name for a in facts.attendees)
    event.add("summary", f"{facts.title} ({guests})" if guests else facts.title)
    event.add("description", _description(facts, t, extra_description))
    location, url = _location_and_url(facts, t)
    if location:
        event.add("location", location)
    if url:
        event.add("url", vUri(url))
    if facts.video.status == "provisioned":
        event.add(
            "conference",
            vUri(facts.video.join_url),
            parameters={"VALUE": "URI", "FEATURE": "VIDEO", "LABEL": facts.video.provider},
        )
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    if facts.hosts:
        organizer = facts.hosts[0]
        event.add("organizer", _address(organizer.email, organizer.name))
    if attendees_as_participants:
        for host in facts.hosts[1:]:
            event.add(
                "attendee",
                _address(host.email, host.name, role="REQ-PARTICIPANT", partstat="ACCEPTED"),
            )
        for person in facts.attendees:
            event.add(
                "attendee",
                _address(
                    person.email,
                    person.name,
                    role="REQ-PARTICIPANT",
                    partstat="ACCEPTED",
                    rsvp="FALSE",
                ),
            )
    return event


def _calendar(method: str | None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    return cal


def invitation(
    facts: BookingFacts,
    *,
    domain: str,
    t: Translator,
    cancel: bool = False,
    now: datetime | None = None,
) -> str:
    """A METHOD:REQUEST invitation, or METHOD:CANCEL when ``cancel`` (text, CRLF lines)."""
    cal = _calendar("CANCEL" if cancel else "REQUEST")
    cal.add_component(booking_event(facts, domain=domain, t=t, now=now, cancelled=cancel))
    return cal.to_ical().decode("utf-8")


def feed(events: Iterable[Event], *, name: str, refresh_minutes: int = 30) -> bytes:
    """A subscribable calendar (no METHOD: it is published data, not a message)."""
    cal = _calendar(None)
    cal.add("x-wr-calname", name)
    cal.add("name", name)
    every = timedelta(minutes=refresh_minutes)
    cal.add("refresh-interval", every, parameters={"VALUE": "DURATION"})  # RFC 7986
    cal.add("x-published-ttl", every)  # the same hint, for Outlook
    for event in events:
        cal.add_component(event)
    return cal.to_ical()
