"""The sandbox's REST API under ``/v2``: users, meetings and Zoom Rooms.

Each handler authenticates, checks the caller's scopes and the rate limits as Zoom does, then
acts on :class:`~meetbridge_zoom.sandbox.state.SandboxState`. Errors leave as Zoom's
``{"code", "message"}`` bodies (see ``app.py``).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from meetbridge_zoom.sandbox import guard
from meetbridge_zoom.sandbox import meetings as store
from meetbridge_zoom.sandbox.guard import ZoomError
from meetbridge_zoom.sandbox.paths import base_url
from meetbridge_zoom.sandbox.state import SandboxState


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except ValueError:
        raise ZoomError(400, 300, "Request Body should be a valid JSON object.") from None


def _meeting(
    state: SandboxState, caller: guard.Caller, meeting_id: str, need: guard.Need
) -> dict[str, Any]:
    """The meeting ``meeting_id`` if the caller may act on it (3001 / 3003 otherwise)."""
    guard.require(caller, need, others=False)
    meeting = state.meetings.get(int(meeting_id)) if meeting_id.isdigit() else None
    if meeting is None or meeting["_deleted"] or meeting["account_id"] != caller.user.account_id:
        raise ZoomError(404, 3001, f"Meeting {meeting_id} is not found or has expired.")
    if meeting["host_id"] != caller.user.id and not caller.scopes.intersection(need.admin):
        raise ZoomError(400, 3003, "You are not the meeting host.")
    return meeting


def build_router(state: SandboxState) -> APIRouter:
    router = APIRouter(prefix="/v2")

    @router.get("/users/{user_id}")
    async def get_user(user_id: str, request: Request) -> JSONResponse:
        caller = guard.authenticate(state, request)
        guard.check_qps(state, caller, "light")
        user = guard.target_user(state, caller, user_id, guard.READ_USER)
        return JSONResponse(user.as_zoom())

    @router.post("/users/{user_id}/meetings")
    async def create_meeting(user_id: str, request: Request) -> JSONResponse:
        caller = guard.authenticate(state, request)
        guard.check_qps(state, caller, "medium")
        host = guard.target_user(state, caller, user_id, guard.CREATE_MEETING)
        fields = store.validate(await _json_body(request), host, partial=False)
        guard.count_daily(state, host)
        meeting = store.create(state, host, fields, base_url(request))
        return JSONResponse(store.render(state, meeting, base_url(request)), status_code=201)

    @router.get("/users/{user_id}/meetings")
    async def list_meetings(user_id: str, request: Request) -> JSONResponse:
        caller = guard.authenticate(state, request)
        guard.check_qps(state, caller, "medium")
        host = guard.target_user(state, caller, user_id, guard.LIST_MEETINGS)
        kind = request.query_params.get("type", "scheduled")
        try:
            page_size = min(300, max(1, int(request.query_params.get("page_size", "30"))))
        except ValueError:
            raise ZoomError(400, 300, "Invalid field: page_size.") from None
        now = state.clock()
        found = sorted(
            (
                m
                for m in state.live_meetings(host.id)
                if kind not in {"upcoming", "upcoming_meetings"} or store.is_upcoming(m, now)
            ),
            key=lambda m: (m["start"], m["id"]),
        )
        offset = 0
        token = request.query_params.get("next_page_token")
        if token:
            if token not in state.page_tokens:
                raise ZoomError(400, 300, "Invalid next_page_token.")
            offset = state.page_tokens[token]
        page = found[offset : offset + page_size]
        next_token = ""
        if offset + page_size < len(found):
            next_token = secrets.token_urlsafe(24)
            with state.lock:
                state.page_tokens[next_token] = offset + page_size
        return JSONResponse(
            {
                "page_size": page_size,
                "total_records": len(found),
                "next_page_token": next_token,
                "meetings": [store.summary(m) for m in page],
            }
        )

    @router.get("/meetings/{meeting_id}")
    async def get_meeting(meeting_id: str, request: Request) -> JSONResponse:
        caller = guard.authenticate(state, request)
        guard.check_qps(state, caller, "light")
        meeting = _meeting(state, caller, meeting_id, guard.READ_MEETING)
        return JSONResponse(store.render(state, meeting, base_url(request)))

    @router.patch("/meetings/{meeting_id}")
    async def update_meeting(meeting_id: str, request: Request) -> Response:
        caller = guard.authenticate(state, request)
        guard.check_qps(state, caller, "light")
        meeting = _meeting(state, caller, meeting_id, guard.UPDATE_MEETING)
        host = state.users[meeting["host_id"]]
        fields = store.validate(await _json_body(request), host, partial=True)
        guard.count_daily(state, host)
        with state.lock:
            store.update(meeting, fields)
        return Response(status_code=204)

    @router.delete("/meetings/{meeting_id}")
    async def delete_meeting(meeting_id: str, request: Request) -> Response:
        caller = guard.authenticate(state, request)
        guard.check_qps(state, caller, "light")
        meeting = _meeting(state, caller, meeting_id, guard.DELETE_MEETING)
        with state.lock:
            meeting["_deleted"] = True
        return Response(status_code=204)

    @router.get("/rooms")
    async def list_rooms(request: Request) -> JSONResponse:
        caller = guard.authenticate(state, request)
        guard.check_qps(state, caller, "medium")
        guard.require(caller, guard.LIST_ROOMS, others=True)
        rooms = state.accounts[caller.user.account_id].rooms
        return JSONResponse(
            {
                "page_size": 300,
                "next_page_token": "",
                "rooms": [{**room, "room_id": room["id"], "location_id": ""} for room in rooms],
            }
        )

    return router
