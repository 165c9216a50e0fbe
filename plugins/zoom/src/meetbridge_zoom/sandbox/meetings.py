"""Meeting objects in the sandbox: validating what clients send, and Zoom's answers.

Like Zoom, ``start_time`` is either UTC with a trailing ``Z`` or a wall time without offset,
read in the body's ``timezone`` (or the host's). The sandbox stores the one instant that
results and always answers in UTC ``Z`` form, so a client that sends a wall time *and* means
UTC gets a meeting at the wrong hour here, as it would at Zoom.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from meetbridge_zoom.sandbox.guard import ZoomError
from meetbridge_zoom.sandbox.state import SandboxState
from meetbridge_zoom.sandbox.world import SandboxUser

_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(Z?)$")
MEETING_TYPES = {1, 2, 3, 8}
AUTO_RECORDING = {"local", "cloud", "none"}
ZOOM_DEFAULT_SETTINGS: dict[str, Any] = {
    "host_video": False,
    "participant_video": False,
    "join_before_host": False,
    "mute_upon_entry": False,
    "waiting_room": False,
    "auto_recording": "none",
    "approval_type": 2,
    "audio": "voip",
}
DIAL_IN = [
    {
        "country": "US",
        "country_name": "US",
        "city": "New York",
        "number": "+1 646 558 8656",
        "type": "toll",
    },
    {
        "country": "US",
        "country_name": "US",
        "city": "San Jose",
        "number": "+1 669 900 6833",
        "type": "toll",
    },
]


def _invalid(field: str, message: str) -> ZoomError:
    return ZoomError(400, 300, "Validation Failed.", errors=[{"field": field, "message": message}])


def parse_start(value: Any, zone: str) -> datetime:
    match = _TIME.match(str(value)) if isinstance(value, str) else None
    if match is None:
        raise _invalid(
            "start_time", "Invalid field: use yyyy-MM-ddTHH:mm:ssZ or a local time without offset."
        )
    naive = datetime.fromisoformat(match.group(1))
    if match.group(2) == "Z":
        return naive.replace(tzinfo=UTC)
    return naive.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def validate(body: Any, host: SandboxUser, *, partial: bool) -> dict[str, Any]:
    """The fields of a create (or, ``partial``, update) body, checked as Zoom does."""
    if not isinstance(body, dict):
        raise ZoomError(400, 300, "Request Body should be a valid JSON object.")
    fields: dict[str, Any] = {}
    if "topic" in body or not partial:
        topic = body.get("topic", "")
        if not isinstance(topic, str) or len(topic) > 200:
            raise _invalid("topic", "Invalid field: topic is a string of at most 200 characters.")
        fields["topic"] = topic
    if "agenda" in body:
        agenda = body["agenda"]
        if not isinstance(agenda, str) or len(agenda) > 2000:
            raise _invalid("agenda", "Invalid field: agenda is at most 2000 characters.")
        fields["agenda"] = agenda
    if "type" in body or not partial:
        kind = body.get("type", 2)
        if kind not in MEETING_TYPES:
            raise _invalid("type", "Invalid field.")
        fields["type"] = kind
    if "timezone" in body:
        try:
            ZoneInfo(str(body["timezone"]))
        except (ZoneInfoNotFoundError, ValueError):
            raise _invalid("timezone", "Invalid field.") from None
        fields["timezone"] = str(body["timezone"])
    zone = fields.get("timezone", host.timezone)
    if "start_time" in body or (not partial and fields.get("type") == 2):
        fields["start"] = parse_start(body.get("start_time"), zone)
    if "duration" in body or not partial:
        duration = body.get("duration", 60)
        if not isinstance(duration, int) or isinstance(duration, bool) or duration <= 0:
            raise _invalid("duration", "Invalid field: duration is a positive number of minutes.")
        fields["duration"] = duration
    if "settings" in body:
        settings = body["settings"]
        if not isinstance(settings, dict):
            raise _invalid("settings", "Invalid field.")
        recording = settings.get("auto_recording", "none")
        if recording not in AUTO_RECORDING:
            raise _invalid("settings.auto_recording", "Invalid field.")
        fields["settings"] = settings
    if "password" in body:
        fields["password"] = str(body["password"])[:10]
    return fields


def create(
    state: SandboxState, host: SandboxUser, fields: dict[str, Any], base_url: str
) -> dict[str, Any]:
    meeting_id = state.next_meeting_id()
    password = fields.get("password") or secrets.token_hex(3)
    meeting = {
        "id": meeting_id,
        "uuid": secrets.token_urlsafe(16)[:22] + "==",
        "host_id": host.id,
        "host_email": host.email,
        "account_id": host.account_id,
        "topic": fields.get("topic", ""),
        "type": fields.get("type", 2),
        "status": "waiting",
        "start": fields.get("start") or state.clock(),
        "duration": fields.get("duration", 60),
        "timezone": fields.get("timezone", host.timezone),
        "agenda": fields.get("agenda", ""),
        "created_at": state.clock(),
        "password": password,
        "join_url": f"{base_url}/j/{meeting_id}?pwd={secrets.token_urlsafe(18)}",
        "settings": {
            **ZOOM_DEFAULT_SETTINGS,
            **fields.get("settings", {}),
            "global_dial_in_numbers": DIAL_IN,
        },
        "_deleted": False,
    }
    with state.lock:
        state.meetings[meeting_id] = meeting
    return meeting


def update(meeting: dict[str, Any], fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        if key == "settings":
            meeting["settings"] = {**meeting["settings"], **value}
        else:
            meeting[key] = value


def zoom_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def start_url(state: SandboxState, meeting: dict[str, Any], base_url: str) -> str:
    """A new host start link; like Zoom's, it works for two hours."""
    zak = secrets.token_urlsafe(24)
    with state.lock:
        state.start_links[zak] = (meeting["id"], state.clock())
    return f"{base_url}/s/{meeting['id']}?zak={zak}"


def start_link_valid(state: SandboxState, meeting_id: int, zak: str) -> bool:
    issued = state.start_links.get(zak)
    return (
        issued is not None
        and issued[0] == meeting_id
        and state.clock() - issued[1] <= timedelta(hours=2)
    )


def render(state: SandboxState, meeting: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The full meeting object, as create (201) and GET answer it."""
    return {
        "uuid": meeting["uuid"],
        "id": meeting["id"],
        "host_id": meeting["host_id"],
        "host_email": meeting["host_email"],
        "topic": meeting["topic"],
        "type": meeting["type"],
        "status": meeting["status"],
        "start_time": zoom_time(meeting["start"]),
        "duration": meeting["duration"],
        "timezone": meeting["timezone"],
        "agenda": meeting["agenda"],
        "created_at": zoom_time(meeting["created_at"]),
        "start_url": start_url(state, meeting, base_url),
        "join_url": meeting["join_url"],
        "password": meeting["password"],
        "h323_password": meeting["password"],
        "pre_schedule": False,
        "settings": meeting["settings"],
    }


def summary(meeting: dict[str, Any]) -> dict[str, Any]:
    """A list entry; Zoom truncates the agenda to 250 characters when listing."""
    return {
        "uuid": meeting["uuid"],
        "id": meeting["id"],
        "host_id": meeting["host_id"],
        "topic": meeting["topic"],
        "type": meeting["type"],
        "start_time": zoom_time(meeting["start"]),
        "duration": meeting["duration"],
        "timezone": meeting["timezone"],
        "agenda": meeting["agenda"][:250],
        "created_at": zoom_time(meeting["created_at"]),
        "join_url": meeting["join_url"],
    }


def is_upcoming(meeting: dict[str, Any], now: datetime) -> bool:
    return meeting["start"] + timedelta(minutes=meeting["duration"]) > now
