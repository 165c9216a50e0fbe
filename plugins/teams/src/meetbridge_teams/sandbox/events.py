"""The sandbox's calendar events (where personal accounts "succeed" without a Teams link) and
the page a sandbox join link opens."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from meetbridge_teams.sandbox import pages
from meetbridge_teams.sandbox.graph import (
    base_url,
    caller,
    check_times,
    fail,
    quota,
    read_json,
    state_of,
)
from meetbridge_teams.sandbox.state import CalendarEvent, SandboxState

router = APIRouter()


# -- calendar events (the route personal accounts "succeed" on, without a link) ---------------


@router.post("/v1.0/me/events", status_code=201)
async def create_event(request: Request) -> Response:
    state = state_of(request)
    account, token = caller(request, "Calendars.ReadWrite")
    body = await read_json(request)
    event_id = "AAMkAD" + secrets.token_urlsafe(32)
    online = bool(body.get("isOnlineMeeting"))
    event = {
        "id": event_id,
        "subject": body.get("subject", ""),
        "start": body.get("start"),
        "end": body.get("end"),
        "isOnlineMeeting": False,
        "onlineMeetingProvider": "unknown",
        "onlineMeeting": None,
        "onlineMeetingUrl": None,
        "organizer": {
            "emailAddress": {
                "name": account.display_name,
                "address": account.mail or account.user_principal_name,
            }
        },
    }
    if online and not account.personal:
        start = _event_time(body.get("start"), state)
        end = _event_time(body.get("end"), state)
        check_times(start, end, state)
        quota(account, token, state)
        meeting = state.new_meeting(
            account,
            token.client_id,
            subject=str(body.get("subject") or ""),
            start=start,
            end=end,
            external_id=None,
            base_url=base_url(request),
        )
        event.update(
            isOnlineMeeting=True,
            onlineMeetingProvider="teamsForBusiness",
            onlineMeeting={"joinUrl": meeting.join_web_url},
        )
    with state.lock:
        state.events[event_id] = CalendarEvent(event_id, account.id, event)
    return JSONResponse(event, status_code=201)


def _event_time(value: Any, state: SandboxState) -> datetime:
    # dateTimeTimeZone: {"dateTime": "2026-03-08T09:00:00", "timeZone": "UTC"} (UTC only here)
    if not isinstance(value, dict) or not value.get("dateTime"):
        raise fail(400, "BadRequest", "start and end must be dateTimeTimeZone values.", state)
    parsed = datetime.fromisoformat(str(value["dateTime"]))
    if value.get("timeZone", "UTC") != "UTC":
        raise fail(400, "BadRequest", "The sandbox accepts timeZone 'UTC' only.", state)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@router.get("/v1.0/me/events/{event_id}")
async def get_event(request: Request, event_id: str) -> Response:
    account, _ = caller(request, "Calendars.Read", "Calendars.ReadWrite")
    event = state_of(request).events.get(event_id)
    if event is None or event.owner_id != account.id:
        raise fail(
            404,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
            state_of(request),
        )
    return JSONResponse(event.body)


@router.delete("/v1.0/me/events/{event_id}", status_code=204)
async def delete_event(request: Request, event_id: str) -> Response:
    state = state_of(request)
    account, _ = caller(request, "Calendars.ReadWrite")
    with state.lock:
        event = state.events.get(event_id)
        if event is None or event.owner_id != account.id:
            raise fail(
                404, "ErrorItemNotFound", "The specified object was not found in the store.", state
            )
        del state.events[event_id]
    return Response(status_code=204)


# -- where a join link leads in the sandbox --------------------------------------------------


@router.get("/l/meetup-join/{rest:path}", response_class=HTMLResponse)
async def join(request: Request, rest: str) -> HTMLResponse:
    state = state_of(request)
    thread = rest.split("/")[0]
    thread = unquote(thread)
    found = next((m for m in state.meetings.values() if m.thread_id == thread), None)
    return HTMLResponse(pages.meeting_page(found), status_code=200 if found else 404)
