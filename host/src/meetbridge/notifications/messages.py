"""The messages about bookings: who gets what, rendered and queued in the caller's session.

- confirmed / rescheduled / cancelled: every attendee (in the booker's timezone) and every
  host (in their own timezone), each with the calendar invitation (REQUEST, or CANCEL);
  a host who lost the booking to another on a reschedule gets ``booking_reassigned``;
- conferencing provisioned after a "your link is on its way": the link and an updated
  invitation, to attendees and hosts;
- alerts to hosts (and admins): conferencing failed, booked without video, daily limit.

Attendees never learn about a problem first: alerts go to hosts and admins only, and what an
attendee is told ("your host will send the details") is what the host's alert quotes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import make_msgid
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meetbridge.models import AuditEvent, Booking, Meeting, OutboundMessage, User
from meetbridge.notifications import ics, links, outbox
from meetbridge.notifications.catalogue import Translator
from meetbridge.notifications.render import render
from meetbridge.notifications.views import (
    BookingFacts,
    Recipient,
    booking_facts,
    booking_view,
    latest_meeting,
)

if TYPE_CHECKING:
    from meetbridge.services import Services

log = logging.getLogger("meetbridge.notifications")

BOOKING_CHANGES = ("booking_confirmed", "booking_rescheduled", "booking_cancelled")
# Kinds that put a booking in a host's calendar (used to find hosts who lost it).
_CALENDAR_KINDS = (*BOOKING_CHANGES, "conferencing_provisioned", "booking_reassigned")


def base_context(org: str, recipient: Recipient, t: Translator, **values: Any) -> dict[str, Any]:
    """Every variable a template may use, with harmless defaults."""
    footer_key = f"footer.{recipient.role}"
    context: dict[str, Any] = {
        "org": org,
        "role": recipient.role,
        "recipient": recipient,
        "footer": t(footer_key, org=org, title=values.get("title", "")),
        "invite": "",
        "manage_hint_earlier": False,
        "reason": "",
        "trail": [],
        "client_told_pending": False,
        "integrations_url": "",
        "b": None,
        "c": None,
        "days": 0,
        "last_reminder": False,
    }
    context.update(values)
    return context


def queue_rendered(
    session: Session,
    services: Services,
    *,
    kind: str,
    recipient: Recipient,
    context: dict[str, Any],
    t: Translator,
    booking_id: int | None,
    payload: dict[str, Any],
    with_job: bool = True,
) -> OutboundMessage:
    """Render and queue one email. ``with_job=False`` leaves its delivery job to the caller
    (:func:`outbox.add_delivery_jobs`, once for all the messages of one change)."""
    rendered = render(kind, context, locale=t.locale)
    domain = links.calendar_domain(services.settings)
    queue = outbox.queue_message if with_job else outbox.new_message
    return queue(
        session,
        channel="email",
        kind=kind,
        recipient=recipient.email,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        booking_id=booking_id,
        payload={
            "role": recipient.role,
            "to_name": recipient.name,
            "message_id": make_msgid(idstring=kind, domain=domain),
            **payload,
        },
    )


def _attendees(booking: Booking) -> list[Recipient]:
    return [Recipient(a.email, a.name, "attendee", a.timezone) for a in booking.attendees]


def _hosts(booking: Booking) -> list[Recipient]:
    return [
        Recipient(h.user.email, h.user.name or h.user.email, "host", h.user.timezone)
        for h in booking.hosts
    ]


def _previous_times(session: Session, booking: Booking) -> tuple[datetime, datetime] | None:
    """The time the people were last told, when it differs from the booking's time now."""
    rows = session.scalars(
        select(OutboundMessage)
        .where(
            OutboundMessage.booking_id == booking.id,
            OutboundMessage.kind.in_(_CALENDAR_KINDS),
        )
        .order_by(OutboundMessage.id.desc())
    )
    for row in rows:
        start, end = (row.payload or {}).get("start"), (row.payload or {}).get("end")
        if start and end:
            told = datetime.fromisoformat(start), datetime.fromisoformat(end)
            return None if told[0] == booking.start_at else told
    return None


def _hosts_told(session: Session, booking: Booking) -> dict[str, str]:
    """Host address -> the last calendar message they got about this booking."""
    last_kind: dict[str, str] = {}
    for row in session.scalars(
        select(OutboundMessage)
        .where(
            OutboundMessage.booking_id == booking.id,
            OutboundMessage.kind.in_(_CALENDAR_KINDS),
        )
        .order_by(OutboundMessage.id)
    ):
        if (row.payload or {}).get("role") == "host":
            last_kind[row.recipient] = row.kind
    return last_kind


def _former_hosts(session: Session, booking: Booking, current: set[str]) -> list[User]:
    """Hosts who had this booking in their calendar and no longer host it."""
    emails = [
        email
        for email, kind in _hosts_told(session, booking).items()
        if email not in current and kind not in ("booking_reassigned", "booking_cancelled")
    ]
    if not emails:
        return []
    return list(session.scalars(select(User).where(User.email.in_(emails)).order_by(User.id)))


def _cancel_reason(session: Session, booking: Booking) -> str:
    event = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.subject_type == "booking",
            AuditEvent.subject_id == str(booking.id),
            AuditEvent.action == "booking.cancelled",
        )
        .order_by(AuditEvent.id.desc())
    ).first()
    return str((event.data or {}).get("reason") or "") if event else ""


def _times(facts: BookingFacts) -> dict[str, Any]:
    return {
        "start": facts.start.astimezone(UTC).isoformat(),
        "end": facts.end.astimezone(UTC).isoformat(),
        "revision": facts.revision,
    }


def queue_booking_change(
    session: Session,
    services: Services,
    booking: Booking,
    kind: str,
    *,
    manage_token: str | None = None,
    meeting: Meeting | None = None,
) -> list[OutboundMessage]:
    """Tell attendees and hosts about ``kind`` (one of :data:`BOOKING_CHANGES`).

    ``manage_token`` (only known when the booking is made) puts the client's private
    reschedule/cancel link in the confirmation, sealed (see :mod:`outbox`). ``meeting``: the
    booking's latest meeting when the caller has it (else it is read).
    """
    if kind not in BOOKING_CHANGES:
        raise ValueError(f"{kind!r} is not a booking change ({', '.join(BOOKING_CHANGES)}).")
    settings, vault = services.settings, services.vault
    assert vault is not None
    t = Translator(settings.email.locale)
    facts = booking_facts(session, services, booking, meeting)
    cancel = kind == "booking_cancelled"
    domain = links.calendar_domain(settings)
    invitation = ics.invitation(facts, domain=domain, t=t, cancel=cancel)
    previous = _previous_times(session, booking) if kind == "booking_rescheduled" else None
    reason = _cancel_reason(session, booking) if cancel else ""
    invite = {"booking_confirmed": "request", "booking_rescheduled": "update"}.get(kind, "cancel")
    common = {**_times(facts), "ics": invitation, "ics_method": "CANCEL" if cancel else "REQUEST"}
    host_emails = [h.email for h in facts.hosts]
    guest_emails = [a.email for a in facts.attendees]
    told = set(_hosts_told(session, booking)) if kind == "booking_rescheduled" else set()
    sent: list[OutboundMessage] = []
    for recipient in dict.fromkeys([*_attendees(booking), *_hosts(booking)]):
        payload = dict(common)
        manage_url = ""
        # A host who takes over a booking on a reschedule gets it as a new booking.
        this_kind = kind
        if (
            kind == "booking_rescheduled"
            and recipient.role == "host"
            and recipient.email not in told
        ):
            this_kind = "booking_confirmed"
        if recipient.role == "attendee":
            payload["reply_to"] = host_emails
            if manage_token and kind == "booking_confirmed":
                manage_url = outbox.placeholder("manage_url")
                payload[outbox.SEALED_KEY] = outbox.seal(
                    vault, {"manage_url": links.manage_page(settings, booking.uid, manage_token)}
                )
        else:
            payload["reply_to"] = guest_emails
        view = booking_view(
            facts,
            recipient,
            services,
            t,
            manage_url=manage_url,
            previous=previous if this_kind == "booking_rescheduled" else None,
            reason=reason,
        )
        context = base_context(
            facts.org_name,
            recipient,
            t,
            title=facts.title,
            b=view,
            invite=invite if this_kind == kind else "request",
            manage_hint_earlier=this_kind == "booking_rescheduled",
        )
        sent.append(
            queue_rendered(
                session,
                services,
                kind=this_kind,
                recipient=recipient,
                context=context,
                t=t,
                booking_id=booking.id,
                payload=payload,
                with_job=False,
            )
        )
    if kind == "booking_rescheduled":
        sent += _tell_former_hosts(session, services, booking, facts, t, set(host_emails))
    outbox.add_delivery_jobs(session, sent)
    return sent


def _tell_former_hosts(
    session: Session,
    services: Services,
    booking: Booking,
    facts: BookingFacts,
    t: Translator,
    current: set[str],
) -> list[OutboundMessage]:
    domain = links.calendar_domain(services.settings)
    sent = []
    for user in _former_hosts(session, booking, current):
        recipient = Recipient(user.email, user.name or user.email, "host", user.timezone)
        view = booking_view(facts, recipient, services, t)
        context = base_context(facts.org_name, recipient, t, b=view, invite="cancel")
        payload = {
            **_times(facts),
            "ics": ics.invitation(facts, domain=domain, t=t, cancel=True),
            "ics_method": "CANCEL",
            "reply_to": [h.email for h in facts.hosts],
        }
        sent.append(
            queue_rendered(
                session,
                services,
                kind="booking_reassigned",
                recipient=recipient,
                context=context,
                t=t,
                booking_id=booking.id,
                payload=payload,
                with_job=False,  # with the others, by queue_booking_change
            )
        )
    return sent


def queue_provisioned(
    session: Session, services: Services, booking: Booking, meeting: Meeting
) -> list[OutboundMessage]:
    """ "Here is your link": to everyone who was told the link was on its way."""
    t = Translator(services.settings.email.locale)
    facts = booking_facts(session, services, booking, meeting)
    domain = links.calendar_domain(services.settings)
    invitation = ics.invitation(facts, domain=domain, t=t)
    sent = []
    for recipient in dict.fromkeys([*_attendees(booking), *_hosts(booking)]):
        others = facts.hosts if recipient.role == "attendee" else facts.attendees
        view = booking_view(facts, recipient, services, t)
        context = base_context(
            facts.org_name, recipient, t, title=facts.title, b=view, invite="update"
        )
        payload = {
            **_times(facts),
            "ics": invitation,
            "ics_method": "REQUEST",
            "reply_to": [p.email for p in others],
        }
        sent.append(
            queue_rendered(
                session,
                services,
                kind="conferencing_provisioned",
                recipient=recipient,
                context=context,
                t=t,
                booking_id=booking.id,
                payload=payload,
                with_job=False,
            )
        )
    outbox.add_delivery_jobs(session, sent)
    return sent


def alert_recipients(session: Session, booking: Booking, *, admins: bool) -> list[Recipient]:
    """The hosts, then (if ``admins``) the organisation's admins; each address once."""
    people = _hosts(booking)
    if admins:
        people += [
            Recipient(u.email, u.name or u.email, "admin", u.timezone)
            for u in outbox.admins(session, booking.organization_id)
        ]
    unique: dict[str, Recipient] = {}
    for person in people:
        unique.setdefault(person.email, person)
    return list(unique.values())


def queue_host_alert(
    session: Session,
    services: Services,
    booking: Booking,
    kind: str,
    *,
    reason: str,
    admins: bool = False,
    trail: Sequence[str] = (),
    payload: dict[str, Any] | None = None,
) -> list[OutboundMessage]:
    """``conferencing_failed``, ``conferencing_unavailable`` or ``daily_limit_deferral``."""
    t = Translator(services.settings.email.locale)
    meeting = latest_meeting(session, booking.id)
    facts = booking_facts(session, services, booking, meeting)
    told_pending = bool(meeting is not None and (meeting.extra or {}).get("client_told_pending"))
    sent = []
    for recipient in alert_recipients(session, booking, admins=admins):
        context = base_context(
            facts.org_name,
            recipient,
            t,
            b=booking_view(facts, recipient, services, t),
            reason=reason,
            trail=list(trail),
            client_told_pending=told_pending,
            integrations_url=links.integrations_page(services.settings),
        )
        sent.append(
            queue_rendered(
                session,
                services,
                kind=kind,
                recipient=recipient,
                context=context,
                t=t,
                booking_id=booking.id,
                payload={**_times(facts), "auto": True, **(payload or {})},
                with_job=False,
            )
        )
    outbox.add_delivery_jobs(session, sent)
    return sent


def trail_lines(trail: Iterable[dict[str, Any]]) -> list[str]:
    """The resolution trail as sentences ("ann@acme.test has not connected zoom")."""
    return [str(step.get("detail") or "") for step in trail if step.get("detail")]


@contextmanager
def guarded(session: Session, what: str) -> Iterator[None]:
    """Queue messages without ever failing the change they report.

    The messages are queued in a savepoint: if rendering or queueing fails (a bug), they are
    rolled back and logged, and the caller's transaction (the booking, the meeting) commits.
    """
    try:
        with session.begin_nested():
            yield
    except Exception:
        log.exception("could not queue %s; the change itself is saved", what)
