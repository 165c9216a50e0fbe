"""The sandbox's online meetings: ``POST /me/onlineMeetings``, ``createOrGet``, GET, PATCH, DELETE.

``createOrGet`` is an OData action: only its documented parameters are accepted; a known
``externalId`` returns the existing meeting unchanged with 200, a new one is 201. PATCH needs
``startDateTime`` and ``endDateTime`` together. DELETE is 204, then 404 ``itemNotFound``.
Personal accounts get 400 ``AuthenticationError``; new meetings count against the monthly quota.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from meetbridge_teams.sandbox.graph import (
    base_url,
    check_times,
    fail,
    instant,
    meetings_caller,
    quota,
    read_json,
    state_of,
)
from meetbridge_teams.sandbox.state import Account, IssuedToken, OnlineMeeting, SandboxState

router = APIRouter()

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
# onlineMeeting properties a client may send (the rest of the entity is read-only).
WRITABLE_PROPERTIES = frozenset(
    {
        "subject",
        "startDateTime",
        "endDateTime",
        "lobbyBypassSettings",
        "allowedPresenters",
        "allowMeetingChat",
        "allowTeamworkReactions",
        "allowAttendeeToEnableCamera",
        "allowAttendeeToEnableMic",
        "isEntryExitAnnounced",
        "recordAutomatically",
        "participants",
        "chatInfo",
        "externalId",
        "allowRecording",
        "allowTranscription",
        "watermarkProtection",
        "allowedLobbyAdmitters",
        "allowParticipantsToChangeName",
        "allowBreakoutRooms",
        "allowLiveShare",
        "allowPowerPointSharing",
        "allowWhiteboard",
        "shareMeetingChatHistoryDefault",
        "isEndToEndEncryptionEnabled",
        "meetingSpokenLanguageTag",
        "allowCopyingAndSharingMeetingContent",
        "joinMeetingIdSettings",
        "chatRestrictions",
        "sensitivityLabelAssignment",
    }
)
LOBBY_SCOPES = frozenset(
    {
        "organizer",
        "organization",
        "organizationAndFederated",
        "everyone",
        "invited",
        "organizationExcludingGuests",
    }
)


def graph_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"  # seven digits


def meeting_json(meeting: OnlineMeeting, state: SandboxState) -> dict[str, Any]:
    owner = state.accounts[meeting.owner_id]
    body: dict[str, Any] = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('"
        f"{owner.id}')/onlineMeetings/$entity",
        "id": meeting.id,
        "creationDateTime": graph_time(meeting.created),
        "startDateTime": graph_time(meeting.start),
        "endDateTime": graph_time(meeting.end),
        "joinWebUrl": meeting.join_web_url,
        "subject": meeting.subject,
        "externalId": meeting.external_id,
        "isBroadcast": False,
        "isEntryExitAnnounced": True,
        "allowedPresenters": "everyone",
        "allowMeetingChat": "enabled",
        "videoTeleconferenceId": None,
        "joinMeetingIdSettings": {
            "isPasscodeRequired": True,
            "joinMeetingId": meeting.join_meeting_id,
            "passcode": meeting.passcode,
        },
        "lobbyBypassSettings": {
            "scope": meeting.lobby_scope,
            "isDialInBypassEnabled": meeting.lobby_dial_in_bypass,
        },
        "chatInfo": {"threadId": meeting.thread_id, "messageId": "0", "replyChainMessageId": None},
        "participants": {
            "organizer": {
                "upn": owner.user_principal_name,
                "role": "presenter",
                "identity": {"user": {"id": owner.id, "displayName": None}},
            },
            "attendees": [],
        },
        "audioConferencing": None,
    }
    if meeting.conference_id:
        body["audioConferencing"] = {
            "conferenceId": meeting.conference_id,
            "tollNumber": "+1 206-555-0100",
            "tollFreeNumber": "+1 800-555-0199",
            "tollNumbers": ["+1 206-555-0100"],
            "tollFreeNumbers": ["+1 800-555-0199"],
            "dialinUrl": f"https://dialin.teams.microsoft.com/sandbox?id={meeting.conference_id}",
        }
    return body


def _apply(meeting: OnlineMeeting, body: dict[str, Any], state: SandboxState) -> None:
    lobby = body.get("lobbyBypassSettings")
    if lobby is not None:
        scope = lobby.get("scope", meeting.lobby_scope) if isinstance(lobby, dict) else None
        if scope not in LOBBY_SCOPES:
            raise fail(
                400,
                "BadRequest",
                "Invalid lobbyBypassSettings: scope must be one of"
                f" {', '.join(sorted(LOBBY_SCOPES))}.",
                state,
            )
        meeting.lobby_scope = str(scope)
        meeting.lobby_dial_in_bypass = bool(
            lobby.get("isDialInBypassEnabled", meeting.lobby_dial_in_bypass)
        )
    if "subject" in body:
        meeting.subject = str(body["subject"] or "")


@router.post("/v1.0/me/onlineMeetings", status_code=201)
async def create_meeting(request: Request) -> Response:
    state = state_of(request)
    account, token = meetings_caller(request, "OnlineMeetings.ReadWrite")
    body = await read_json(request)
    unknown = sorted(set(body) - WRITABLE_PROPERTIES)
    if unknown:
        raise fail(
            400,
            "BadRequest",
            f"The property '{unknown[0]}' does not exist on type"
            " 'microsoft.graph.onlineMeeting'. Make sure to only use property names"
            " that are defined by the type or mark the type as open type.",
            state,
        )
    meeting = _new(request, account, token, body)
    _apply(meeting, body, state)
    return JSONResponse(meeting_json(meeting, state), status_code=201)


def _new(
    request: Request, account: Account, token: IssuedToken, body: dict[str, Any]
) -> OnlineMeeting:
    state = state_of(request)
    start = instant(body["startDateTime"], state) if body.get("startDateTime") else state.clock()
    end = (
        instant(body["endDateTime"], state)
        if body.get("endDateTime")
        else (start + timedelta(hours=1))
    )
    check_times(start, end, state)
    quota(account, token, state)
    return state.new_meeting(
        account,
        token.client_id,
        subject=str(body.get("subject") or ""),
        start=start,
        end=end,
        external_id=body.get("externalId"),
        base_url=base_url(request),
    )


@router.post("/v1.0/me/onlineMeetings/createOrGet")
async def create_or_get(request: Request) -> Response:
    state = state_of(request)
    account, token = meetings_caller(request, "OnlineMeetings.ReadWrite")
    body = await read_json(request)
    unknown = sorted(set(body) - CREATE_OR_GET_PARAMETERS)
    if unknown:
        raise fail(
            400,
            "BadRequest",
            f"The parameter '{unknown[0]}' in the request payload is"
            " not a valid parameter for the operation 'createOrGet'.",
            state,
        )
    external_id = str(body.get("externalId") or "")
    if not external_id:
        raise fail(400, "BadRequest", "The externalId parameter is required.", state)
    with state.lock:
        for meeting in state.meetings_of(account.id):
            if meeting.external_id == external_id and meeting.client_id == token.client_id:
                # Found: returned as it is; createOrGet never updates an existing meeting.
                return JSONResponse(meeting_json(meeting, state), status_code=200)
        meeting = _new(request, account, token, body)
    return JSONResponse(meeting_json(meeting, state), status_code=201)


def _owned(request: Request, meeting_id: str, account: Account) -> OnlineMeeting:
    meeting = state_of(request).meetings.get(meeting_id)
    if meeting is None or meeting.owner_id != account.id:
        raise fail(
            404, "itemNotFound", "The specified online meeting was not found.", state_of(request)
        )
    return meeting


@router.get("/v1.0/me/onlineMeetings/{meeting_id:path}")
async def get_meeting(request: Request, meeting_id: str) -> Response:
    account, _ = meetings_caller(request, "OnlineMeetings.Read", "OnlineMeetings.ReadWrite")
    return JSONResponse(meeting_json(_owned(request, meeting_id, account), state_of(request)))


@router.patch("/v1.0/me/onlineMeetings/{meeting_id:path}")
async def patch_meeting(request: Request, meeting_id: str) -> Response:
    state = state_of(request)
    account, _ = meetings_caller(request, "OnlineMeetings.ReadWrite")
    body = await read_json(request)
    unknown = sorted(set(body) - WRITABLE_PROPERTIES)
    if unknown:
        raise fail(
            400,
            "BadRequest",
            f"The property '{unknown[0]}' does not exist on type 'microsoft.graph.onlineMeeting'.",
            state,
        )
    meeting = _owned(request, meeting_id, account)
    if ("startDateTime" in body) != ("endDateTime" in body):
        raise fail(
            400,
            "BadRequest",
            "startDateTime and endDateTime must be updated together:"
            " send both when the meeting time changes.",
            state,
        )
    with state.lock:
        if "startDateTime" in body:
            start = instant(body["startDateTime"], state)
            end = instant(body["endDateTime"], state)
            check_times(start, end, state)
            meeting.start, meeting.end = start, end
        _apply(meeting, body, state)
    return JSONResponse(meeting_json(meeting, state))


@router.delete("/v1.0/me/onlineMeetings/{meeting_id:path}", status_code=204)
async def delete_meeting(request: Request, meeting_id: str) -> Response:
    state = state_of(request)
    account, _ = meetings_caller(request, "OnlineMeetings.ReadWrite")
    with state.lock:
        meeting = _owned(request, meeting_id, account)
        del state.meetings[meeting.id]
    return Response(status_code=204)
