"""Zoom meetings: the request body meetbridge sends and the Meeting it reads back.

Times. ``start_time`` is sent as the UTC instant with a ``Z`` (``2026-03-09T14:00:00Z``) and
``timezone`` as the organisation's zone, which Zoom uses only to *display* the meeting. Zoom
would read a ``start_time`` without ``Z`` as wall time in ``timezone``; mixing the two forms is
the classic off-by-the-UTC-offset bug, so local wall times are never sent.

Finding a meeting again. The agenda starts with a booking marker line
(``[meetbridge:<key>]``). Zoom truncates agendas to 250 characters when listing a host's
meetings, so the marker goes first, where listing still shows it. After an ambiguous failure
the retry lists the host's upcoming meetings and reuses the one carrying the marker.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from meetbridge.providers import Meeting, MeetingRequest, Secret
from meetbridge_zoom import limits
from meetbridge_zoom.client import ZoomClient, meeting_path

TOPIC_MAX = 200
AGENDA_MAX = 2000
MARKER_KEY_MAX = 64
LIST_PAGE_SIZE = 300
LIST_MAX_PAGES = 20  # 6,000 upcoming meetings: more than any host has; bounds a bad paginator

# meetbridge's required meeting settings; a meeting type's settings override them.
DEFAULT_SETTINGS: Mapping[str, Any] = {
    "waiting_room": True,
    "join_before_host": False,
    "auto_recording": "none",
}

_MARKER_SAFE = re.compile(r"^[A-Za-z0-9._:-]+$")


def booking_marker(idempotency_key: str) -> str:
    """The agenda line that identifies the booking's meeting, short and unambiguous."""
    key = idempotency_key.strip()
    if len(key) > MARKER_KEY_MAX or not _MARKER_SAFE.match(key):
        key = "sha256-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"[meetbridge:{key}]"


def zoom_time(request: MeetingRequest) -> str:
    """The start as Zoom's UTC form: ``yyyy-MM-ddTHH:mm:ssZ``."""
    return request.start_utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def meeting_body(request: MeetingRequest, organization_timezone: str) -> dict[str, Any]:
    """The JSON body for creating (and, identically, updating) a scheduled meeting."""
    marker = booking_marker(request.idempotency_key)
    agenda = f"{marker}\n{request.agenda}".strip() if request.agenda else marker
    return {
        "topic": request.topic.strip()[:TOPIC_MAX] or "Meeting",
        "type": 2,  # a scheduled meeting
        "start_time": zoom_time(request),
        "duration": request.duration_minutes,
        "timezone": request.timezone or organization_timezone,
        "agenda": agenda[:AGENDA_MAX],
        "settings": {**DEFAULT_SETTINGS, **dict(request.settings)},
    }


def meeting_from_zoom(body: Mapping[str, Any]) -> Meeting:
    """A :class:`Meeting` from Zoom's meeting object (create response or GET)."""
    start_url = body.get("start_url")
    settings = body.get("settings") or {}
    dial_in = tuple(
        f"{number.get('number', '')} ({number.get('country_name') or number.get('country', '')})"
        for number in settings.get("global_dial_in_numbers") or ()
        if isinstance(number, Mapping) and number.get("number")
    )
    extra = {
        key: body[key]
        for key in ("uuid", "host_id", "start_time", "timezone", "duration", "status")
        if body.get(key) is not None
    }
    return Meeting(
        external_id=str(body["id"]),  # int64 at Zoom; a string here, never a float
        join_url=str(body.get("join_url") or ""),
        host_start_url=Secret(str(start_url)) if start_url else None,
        passcode=str(body.get("password") or ""),
        dial_in=dial_in,
        extra=extra,
    )


async def fetch(client: ZoomClient, external_id: str) -> dict[str, Any]:
    """GET the meeting (a fresh ``start_url`` comes with it)."""
    return await client.get_json(meeting_path(external_id), what="read the meeting")


async def find_by_marker(client: ZoomClient, owner: str, marker: str) -> str | None:
    """The id of the host's upcoming meeting whose agenda carries ``marker``, if any."""
    params: dict[str, Any] = {"type": "upcoming", "page_size": LIST_PAGE_SIZE}
    for _ in range(LIST_MAX_PAGES):
        page = await client.get_json(
            f"/users/{owner}/meetings",
            what="look for a meeting it may already have made",
            category=limits.MEDIUM,
            params=params,
        )
        for item in page.get("meetings") or ():
            if marker in str(item.get("agenda") or ""):
                return str(item["id"])
        token = page.get("next_page_token")
        if not token:
            return None
        params = {**params, "next_page_token": token}
    return None
