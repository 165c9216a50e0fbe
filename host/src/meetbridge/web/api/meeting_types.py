"""``/api/v1/meeting-types`` (list, get, create, slots) and ``/api/v1/providers``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request

from meetbridge.models import Assignment, Organization, VideoMode
from meetbridge.scheduling.availability import AvailabilityError
from meetbridge.scheduling.meeting_types import MeetingTypeError, MeetingTypeSpec, save_meeting_type
from meetbridge.scheduling.queries import meeting_type_rows
from meetbridge.settings import validate_timezone
from meetbridge.web.api.auth import ApiCaller, Caller
from meetbridge.web.api.schemas import (
    ErrorResponse,
    Instant,
    MeetingTypeIn,
    MeetingTypeOut,
    ProviderOut,
    SlotOut,
    SlotsOut,
)
from meetbridge.web.context import web
from meetbridge.web.errors import ApiError

ERRORS = {
    400: {"model": ErrorResponse},
    401: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}
router = APIRouter(tags=["meeting types"], responses=ERRORS)


def _rows(request: Request, caller: Caller) -> list[MeetingTypeOut]:
    base = web(request).base_url
    with web(request).services.sessions() as session:
        rows = meeting_type_rows(session, caller.organization_id)
    return [
        MeetingTypeOut(
            slug=r.slug,
            name=r.name,
            duration_minutes=r.duration_minutes,
            location=r.location,
            assignment=r.assignment,
            video_mode=r.video_mode,
            hosts=list(r.hosts),
            active=r.active,
            booking_url=f"{base}/book/{r.slug}",
        )
        for r in rows
    ]


@router.get("/meeting-types", response_model=list[MeetingTypeOut])
async def list_meeting_types(request: Request, caller: ApiCaller) -> list[MeetingTypeOut]:
    """The organisation's meeting types."""
    return _rows(request, caller)


@router.get("/meeting-types/{slug}", response_model=MeetingTypeOut)
async def get_meeting_type(request: Request, slug: str, caller: ApiCaller) -> MeetingTypeOut:
    for row in _rows(request, caller):
        if row.slug == slug:
            return row
    raise ApiError(404, "meeting_type_not_found", f"No meeting type {slug!r}.")


@router.post("/meeting-types", response_model=MeetingTypeOut, status_code=201)
async def create_meeting_type(
    request: Request, body: MeetingTypeIn, caller: ApiCaller
) -> MeetingTypeOut:
    """Create a meeting type (validated exactly like the web form)."""
    services = web(request).services
    spec = MeetingTypeSpec(
        **body.model_dump(exclude={"video_mode", "assignment"}),
        video_mode=VideoMode(body.video_mode),
        assignment=Assignment(body.assignment),
    )
    try:
        with services.sessions() as session, session.begin():
            org = session.get(Organization, caller.organization_id)
            assert org is not None
            slug = save_meeting_type(session, org, spec, list(services.plugins.providers())).slug
    except (MeetingTypeError, ValueError) as exc:
        raise ApiError(422, "invalid_meeting_type", str(exc)) from None
    return await get_meeting_type(request, slug, caller)


@router.get("/meeting-types/{slug}/slots", response_model=SlotsOut)
async def slots(
    request: Request,
    slug: str,
    caller: ApiCaller,
    timezone: Annotated[str, Query(description="IANA zone for local_start.")] = "UTC",
    start: Annotated[Instant | None, Query(description="Default: now.")] = None,
    end: Annotated[Instant | None, Query(description="Default: start + 7 days.")] = None,
) -> SlotsOut:
    """Bookable slots (at most 62 days at a time)."""
    try:
        validate_timezone(timezone)
    except ValueError as exc:
        raise ApiError(422, "invalid_timezone", str(exc)) from None
    first = start or datetime.now(UTC)
    last = end or first + timedelta(days=7)
    try:
        found = web(request).bookings.slots(slug, first, last, caller.organization_id)
    except MeetingTypeError as exc:
        raise ApiError(404, "meeting_type_not_found", str(exc)) from None
    except AvailabilityError as exc:
        raise ApiError(422, "invalid_range", str(exc)) from None
    zone = ZoneInfo(timezone)
    return SlotsOut(
        meeting_type=slug,
        timezone=timezone,
        slots=[
            SlotOut(start=s.start, end=s.end, local_start=s.start.astimezone(zone).isoformat())
            for s in found
        ],
    )


@router.get("/providers", response_model=list[ProviderOut], tags=["connections"])
async def providers(request: Request, _caller: ApiCaller) -> list[ProviderOut]:
    """The conferencing providers installed on this meetbridge."""
    return [
        ProviderOut(name=name, label=info.label, capabilities=sorted(info.capabilities))
        for name, info in sorted(web(request).services.plugins.providers().items())
    ]
