"""The ``email`` channel: a MIME message from an outbox row, sent through the transport.

Structure, as calendar-aware clients (Gmail, Outlook, Apple Mail) expect an invitation::

    multipart/mixed
      multipart/alternative
        text/plain
        text/html
        text/calendar; method=REQUEST|CANCEL    <- shown as an invitation
      application/ics (invite.ics)               <- for everything else

The payload of an email row may carry ``to_name``, ``reply_to`` (a list of addresses),
``message_id`` (the Message-ID header, stable across retries), ``auto`` (a system notice:
``Auto-Submitted: auto-generated``) and ``ics`` with ``ics_method``.
"""

from __future__ import annotations

import asyncio
import logging
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import TYPE_CHECKING

from meetbridge.notifications.delivery import OutgoingMessage
from meetbridge.notifications.links import calendar_domain
from meetbridge.notifications.transports import transport_for

if TYPE_CHECKING:
    from meetbridge.services import Services
    from meetbridge.settings import Settings

log = logging.getLogger("meetbridge.notifications")


def build_email(settings: Settings, message: OutgoingMessage) -> EmailMessage:
    payload = message.payload
    email = EmailMessage()
    email["From"] = settings.email.from_address
    email["To"] = formataddr((str(payload.get("to_name") or ""), message.recipient))
    reply_to = [a for a in payload.get("reply_to") or [] if a]
    if reply_to:
        email["Reply-To"] = ", ".join(reply_to)
    email["Subject"] = message.subject
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = str(
        payload.get("message_id") or f"<meetbridge.{message.id}@{calendar_domain(settings)}>"
    )
    if payload.get("auto"):
        email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
    email.set_content(message.body_text or message.subject)
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html")
    ics = payload.get("ics")
    if ics:
        method = str(payload.get("ics_method") or "REQUEST")
        email.add_alternative(ics, subtype="calendar", params={"method": method})
        email.add_attachment(
            ics.encode("utf-8"),
            maintype="application",
            subtype="ics",
            filename="cancel.ics" if method == "CANCEL" else "invite.ics",
        )
    return email


async def deliver_email(services: Services, message: OutgoingMessage) -> None:
    """The channel function (see :mod:`meetbridge.notifications.delivery`)."""
    email = build_email(services.settings, message)
    transport = transport_for(services.settings)
    where = await asyncio.to_thread(transport.send, email, message_id=message.id, kind=message.kind)
    log.info("email %s (%s) delivered to %s", message.id, message.kind, where)
