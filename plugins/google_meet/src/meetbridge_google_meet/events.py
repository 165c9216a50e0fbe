"""Calendar events as meetbridge meetings: event ids, request bodies, reading the answer.

Pure functions, no I/O, so the shapes can be checked against Google's discovery document.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from meetbridge.providers import Meeting, MeetingRequest, ProviderError
from meetbridge_google_meet.info import NAME
from meetbridge_google_meet.options import GoogleOptions

# Private extended property that marks an event as the one meetbridge made for a booking,
# so a 409 on our chosen id is only taken as "ours" when the mark matches.
KEY_PROPERTY = "meetbridgeKey"
MEET_SOLUTION = "hangoutsMeet"


def key_tag(idempotency_key: str, namespace: str) -> str:
    """A short digest of the booking's key (the raw key never leaves meetbridge)."""
    return hashlib.sha256(f"{namespace}\x00{idempotency_key}".encode()).hexdigest()[:40]


def event_id_for(idempotency_key: str, namespace: str, generation: int = 0) -> str:
    """The event id meetbridge chooses for a booking: same key, same id, across retries.

    Google allows base32hex characters (``a-v0-9``), 5 to 1024 of them. ``generation`` moves
    to a fresh id when the event for the booking was deleted in Google Calendar (deleted ids
    stay taken), walking the same sequence on every retry so the walk is repeatable.
    """
    digest = hashlib.sha256(f"{namespace}\x00{idempotency_key}\x00{generation}".encode())
    encoded = base64.b32hexencode(digest.digest()).decode("ascii").rstrip("=").lower()
    return f"mb{encoded}"


def conference_request_id(event_id: str, purpose: str = "create") -> str:
    """``createRequest.requestId``: Google ignores a request that repeats the previous id,
    so a request that adds a conference to an existing event uses another purpose."""
    return f"{event_id}-{purpose}"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ProviderError(
            f"The meeting's timezone {name!r} is not a known IANA zone; set the organisation's"
            " timezone to one such as 'America/New_York'.",
            provider=NAME,
            provider_code="invalid_timezone",
        ) from None


def event_times(request: MeetingRequest) -> tuple[dict[str, str], dict[str, str]]:
    """``start``/``end`` for the event: the booking's UTC instants shown in its timezone.

    The wall time carries its UTC offset *and* the zone name, so the instant is exact even
    in the hour that repeats when daylight saving time ends (never the off-by-offset bug).
    """
    zone = _zone(request.timezone)
    start = request.start_utc.astimezone(zone)
    end = request.end_utc.astimezone(zone)
    return (
        {"dateTime": start.isoformat(), "timeZone": request.timezone},
        {"dateTime": end.isoformat(), "timeZone": request.timezone},
    )


def create_request(event_id: str, purpose: str = "create") -> dict[str, Any]:
    return {
        "createRequest": {
            "requestId": conference_request_id(event_id, purpose),
            "conferenceSolutionKey": {"type": MEET_SOLUTION},
        }
    }


def insert_body(
    request: MeetingRequest, options: GoogleOptions, *, event_id: str, tag: str
) -> dict[str, Any]:
    """The ``events.insert`` body for a booking's meeting."""
    start, end = event_times(request)
    body: dict[str, Any] = {
        "id": event_id,
        "summary": request.topic,
        "start": start,
        "end": end,
        "conferenceData": create_request(event_id),
        "extendedProperties": {"private": {KEY_PROPERTY: tag}},
    }
    if request.agenda:
        body["description"] = request.agenda
    if options.invite_attendees and request.attendees:
        body["attendees"] = [{"email": email} for email in request.attendees]
    return body


def patch_body(request: MeetingRequest, options: GoogleOptions) -> dict[str, Any]:
    """The ``events.patch`` body for a moved or retitled booking."""
    start, end = event_times(request)
    body: dict[str, Any] = {"summary": request.topic, "start": start, "end": end}
    if request.agenda:
        body["description"] = request.agenda
    if options.invite_attendees:
        body["attendees"] = [{"email": email} for email in request.attendees]
    return body


# -- reading events ---------------------------------------------------------------------------
def is_ours(event: dict[str, Any], tag: str) -> bool:
    private = (event.get("extendedProperties") or {}).get("private") or {}
    return private.get(KEY_PROPERTY) == tag


def is_cancelled(event: dict[str, Any]) -> bool:
    """Google keeps deleted events around with ``status: cancelled``."""
    return event.get("status") == "cancelled"


def conference_status(event: dict[str, Any]) -> str:
    """``success``, ``pending``, ``failure``, or ``none`` when the event has no conference."""
    data = event.get("conferenceData") or {}
    status = ((data.get("createRequest") or {}).get("status") or {}).get("statusCode")
    if status in {"success", "pending", "failure"}:
        return str(status)
    if data.get("entryPoints") or event.get("hangoutLink"):
        return "success"
    return "none"


def join_url(event: dict[str, Any]) -> str:
    """The attendees' link: the video entry point, else ``hangoutLink``."""
    for entry in (event.get("conferenceData") or {}).get("entryPoints") or []:
        if entry.get("entryPointType") == "video" and entry.get("uri"):
            return str(entry["uri"])
    return str(event.get("hangoutLink") or "")


def dial_in(event: dict[str, Any]) -> tuple[str, ...]:
    """Phone numbers with their PIN, then the page listing more numbers, if Google gave any."""
    lines: list[str] = []
    more: list[str] = []
    for entry in (event.get("conferenceData") or {}).get("entryPoints") or []:
        kind = entry.get("entryPointType")
        if kind == "phone":
            number = entry.get("label") or str(entry.get("uri", "")).removeprefix("tel:")
            pin = entry.get("pin") or entry.get("accessCode") or entry.get("passcode")
            region = f" ({entry['regionCode']})" if entry.get("regionCode") else ""
            lines.append(f"{number}{region} PIN: {pin}#" if pin else f"{number}{region}")
        elif kind == "more" and entry.get("uri"):
            more.append(f"More phone numbers: {entry['uri']}")
    return tuple(lines + more)


def event_instant(value: dict[str, Any] | None) -> datetime | None:
    """An ``EventDateTime`` as an aware instant (``None`` for all-day or missing)."""
    if not value or not value.get("dateTime"):
        return None
    moment = datetime.fromisoformat(str(value["dateTime"]))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_zone(str(value.get("timeZone") or "UTC")))
    return moment


def matches_request(event: dict[str, Any], request: MeetingRequest) -> bool:
    """Whether an existing event already has the booking's time and title."""
    return (
        event_instant(event.get("start")) == request.start_utc
        and event_instant(event.get("end")) == request.end_utc
        and event.get("summary") == request.topic
    )


def meeting_from_event(event: dict[str, Any], *, calendar_id: str, account_id: str) -> Meeting:
    """The :class:`Meeting` for an event whose conference is ready."""
    data = event.get("conferenceData") or {}
    return Meeting(
        external_id=str(event["id"]),
        join_url=join_url(event),
        dial_in=dial_in(event),
        status="provisioned",
        extra={
            "calendar_id": calendar_id,
            "account_id": account_id,
            "conference_id": str(data.get("conferenceId") or ""),
            "html_link": str(event.get("htmlLink") or ""),
            "ical_uid": str(event.get("iCalUID") or ""),
        },
    )
