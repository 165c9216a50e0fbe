"""The web addresses messages point at, in one place.

The web application mounts these routes; keeping their shape here means a route change is a
one-line change for every message.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from meetbridge.settings import Settings


def base(settings: Settings) -> str:
    return settings.base_url.rstrip("/")


def calendar_domain(settings: Settings) -> str:
    """The host part of ``base_url``: the right-hand side of every ICS UID."""
    return urlsplit(settings.base_url).hostname or "meetbridge.invalid"


def booking_page(settings: Settings, booking_uid: str) -> str:
    """A host's view of a booking (status, explanation, Start meeting)."""
    return f"{base(settings)}/bookings/{quote(booking_uid)}"


def manage_page(settings: Settings, booking_uid: str, token: str) -> str:
    """The client's private link to reschedule or cancel (the token is a secret)."""
    return f"{base(settings)}/manage/{quote(booking_uid)}?token={quote(token)}"


def booking_form(settings: Settings, slug: str) -> str:
    """The public booking page of a meeting type."""
    return f"{base(settings)}/book/{quote(slug)}"


def integrations_page(settings: Settings) -> str:
    """Where people connect, reconnect and disconnect provider accounts."""
    return f"{base(settings)}/profile/integrations"


def calendar_feed(settings: Settings, token: str) -> str:
    """A person's calendar feed (subscribe to it in any calendar application)."""
    return f"{base(settings)}/feeds/{quote(token)}.ics"
