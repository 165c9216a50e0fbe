"""What clients see, without an account: the booking page of a meeting type, the
confirmation, and the private manage link (reschedule, cancel, calendar file).

Times are shown in the booker's timezone: detected by the browser (a few lines of script add
``?tz=``), changeable with the timezone menu, the organisation's when neither is there.
The manage link carries its token in the query string (never logged); the page shows the
attendee join link only, never a host link.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, available_timezones

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from meetbridge.models import Organization, VideoMode
from meetbridge.scheduling.availability import AvailabilityError
from meetbridge.scheduling.bookings import BookingError, BookingRequest, SlotUnavailable
from meetbridge.scheduling.meeting_types import MeetingTypeError
from meetbridge.scheduling.queries import (
    NotFound,
    booking_summary,
    public_meeting_type,
    reschedule_slots,
)
from meetbridge.scheduling.slots import Slot
from meetbridge.settings import validate_timezone
from meetbridge.web.context import flash, web
from meetbridge.web.errors import PageError, clean_form, has_nul
from meetbridge.web.templating import render

router = APIRouter(include_in_schema=False)
DAYS_SHOWN = 7


@cache
def timezone_choices() -> list[str]:
    return sorted(
        z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/"))
    )


def check_zone(name: str) -> str:
    if has_nul(name):
        raise PageError(400, "Unknown timezone", "Pick a timezone from the list.")
    try:
        return validate_timezone(name)
    except ValueError as exc:
        raise PageError(400, "Unknown timezone", str(exc)) from None


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


def parse_start(value: str) -> datetime:
    """An instant from a form or link (``2026-12-01T14:00:00Z``); clear 400 when impossible."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise PageError(
            400, "That time is not valid", f"{value!r} is not a date and time; pick a slot."
        ) from None
    if moment.tzinfo is None:
        raise PageError(
            400, "That time is not valid", "The time must say its UTC offset; pick a slot."
        )
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 once in UTC
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise PageError(400, "That time is not valid", "Pick a slot from the booking page.")
    return utc


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _week(zone: str, first: str) -> tuple[date, datetime, datetime]:
    today = datetime.now(ZoneInfo(zone)).date()
    try:
        day = max(date.fromisoformat(first), today) if first else today
        if day.year >= LATEST.year:
            raise OverflowError
        start = datetime.combine(day, datetime.min.time(), ZoneInfo(zone)).astimezone(UTC)
        end = datetime.combine(
            day + timedelta(days=DAYS_SHOWN), datetime.min.time(), ZoneInfo(zone)
        ).astimezone(UTC)
    except (ValueError, OverflowError):
        raise PageError(
            400, "That date is not valid", f"{first!r} is not a date (YYYY-MM-DD) we can show."
        ) from None
    return day, start, end


def _by_day(slots: list[Slot], zone: str) -> list[tuple[date, list[Slot]]]:
    days: dict[date, list[Slot]] = defaultdict(list)
    for slot in slots:
        days[slot.start.astimezone(ZoneInfo(zone)).date()].append(slot)
    return sorted(days.items())


def _meeting_type(request: Request, slug: str) -> dict[str, Any]:
    if has_nul(slug):
        raise PageError(404, "No such booking page", "Check the link you were given.")
    with web(request).services.sessions() as session:
        try:
            mt = public_meeting_type(session, slug)
        except NotFound:
            raise PageError(404, "No such booking page", "Check the link you were given.") from None
        org = session.get(Organization, mt.organization_id)
        return {
            "id": mt.id,
            "slug": mt.slug,
            "name": mt.name,
            "description": mt.description,
            "duration": mt.duration_minutes,
            "organization_id": mt.organization_id,
            "org_name": org.name if org else "",
            "org_timezone": org.timezone
            if org
            else web(request).services.settings.organization.timezone,
            "per_booking_video": mt.video_mode == VideoMode.PER_BOOKING,
            "location_kind": str(mt.location_kind),
            "providers": list(mt.location_providers or []),
            "hosts": [h.user.name or h.user.email for h in mt.hosts],
        }


@router.get("/book/{slug}")
async def booking_page(
    request: Request, slug: str, tz: str = "", start: str = "", embed: str = ""
) -> Response:
    mt = _meeting_type(request, slug)
    zone = check_zone(tz or mt["org_timezone"])
    day, range_start, range_end = _week(zone, start)
    try:
        slots = web(request).bookings.slots(slug, range_start, range_end, mt["organization_id"])
    except (AvailabilityError, MeetingTypeError, BookingError) as exc:
        raise PageError(400, "Cannot show slots", str(exc)) from None
    today = datetime.now(ZoneInfo(zone)).date()
    keep = {"tz": zone, **({"embed": "1"} if embed else {})}

    def week_link(first: date) -> str:
        return f"/book/{slug}?{urlencode({**keep, 'start': first.isoformat()})}"

    return render(
        request,
        "book.html",
        title=mt["name"],
        mt=mt,
        zone=zone,
        zones=timezone_choices(),
        days=_by_day(slots, zone),
        slot_link=lambda s: f"/book/{slug}/details?{urlencode({**keep, 'start': stamp(s.start)})}",
        next_week=week_link(day + timedelta(days=DAYS_SHOWN)),
        previous_week=week_link(day - timedelta(days=DAYS_SHOWN)) if day > today else "",
        embed=bool(embed),
        detect_timezone=not tz,
    )


def _details(
    request: Request,
    mt: dict[str, Any],
    start: datetime,
    zone: str,
    *,
    embed: bool,
    error: str = "",
    status: int = 200,
    values: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "book_details.html",
        status=status,
        title=mt["name"],
        mt=mt,
        start=start,
        start_stamp=stamp(start),
        zone=zone,
        error=error,
        values=values or {},
        embed=embed,
    )


@router.get("/book/{slug}/details")
async def booking_details(
    request: Request, slug: str, start: str, tz: str = "", embed: str = ""
) -> Response:
    mt = _meeting_type(request, slug)
    zone = check_zone(tz or mt["org_timezone"])
    return _details(request, mt, parse_start(start), zone, embed=bool(embed))


@router.post("/book/{slug}")
async def book(request: Request, slug: str) -> Response:
    form = await clean_form(request)
    mt = _meeting_type(request, slug)
    zone = check_zone(str(form.get("tz", "")) or mt["org_timezone"])
    start = parse_start(str(form.get("start", "")))
    values = {k: str(form.get(k, "")) for k in ("name", "email", "notes", "video")}
    embed = bool(form.get("embed"))
    video = None
    if mt["per_booking_video"]:
        video = values["video"] == "yes"
    try:
        result = await web(request).bookings.book(
            BookingRequest(
                meeting_type=slug,
                start=start,
                name=values["name"],
                email=values["email"],
                timezone=zone,
                video=video,
                notes=values["notes"],
            ),
            organization_id=mt["organization_id"],
        )
    except (BookingError, MeetingTypeError) as exc:
        status = 409 if isinstance(exc, SlotUnavailable) else 400
        return _details(
            request, mt, start, zone, embed=embed, error=str(exc), status=status, values=values
        )
    query = {"token": result.manage_token or "", "booked": "1", **({"embed": "1"} if embed else {})}
    return RedirectResponse(f"/manage/{result.uid}?{urlencode(query)}", 303)


# -- the private manage link ------------------------------------------------------------------


def _booking_id(request: Request, uid: str, token: str) -> int:
    try:
        if has_nul(uid, token):
            raise BookingError("NUL")
        return web(request).bookings.booking_for_token(uid, token)
    except BookingError:
        raise PageError(
            404, "This link is not valid", "Use the link from your confirmation email."
        ) from None


@router.get("/manage/{uid}")
async def manage(
    request: Request, uid: str, token: str = "", booked: str = "", embed: str = ""
) -> Response:
    booking_id = _booking_id(request, uid, token)
    ctx = web(request)
    result = ctx.bookings.result(booking_id)
    with ctx.services.sessions() as session:
        summary = booking_summary(session, booking_id)
    labels = {n: i.label for n, i in ctx.services.plugins.providers().items()}
    return render(
        request,
        "manage.html",
        title=summary.title,
        booking=summary,
        result=result,
        provider_label=labels.get(result.provider or "", result.provider or "video"),
        token=token,
        just_booked=bool(booked),
        zone=summary.timezone,
        embed=bool(embed),
    )


@router.get("/manage/{uid}/booking.ics")
async def calendar_file(request: Request, uid: str, token: str = "") -> Response:
    booking_id = _booking_id(request, uid, token)
    from meetbridge.models import Booking
    from meetbridge.notifications import ics, links
    from meetbridge.notifications.catalogue import Translator
    from meetbridge.notifications.views import booking_facts

    services = web(request).services
    with services.sessions() as session:
        booking = session.get(Booking, booking_id)
        assert booking is not None
        facts = booking_facts(session, services, booking)
    event = ics.booking_event(
        facts,
        domain=links.calendar_domain(services.settings),
        t=Translator(),
        cancelled=facts.cancelled,
    )
    body = ics.feed([event], name=facts.title)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{facts.slug}.ics"'},
    )


def _reschedule_page(
    request: Request,
    uid: str,
    token: str,
    booking_id: int,
    *,
    first_day: str = "",
    error: str = "",
    status: int = 200,
) -> Response:
    ctx = web(request)
    with ctx.services.sessions() as session:
        summary = booking_summary(session, booking_id)
    if summary.status != "confirmed":
        raise PageError(
            400, "Cannot reschedule", "A cancelled booking cannot be rescheduled; book again."
        )
    zone = summary.timezone
    day, range_start, range_end = _week(zone, first_day)
    slots = reschedule_slots(
        ctx.services, booking_id, range_start, range_end, now=ctx.bookings.clock()
    )
    later = (day + timedelta(days=DAYS_SHOWN)).isoformat()
    return render(
        request,
        "reschedule.html",
        status=status,
        title=f"Reschedule {summary.title}",
        booking=summary,
        token=token,
        zone=zone,
        days=_by_day([s for s in slots if s.start != summary.start], zone),
        stamp=stamp,
        error=error,
        next_week=f"/manage/{uid}/reschedule?{urlencode({'token': token, 'start': later})}",
    )


@router.get("/manage/{uid}/reschedule")
async def reschedule_page(request: Request, uid: str, token: str = "", start: str = "") -> Response:
    booking_id = _booking_id(request, uid, token)
    return _reschedule_page(request, uid, token, booking_id, first_day=start)


@router.post("/manage/{uid}/reschedule")
async def reschedule(request: Request, uid: str) -> Response:
    form = await clean_form(request)
    token = str(form.get("token", ""))
    booking_id = _booking_id(request, uid, token)
    start = parse_start(str(form.get("start", "")))
    ctx = web(request)
    with ctx.services.sessions() as session:
        summary = booking_summary(session, booking_id)
    try:
        await ctx.bookings.reschedule(booking_id, start, actor=f"attendee:{summary.attendee_email}")
    except BookingError as exc:
        status = 409 if isinstance(exc, SlotUnavailable) else 400
        return _reschedule_page(request, uid, token, booking_id, error=str(exc), status=status)
    flash(request, "Rescheduled. The new time and link are below; we emailed them too.", "success")
    return RedirectResponse(f"/manage/{uid}?{urlencode({'token': token})}", 303)


@router.post("/manage/{uid}/cancel")
async def cancel(request: Request, uid: str) -> Response:
    form = await clean_form(request)
    token = str(form.get("token", ""))
    booking_id = _booking_id(request, uid, token)
    ctx = web(request)
    with ctx.services.sessions() as session:
        summary = booking_summary(session, booking_id)
    await ctx.bookings.cancel(
        booking_id,
        actor=f"attendee:{summary.attendee_email}",
        reason=str(form.get("reason", ""))[:1000],
    )
    flash(request, "Your booking is cancelled. We let the host know.", "success")
    return RedirectResponse(f"/manage/{uid}?{urlencode({'token': token})}", 303)
