"""The Jitsi provider plugin: meetbridge's hooks, implemented for Jitsi Meet.

Four hooks are enough: describe the provider, and create, move and delete a booking's
meeting. There is nothing to connect, refresh or revoke, so those hooks are not implemented
and the description declares no capability that would make the host call them. No hook makes
a network call: a meeting is a URL (see :mod:`meetbridge_jitsi.rooms`).
"""

from __future__ import annotations

from meetbridge.hookspecs import hookimpl
from meetbridge.providers import (
    DeleteOutcome,
    Meeting,
    MeetingGone,
    MeetingRef,
    MeetingRequest,
    ProviderContext,
    ProviderInfo,
)
from meetbridge_jitsi import rooms
from meetbridge_jitsi.info import INFO, NAME


@hookimpl
def describe_provider() -> ProviderInfo:
    """Jitsi Meet: no account, no capabilities, one setting for the server."""
    return INFO


@hookimpl
def create_meeting(context: ProviderContext, request: MeetingRequest) -> Meeting:
    """A new unguessable room on the configured server.

    Nothing is made at Jitsi, so a retry can never leave a second meeting behind; the host
    stores the room it is given. ``credentials`` is not taken: it is always None here.
    """
    room = rooms.new_room_name(rooms.room_prefix(context))
    room_url = f"{rooms.server_url(context)}/{room}"
    return Meeting(external_id=room, join_url=rooms.join_url(room_url, request.settings))


@hookimpl
def update_meeting(
    context: ProviderContext, meeting: MeetingRef, request: MeetingRequest
) -> Meeting:
    """Keep the room attendees already have; only the settings fragment may change."""
    if not rooms.ROOM_NAME.match(meeting.external_id):
        # Not a room this plugin made: report it gone, so the host makes a proper new one.
        raise MeetingGone(
            f"{meeting.external_id!r} is not a Jitsi room made by meetbridge.",
            provider=NAME,
            provider_code="unknown_room",
        )
    room_url = meeting.join_url.split("#", 1)[0] or (
        f"{rooms.server_url(context)}/{meeting.external_id}"
    )
    return Meeting(
        external_id=meeting.external_id, join_url=rooms.join_url(room_url, request.settings)
    )


@hookimpl
def delete_meeting() -> DeleteOutcome:
    """Nothing to delete: a Jitsi room only exists while people are in it.

    The link keeps working for whoever has it, which is why room names are unguessable and
    why the cancellation email tells attendees the meeting is off.
    """
    return DeleteOutcome.DELETED
