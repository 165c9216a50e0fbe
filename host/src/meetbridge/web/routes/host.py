"""What hosts see: their bookings, a booking's conferencing status with the explanation of how
its provider was chosen, and the "Join" button that fetches a fresh host start link."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from meetbridge.conferencing.host_join import HostJoinError, host_start_link
from meetbridge.models import Booking
from meetbridge.providers import Capability
from meetbridge.scheduling.queries import NotFound, booking_rows, is_host, visible_booking
from meetbridge.web.context import Viewer, flash, load_user, require_user, web
from meetbridge.web.errors import PageError, clean_form, has_nul
from meetbridge.web.security import verified_form
from meetbridge.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/bookings")
async def bookings(request: Request, scope: str = "mine", past: str = "") -> Response:
    viewer = require_user(request)
    everyone = scope == "all" and viewer.is_admin
    with web(request).services.sessions() as session:
        rows = booking_rows(
            session,
            viewer.organization_id,
            host_user_id=None if everyone else viewer.id,
            upcoming_after=None if past else datetime.now(UTC),
        )
    return render(
        request,
        "bookings.html",
        title="Bookings",
        rows=rows,
        zone=viewer.timezone,
        everyone=everyone,
        past=bool(past),
    )


def _booking_id(request: Request, viewer: Viewer, uid: str) -> int:
    if has_nul(uid):
        raise PageError(404, "No such booking", "It does not exist or is not yours.")
    user = load_user(request, viewer)
    with web(request).services.sessions() as session:
        found = session.scalar(select(Booking.id).where(Booking.uid == uid))
        try:
            return visible_booking(session, found or 0, user).id
        except NotFound:
            raise PageError(404, "No such booking", "It does not exist or is not yours.") from None


@router.get("/bookings/{uid}")
async def booking_detail(request: Request, uid: str) -> Response:
    viewer = require_user(request)
    booking_id = _booking_id(request, viewer, uid)
    ctx = web(request)
    result = ctx.bookings.result(booking_id)
    explanation = ctx.bookings.explain(booking_id)
    with ctx.services.sessions() as session:
        hosting = is_host(session, booking_id, viewer.id)
    can_start = False
    label = result.provider or ""
    if result.provider and result.conferencing == "provisioned":
        info = ctx.services.plugins.providers().get(result.provider)
        label = info.label if info else result.provider
        can_start = hosting and info is not None and info.supports(Capability.HOST_JOIN_URL)
    for meeting in explanation["meetings"]:
        meeting.pop("join_url", None)  # shown once, from the result
    return render(
        request,
        "booking_detail.html",
        title="Booking",
        result=result,
        explanation=explanation,
        hosting=hosting,
        can_start=can_start,
        provider_label=label,
        zone=viewer.timezone,
    )


@router.post("/bookings/{uid}/join")
async def join_as_host(request: Request, uid: str) -> Response:
    """Redirect the host to a fresh start link; it is never stored, shown or logged."""
    await verified_form(request)
    viewer = require_user(request)
    booking_id = _booking_id(request, viewer, uid)
    try:
        link = await host_start_link(web(request).services, booking_id, viewer.id)
    except HostJoinError as exc:
        flash(request, str(exc), "error")
        return RedirectResponse(f"/bookings/{uid}", 303)
    return RedirectResponse(
        link.reveal(), 303, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )


@router.post("/bookings/{uid}/cancel")
async def cancel_as_host(request: Request, uid: str) -> Response:
    form = await clean_form(request)
    viewer = require_user(request)
    booking_id = _booking_id(request, viewer, uid)
    await web(request).bookings.cancel(
        booking_id, actor=viewer.email, reason=str(form.get("reason", ""))[:1000]
    )
    flash(request, "Booking cancelled; the client is told.", "success")
    return RedirectResponse(f"/bookings/{uid}", 303)
