"""Google Calendar v3 events, emulated, with Meet conferences (``conferenceData``).

What it gets right because clients get it wrong: without ``conferenceDataVersion=1`` the
conference request is dropped silently; a client-chosen id that exists (even deleted) is
409; deleting twice is 410 and an unknown id 404; a deleted event still reads back with
``status: cancelled``; Meet creation may stay ``pending`` for a few reads.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import string
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from meetbridge_google_meet.sandbox.errors import api_error, auth_error, insufficient_permissions
from meetbridge_google_meet.sandbox.state import (
    CALENDAR_WRITE_SCOPES,
    IDENTITY_SCOPES,
    KNOWN_SCOPES,
    AccessToken,
    Account,
    Conference,
    Notification,
    RecordedRequest,
    SandboxState,
    StoredEvent,
)

EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
SEND_UPDATES = ("all", "externalOnly", "none")
# Writable Event fields the sandbox keeps as given (times and conferences are handled apart).
STORED_FIELDS = frozenset(
    {
        "summary",
        "description",
        "location",
        "attendees",
        "extendedProperties",
        "reminders",
        "transparency",
        "visibility",
        "colorId",
        "guestsCanInviteOthers",
        "guestsCanModify",
        "guestsCanSeeOtherGuests",
        "anyoneCanAddSelf",
        "source",
        "status",
    }
)
MEET_ICON = (
    "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/"
    "logo_meet_2020q4_color_2x_web_512dp.png"
)
CALENDAR_READ_SCOPES = KNOWN_SCOPES - IDENTITY_SCOPES


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _meeting_code() -> str:
    letters = string.ascii_lowercase
    return "-".join("".join(secrets.choice(letters) for _ in range(n)) for n in (3, 4, 3))


class BadRequest(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _invalid(message: str, reason: str = "invalid", domain: str = "global") -> BadRequest:
    return BadRequest(api_error(400, reason, message, domain=domain))


def parse_time(value: Any, which: str, account: Account) -> tuple[datetime, str]:
    """An EventDateTime as (UTC instant, zone name to show it in)."""
    if not isinstance(value, dict) or not (value.get("dateTime") or value.get("date")):
        raise _invalid(f"Missing {which} time.", "required")
    zone_name = value.get("timeZone")
    if zone_name is not None:
        try:
            ZoneInfo(str(zone_name))
        except (ZoneInfoNotFoundError, ValueError):
            raise _invalid(f"Invalid time zone definition for {which} time.") from None
    shown = str(zone_name or account.timezone)
    raw = value.get("dateTime") or f"{value['date']}T00:00:00"
    try:
        moment = datetime.fromisoformat(str(raw))
    except ValueError:
        raise _invalid(f"Invalid {which} time.") from None
    if moment.tzinfo is None:
        if zone_name is None and value.get("dateTime"):
            raise _invalid(f"Missing time zone definition for {which} time.", "required")
        # A wall time without offset is read in the zone; in the repeated hour of a DST
        # change that picks the first occurrence, which is why clients should send offsets.
        moment = moment.replace(tzinfo=ZoneInfo(shown))
    return moment.astimezone(UTC), shown


def calendar_router(state: SandboxState) -> APIRouter:
    router = APIRouter(prefix="/calendar/v3")

    # -- plumbing ------------------------------------------------------------------------------
    async def start(request: Request, *, write: bool) -> tuple[Account, Any]:
        """Record the request, authenticate it, apply rate limits; returns (account, body)."""
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = BadRequest(api_error(400, "parseError", "Parse Error"))
        state.requests.append(
            RecordedRequest(
                request.method,
                request.url.path.removeprefix(request.scope.get("root_path", "")),
                dict(request.query_params),
                None if isinstance(body, BadRequest) else body,
            )
        )
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        access: AccessToken | None = state.live_access_token(token) if token else None
        if access is None:
            raise BadRequest(auth_error())
        needed = CALENDAR_WRITE_SCOPES if write else CALENDAR_READ_SCOPES
        if not access.scopes & needed:
            raise BadRequest(insufficient_permissions())
        if not state.limits.allow(access.sub, state.clock()):
            if state.limits.status_code == 429:
                raise BadRequest(
                    api_error(429, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits")
                )
            raise BadRequest(
                api_error(
                    403, "userRateLimitExceeded", "User Rate Limit Exceeded", domain="usageLimits"
                )
            )
        if isinstance(body, BadRequest):
            raise body
        return state.accounts[access.sub], body

    def calendar_of(account: Account, calendar_id: str) -> None:
        if calendar_id not in ("primary", account.email):
            raise BadRequest(api_error(404, "notFound", "Not Found"))

    def query_options(request: Request) -> tuple[int, str]:
        raw_version = request.query_params.get("conferenceDataVersion", "0")
        try:
            version = int(raw_version)
        except ValueError:
            raise _invalid(
                f"Invalid value '{raw_version}'. Values must be within the range: [0, 1]"
            ) from None
        if version not in (0, 1):
            raise _invalid(
                f"Invalid value '{raw_version}'. Values must be within the range: [0, 1]"
            )
        send_updates = request.query_params.get("sendUpdates", "none")
        if send_updates not in SEND_UPDATES:
            raise _invalid(f"Invalid value for sendUpdates: {send_updates}")
        return version, send_updates

    def notify(account: Account, event: StoredEvent, action: str, send_updates: str) -> None:
        if send_updates == "none":
            return
        emails = [a.get("email", "") for a in event.fields.get("attendees") or []]
        domain = account.email.rsplit("@", 1)[1]
        if send_updates == "externalOnly":
            emails = [e for e in emails if not e.endswith("@" + domain)]
        if emails:
            state.notifications.append(Notification(account.sub, event.id, action, tuple(emails)))

    def new_conference(account: Account, conference_data: Any) -> Conference | None:
        request = (
            (conference_data or {}).get("createRequest")
            if isinstance(conference_data, dict)
            else None
        )
        if not request:
            return None
        solution = (request.get("conferenceSolutionKey") or {}).get("type")
        if solution != "hangoutsMeet":
            raise _invalid("Invalid conference type value.")
        if not request.get("requestId"):
            raise _invalid("Invalid conference create request: requestId is required.")
        outcome = state.conference_outcome if account.meet_enabled else "failure"
        return Conference(
            request_id=str(request["requestId"]),
            meeting_code=_meeting_code(),
            outcome=outcome,
            reads_until_done=state.conference_pending_reads,
            dial_in=account.dial_in,
            pin="".join(secrets.choice(string.digits) for _ in range(9)),
        )

    def apply_fields(event: StoredEvent, body: dict[str, Any], account: Account) -> None:
        for attendee in body.get("attendees") or []:
            if not isinstance(attendee, dict) or not attendee.get("email"):
                raise _invalid("Missing attendee email.", "required")
        start = parse_time(body["start"], "start", account) if "start" in body else None
        end = parse_time(body["end"], "end", account) if "end" in body else None
        new_start = start[0] if start else event.start
        new_end = end[0] if end else event.end
        if new_end <= new_start:
            raise _invalid("The specified time range is empty.", "timeRangeEmpty", "calendar")
        if start or end:
            if (new_start, new_end) != (event.start, event.end):
                event.sequence += 1
            event.start, event.end = new_start, new_end
            event.start_zone = start[1] if start else event.start_zone
            event.end_zone = end[1] if end else event.end_zone
        for key, value in body.items():
            if key in STORED_FIELDS and key != "status":
                if isinstance(value, dict) and isinstance(event.fields.get(key), dict):
                    event.fields[key] = _merge(event.fields[key], value)
                else:
                    event.fields[key] = value

    def render(account: Account, event: StoredEvent) -> dict[str, Any]:
        eid = base64.b64encode(f"{event.id} {account.email}".encode()).decode().rstrip("=")
        body: dict[str, Any] = {
            "kind": "calendar#event",
            "etag": f'"{int(event.updated.timestamp() * 1000)}000"',
            "id": event.id,
            "status": "cancelled" if event.deleted else "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={eid}",
            "created": _rfc3339(event.created),
            "updated": _rfc3339(event.updated),
            "creator": {"email": account.email, "self": True},
            "organizer": {"email": account.email, "self": True},
            "start": {
                "dateTime": event.start.astimezone(ZoneInfo(event.start_zone)).isoformat(),
                "timeZone": event.start_zone,
            },
            "end": {
                "dateTime": event.end.astimezone(ZoneInfo(event.end_zone)).isoformat(),
                "timeZone": event.end_zone,
            },
            "iCalUID": f"{event.id}@google.com",
            "sequence": event.sequence,
            "reminders": {"useDefault": True},
            "eventType": "default",
        }
        body.update({k: v for k, v in event.fields.items() if k != "status"})
        conference = event.conference
        if conference is not None:
            create = {
                "requestId": conference.request_id,
                "conferenceSolutionKey": {"type": "hangoutsMeet"},
                "status": {"statusCode": conference.status},
            }
            data: dict[str, Any] = {"createRequest": create}
            if conference.status == "success":
                code = conference.meeting_code
                entry_points: list[dict[str, Any]] = [
                    {
                        "entryPointType": "video",
                        "uri": f"https://meet.google.com/{code}",
                        "label": f"meet.google.com/{code}",
                    },
                ]
                if conference.dial_in:
                    entry_points += [
                        {
                            "entryPointType": "phone",
                            "uri": "tel:+1-530-555-0142",
                            "label": "+1 530-555-0142",
                            "pin": conference.pin,
                            "regionCode": "US",
                        },
                        {
                            "entryPointType": "more",
                            "uri": f"https://tel.meet/{code}?pin={conference.pin}",
                            "pin": conference.pin,
                        },
                    ]
                data.update(
                    entryPoints=entry_points,
                    conferenceSolution={
                        "key": {"type": "hangoutsMeet"},
                        "name": "Google Meet",
                        "iconUri": MEET_ICON,
                    },
                    conferenceId=code,
                )
                body["hangoutLink"] = f"https://meet.google.com/{code}"
            body["conferenceData"] = data
        return body

    def find(account: Account, event_id: str) -> StoredEvent:
        event = state.events.get((account.sub, event_id))
        if event is None:
            raise BadRequest(api_error(404, "notFound", "Not Found"))
        return event

    async def handle(request: Request, action: Any, *, write: bool) -> Response:
        try:
            account, body = await start(request, write=write)
            return await action(account, body)
        except BadRequest as bad:
            return bad.response

    # -- routes ---------------------------------------------------------------------------------
    @router.post("/calendars/{calendar_id}/events")
    async def insert(request: Request, calendar_id: str) -> Response:
        async def act(account: Account, body: Any) -> Response:
            state.counters["events.insert"] += 1
            calendar_of(account, calendar_id)
            version, send_updates = query_options(request)
            if not isinstance(body, dict):
                raise _invalid("Missing event body.", "required")
            event_id = body.get("id")
            if event_id is not None:
                if not isinstance(event_id, str) or not EVENT_ID.match(event_id):
                    raise _invalid("Invalid resource id value.")
                if (account.sub, event_id) in state.events:  # deleted ids stay taken too
                    raise BadRequest(
                        api_error(409, "duplicate", "The requested identifier already exists.")
                    )
            else:
                event_id = "".join(
                    secrets.choice("abcdefghijklmnopqrstuv0123456789") for _ in range(26)
                )
            if "start" not in body:
                raise _invalid("Missing start time.", "required")
            if "end" not in body:
                raise _invalid("Missing end time.", "required")
            now = state.clock()
            start_at, start_zone = parse_time(body["start"], "start", account)
            event = StoredEvent(
                account.sub, event_id, start_at, start_at, start_zone, start_zone, {}, now, now
            )
            apply_fields(event, body, account)
            event.sequence = 0
            # Without conferenceDataVersion=1 Google ignores conferenceData, silently.
            if version == 1:
                event.conference = new_conference(account, body.get("conferenceData"))
            state.events[(account.sub, event_id)] = event
            notify(account, event, "invitation", send_updates)
            return JSONResponse(render(account, event))

        return await handle(request, act, write=True)

    @router.get("/calendars/{calendar_id}/events/{event_id}")
    async def get(request: Request, calendar_id: str, event_id: str) -> Response:
        async def act(account: Account, body: Any) -> Response:
            state.counters["events.get"] += 1
            calendar_of(account, calendar_id)
            event = find(account, event_id)
            if event.conference is not None and event.conference.reads_until_done > 0:
                event.conference.reads_until_done -= 1
            # Deleted events still read back, with status "cancelled".
            return JSONResponse(render(account, event))

        return await handle(request, act, write=False)

    @router.patch("/calendars/{calendar_id}/events/{event_id}")
    async def patch(request: Request, calendar_id: str, event_id: str) -> Response:
        async def act(account: Account, body: Any) -> Response:
            state.counters["events.patch"] += 1
            calendar_of(account, calendar_id)
            version, send_updates = query_options(request)
            event = find(account, event_id)
            if not isinstance(body, dict):
                raise _invalid("Missing event body.", "required")
            if body.get("id") not in (None, event_id):
                raise _invalid("The event id cannot be changed.")
            apply_fields(event, body, account)
            if version == 1 and "conferenceData" in body:
                data = body["conferenceData"]
                if data is None:
                    event.conference = None
                else:
                    current = event.conference
                    request_id = (
                        (data.get("createRequest") or {}).get("requestId")
                        if isinstance(data, dict)
                        else None
                    )
                    # A createRequest repeating the previous requestId is ignored.
                    if current is None or (
                        current.status == "failure" and request_id != current.request_id
                    ):
                        event.conference = new_conference(account, data) or current
            event.updated = state.clock()
            if not event.deleted:
                notify(account, event, "update", send_updates)
            return JSONResponse(render(account, event))

        return await handle(request, act, write=True)

    @router.delete("/calendars/{calendar_id}/events/{event_id}")
    async def delete(request: Request, calendar_id: str, event_id: str) -> Response:
        async def act(account: Account, body: Any) -> Response:
            state.counters["events.delete"] += 1
            calendar_of(account, calendar_id)
            _, send_updates = query_options(request)
            event = find(account, event_id)
            if event.deleted:
                raise BadRequest(api_error(410, "deleted", "Resource has been deleted"))
            event.deleted = True
            event.updated = state.clock()
            notify(account, event, "cancellation", send_updates)
            return Response(status_code=204)

        return await handle(request, act, write=True)

    return router


def _merge(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """PATCH semantics: objects merge key by key, everything else is replaced."""
    merged = dict(current)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
