"""``/api/v1/bookings``: create, get (with conferencing status and join link), list,
reschedule, cancel. Hosts' start links are never part of an answer."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request

from meetbridge.scheduling.bookings import (
    BookingError,
    BookingRequest,
    BookingResult,
    SlotUnavailable,
)
from meetbridge.scheduling.meeting_types import MeetingTypeError
from meetbridge.scheduling.queries import NotFound, booking_id_for_uid, booking_rows
from meetbridge.web.api.auth import ApiCaller, Caller
from meetbridge.web.api.schemas import (
    BookingIn,
    BookingOut,
    CancelIn,
    Conferencing,
    ErrorResponse,
    RescheduleIn,
)
from meetbridge.web.context import web
from meetbridge.web.errors import ApiError

ERRORS = {
    400: {"model": ErrorResponse},
    401: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    409: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}
router = APIRouter(tags=["bookings"], responses=ERRORS)


def _out(request: Request, result: BookingResult) -> BookingOut:
    manage = None
    if result.manage_token:
        query = urlencode({"token": result.manage_token})
        manage = f"{web(request).base_url}/manage/{result.uid}?{query}"
    return BookingOut(
        uid=result.uid,
        status=result.status,
        start=result.start,
        end=result.end,
        hosts=list(result.host_emails),
        conferencing=Conferencing(
            status=result.conferencing, provider=result.provider, join_url=result.join_url
        ),
        manage_url=manage,
    )


def _booking_error(exc: Exception) -> ApiError:
    if isinstance(exc, SlotUnavailable):
        return ApiError(409, "slot_unavailable", str(exc))
    if isinstance(exc, MeetingTypeError):
        return ApiError(404, "meeting_type_not_found", str(exc))
    return ApiError(422, "invalid_booking", str(exc))


def _booking_id(request: Request, caller: Caller, uid: str) -> int:
    with web(request).services.sessions() as session:
        try:
            return booking_id_for_uid(session, uid, caller.organization_id)
        except NotFound as exc:
            raise ApiError(404, "booking_not_found", str(exc)) from None


@router.post("/bookings", response_model=BookingOut, status_code=201)
async def create_booking(request: Request, body: BookingIn, caller: ApiCaller) -> BookingOut:
    """Book a slot. The answer carries the conferencing status: ``provisioned`` with the join
    link, or ``pending`` while the meeting is still being made (a
    ``conferencing.provisioned`` webhook follows)."""
    try:
        result = await web(request).bookings.book(
            BookingRequest(
                meeting_type=body.meeting_type,
                start=body.start,
                name=body.name,
                email=body.email,
                timezone=body.timezone,
                video=body.video,
                notes=body.notes,
            ),
            organization_id=caller.organization_id,
        )
    except (BookingError, MeetingTypeError) as exc:
        raise _booking_error(exc) from None
    return _out(request, result)


@router.get("/bookings", response_model=list[BookingOut])
async def list_bookings(
    request: Request,
    caller: ApiCaller,
    upcoming: Annotated[
        bool, Query(description="Only bookings not over yet, soonest first.")
    ] = True,
) -> list[BookingOut]:
    from datetime import UTC, datetime

    ctx = web(request)
    with ctx.services.sessions() as session:
        rows = booking_rows(
            session,
            caller.organization_id,
            upcoming_after=datetime.now(UTC) if upcoming else None,
        )
    return [_out(request, ctx.bookings.result(row.id)) for row in rows]


@router.get("/bookings/{uid}", response_model=BookingOut)
async def get_booking(request: Request, uid: str, caller: ApiCaller) -> BookingOut:
    return _out(request, web(request).bookings.result(_booking_id(request, caller, uid)))


@router.post("/bookings/{uid}/reschedule", response_model=BookingOut)
async def reschedule_booking(
    request: Request, uid: str, body: RescheduleIn, caller: ApiCaller
) -> BookingOut:
    """Move a booking; its meeting is moved too (or re-made with a new host's account)."""
    booking_id = _booking_id(request, caller, uid)
    try:
        result = await web(request).bookings.reschedule(booking_id, body.start, actor=caller.actor)
    except BookingError as exc:
        raise _booking_error(exc) from None
    return _out(request, result)


@router.post("/bookings/{uid}/cancel", response_model=BookingOut)
async def cancel_booking(
    request: Request, uid: str, caller: ApiCaller, body: CancelIn | None = None
) -> BookingOut:
    """Cancel a booking; its meeting is deleted at the provider. Cancelling twice is fine."""
    booking_id = _booking_id(request, caller, uid)
    result = await web(request).bookings.cancel(
        booking_id, actor=caller.actor, reason=body.reason if body else ""
    )
    return _out(request, result)
