"""Profile > Integrations: a card per provider, disconnect behind a confirmation, and for
admins the organisation's connections, Zoom Rooms and every member's status."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from meetbridge.conferencing.integrations import (
    ConnectionNotYours,
    ConnectionView,
    connection_for,
    list_rooms,
    member_statuses,
    organization_connections,
    provider_cards,
    view,
)
from meetbridge.web.api.schemas import RowId
from meetbridge.web.context import flash, load_user, require_user, web
from meetbridge.web.errors import PageError
from meetbridge.web.security import verified_form
from meetbridge.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/profile/integrations")
async def integrations(request: Request) -> Response:
    viewer = require_user(request)
    services = web(request).services
    org_conns, members, rooms = [], [], {}
    if viewer.is_admin:
        org_conns = organization_connections(services, viewer.organization_id)
        members = member_statuses(services, viewer.organization_id)
        for conn in org_conns:
            if conn.active:
                rooms[conn.id] = await list_rooms(services, conn.id)
    return render(
        request,
        "integrations.html",
        title="Integrations",
        cards=provider_cards(services, viewer.id),
        org_connections=org_conns,
        members=members,
        rooms=rooms,
        zone=viewer.timezone,
    )


def _connection(request: Request, connection_id: RowId) -> ConnectionView:
    viewer = require_user(request)
    user = load_user(request, viewer)
    with web(request).services.sessions() as session:
        try:
            return view(connection_for(session, connection_id, user))
        except ConnectionNotYours as exc:
            raise PageError(404, "No such connection", str(exc)) from None


@router.get("/profile/integrations/{connection_id}/disconnect")
async def confirm_disconnect(request: Request, connection_id: RowId) -> Response:
    conn = _connection(request, connection_id)
    return render(request, "disconnect.html", title="Disconnect", connection=conn)


@router.post("/profile/integrations/{connection_id}/disconnect")
async def disconnect(request: Request, connection_id: RowId) -> Response:
    await verified_form(request)
    viewer = require_user(request)
    conn = _connection(request, connection_id)
    await web(request).connections.disconnect(connection_id, actor=viewer.email)
    label = web(request).services.plugins.provider(conn.provider).label
    flash(
        request,
        f"{label} disconnected: its tokens are deleted. Meetings already created stay; new"
        " bookings use your next connected provider.",
        "success",
    )
    return RedirectResponse("/profile/integrations", 303)


@router.get("/integrations")
async def integrations_shortcut() -> Response:
    return RedirectResponse("/profile/integrations", 303)
