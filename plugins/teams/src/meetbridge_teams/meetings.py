"""Teams online meetings: request bodies, reading Graph's answers, and the ids inside them.

Times go to Graph as UTC instants with a ``Z`` (``2026-03-08T07:00:00Z``), computed from the
request's aware UTC start: never a local wall time, so no off-by-the-offset bug is possible.

Body shapes follow Graph v1.0:

- ``POST /me/onlineMeetings/createOrGet`` is an OData *action*. Its documented parameters are
  ``externalId``, ``subject``, ``startDateTime``, ``endDateTime``, ``participants`` and
  ``chatInfo``; anything else (``lobbyBypassSettings`` included) is not a parameter of the
  action, so the lobby is set with a PATCH right after creating.
- ``PATCH /me/onlineMeetings/{id}`` takes onlineMeeting properties; when the time changes both
  ``startDateTime`` and ``endDateTime`` must be sent, so meetbridge always sends both.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from meetbridge.providers import Meeting, MeetingRequest, ProviderError

# meetbridge's default: everyone except the organiser waits in the lobby and is admitted by
# the organiser; dial-in callers wait too.
DEFAULT_LOBBY_SCOPE = "organizer"
LOBBY_SCOPES = frozenset(
    {
        "organizer",
        "organization",
        "organizationAndFederated",
        "organizationExcludingGuests",
        "everyone",
        "invited",
    }
)
CREATE_OR_GET_PARAMETERS = frozenset(
    {
        "externalId",
        "subject",
        "startDateTime",
        "endDateTime",
        "participants",
        "chatInfo",
    }
)


def graph_datetime(value: datetime) -> str:
    """An aware instant as Graph wants it: UTC with a ``Z``, to the second."""
    if value.tzinfo is None:
        raise ValueError("meeting times must be aware datetimes")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_graph_datetime(value: str | None) -> datetime | None:
    """Parse Graph's ``2026-03-08T07:00:00.0000000Z`` (seven fraction digits) or an offset."""
    if not value:
        return None
    try:
        # Python 3.11 reads "Z" and any number of fraction digits.
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def lobby_settings(request: MeetingRequest) -> dict[str, Any]:
    """``lobbyBypassSettings`` for the request: meetbridge's default unless settings override.

    Per-meeting-type settings may carry ``lobby_bypass_scope`` (one of Graph's
    ``lobbyBypassScope`` values) and ``dial_in_bypass_lobby`` (bool).
    """
    settings = request.settings or {}
    scope = str(settings.get("lobby_bypass_scope") or DEFAULT_LOBBY_SCOPE)
    if scope not in LOBBY_SCOPES:
        # A configuration fault of the meeting type: retrying cannot help, saying so can.
        raise ProviderError(
            f"Unknown Teams lobby setting {scope!r} on this meeting type; use one of"
            f" {', '.join(sorted(LOBBY_SCOPES))}.",
            provider="teams",
            provider_code="invalid_lobby_bypass_scope",
        )
    return {"scope": scope, "isDialInBypassEnabled": bool(settings.get("dial_in_bypass_lobby"))}


def create_or_get_body(request: MeetingRequest) -> dict[str, Any]:
    """The createOrGet body, keyed on the booking's idempotency key."""
    return {
        "externalId": request.idempotency_key,
        "subject": request.topic,
        "startDateTime": graph_datetime(request.start_utc),
        "endDateTime": graph_datetime(request.end_utc),
    }


def update_body(request: MeetingRequest) -> dict[str, Any]:
    """The PATCH body for a reschedule or retitle: both times always travel together."""
    return {
        "subject": request.topic,
        "startDateTime": graph_datetime(request.start_utc),
        "endDateTime": graph_datetime(request.end_utc),
        "lobbyBypassSettings": lobby_settings(request),
    }


def differences(graph: Mapping[str, Any], request: MeetingRequest) -> dict[str, Any]:
    """What a meeting returned by createOrGet lacks compared with the request, as a PATCH body.

    A new meeting always needs its lobby set. An existing one (a retry after a lost answer,
    possibly after the booking moved) may also differ in subject or time; the time is then
    sent as a start and end pair.
    """
    patch: dict[str, Any] = {}
    wanted_lobby = lobby_settings(request)
    lobby = graph.get("lobbyBypassSettings") or {}
    if (lobby.get("scope"), bool(lobby.get("isDialInBypassEnabled"))) != (
        wanted_lobby["scope"],
        wanted_lobby["isDialInBypassEnabled"],
    ):
        patch["lobbyBypassSettings"] = wanted_lobby
    if (graph.get("subject") or "") != request.topic:
        patch["subject"] = request.topic
    start = parse_graph_datetime(graph.get("startDateTime"))
    end = parse_graph_datetime(graph.get("endDateTime"))
    if start != request.start_utc.replace(microsecond=0) or end != request.end_utc.replace(
        microsecond=0
    ):
        patch["startDateTime"] = graph_datetime(request.start_utc)
        patch["endDateTime"] = graph_datetime(request.end_utc)
    return patch


def _dial_in(audio: Mapping[str, Any]) -> tuple[str, ...]:
    """One-tap dial strings (``number,,conferenceId#``) from ``audioConferencing``."""
    conference = str(audio.get("conferenceId") or "")
    numbers: list[str] = []
    for key in ("tollNumber", "tollFreeNumber"):
        if audio.get(key):
            numbers.append(str(audio[key]))
    for key in ("tollNumbers", "tollFreeNumbers"):
        numbers.extend(str(n) for n in audio.get(key) or () if n)
    unique = list(dict.fromkeys(numbers))
    return tuple(f"{n},,{conference}#" if conference else n for n in unique)


def meeting_from_graph(body: Mapping[str, Any]) -> Meeting:
    """The meetbridge Meeting for a Graph onlineMeeting."""
    join = body.get("joinMeetingIdSettings") or {}
    audio = body.get("audioConferencing") or {}
    extra: dict[str, Any] = {
        "join_meeting_id": str(join.get("joinMeetingId") or ""),
        "external_id": str(body.get("externalId") or ""),
    }
    organizer = organizer_id(str(body.get("id") or ""))
    if organizer:
        extra["organizer_id"] = organizer
    if audio.get("conferenceId"):
        extra["conference_id"] = str(audio["conferenceId"])
    if audio.get("dialinUrl"):
        extra["dial_in_url"] = str(audio["dialinUrl"])
    return Meeting(
        external_id=str(body["id"]),
        join_url=str(body.get("joinWebUrl") or ""),
        passcode=str(join.get("passcode") or ""),
        dial_in=_dial_in(audio),
        extra=extra,
    )


def organizer_id(meeting_id: str) -> str:
    """The organiser's user id encoded in a Graph onlineMeeting id, or ``""``.

    Graph meeting ids are base64 of ``1*{organizer id}*0**{thread id}``. Knowing the organiser
    lets meetbridge refuse to act on a meeting with another person's connection instead of
    reading "not found" as "already deleted" and leaving the meeting behind.
    """
    padded = meeting_id + "=" * (-len(meeting_id) % 4)
    try:
        decoded = base64.b64decode(padded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""
    parts = decoded.split("*")
    return parts[1] if len(parts) >= 3 and parts[0] == "1" and parts[1] else ""
