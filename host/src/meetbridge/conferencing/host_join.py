"""The host's "Join" button: a fresh link that starts the meeting as its host.

Zoom start links are secrets that expire two hours after they are issued, so the stored one is
never handed out: a new one is fetched from the provider (``get_host_join_url``) with the
connection that created the meeting, at the moment the host clicks. Only a host of the booking
gets it; attendees, other members and the API never do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from meetbridge.conferencing.connections import ConnectionService
from meetbridge.models import BookingHost, Connection, Meeting, MeetingStatus
from meetbridge.providers import Capability, MeetingRef, ProviderError, Secret

if TYPE_CHECKING:
    from meetbridge.services import Services


class HostJoinError(Exception):
    """No host link can be given; the message says why and what to do."""


class NotAHost(HostJoinError, PermissionError):
    """Only the booking's hosts may start its meeting."""


async def host_start_link(services: Services, booking_id: int, user_id: int) -> Secret:
    """A fresh host link for the booking's current meeting, for one of its hosts."""
    with services.sessions() as session:
        is_host = session.scalar(
            select(BookingHost.id).where(
                BookingHost.booking_id == booking_id, BookingHost.user_id == user_id
            )
        )
        if not is_host:
            raise NotAHost("Only a host of this booking can start its meeting.")
        meeting = session.scalars(
            select(Meeting)
            .where(Meeting.booking_id == booking_id, Meeting.status == MeetingStatus.PROVISIONED)
            .order_by(Meeting.id.desc())
        ).first()
        if meeting is None or not meeting.provider:
            raise HostJoinError("This booking has no video meeting yet.")
        conn = session.get(Connection, meeting.connection_id) if meeting.connection_id else None
        provider, join_url = meeting.provider, meeting.join_url or ""
        ref = MeetingRef(
            external_id=meeting.external_id or "",
            join_url=join_url,
            host_user=meeting.host_user_external,
            extra={k: v for k, v in (meeting.extra or {}).items() if k != "in_flight"},
        )
    info = services.plugins.provider(provider)
    if not info.supports(Capability.HOST_JOIN_URL):
        # Google Meet and Teams have no separate host link: the host joins like everyone,
        # signed in to their own account.
        return Secret(join_url)
    if conn is None or not conn.is_active:
        raise HostJoinError(
            f"The {info.label} connection that created this meeting is no longer active, so no"
            f" host link can be fetched. Start the meeting from the {info.label} app."
        )
    try:
        return await services.plugins.call(
            "get_host_join_url",
            provider,
            context=services.provider_context(provider),
            meeting=ref,
            credentials=ConnectionService(services).credentials(conn),
        )
    except ProviderError as exc:
        raise HostJoinError(f"{info.label} did not give a host link: {exc.message}") from None
