"""Meeting types: list (with the booking link and an embed snippet), create, edit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.datastructures import FormData

from meetbridge.conferencing.integrations import meeting_type_warnings
from meetbridge.models import Assignment, Organization, User, VideoMode
from meetbridge.scheduling.meeting_types import MeetingTypeError, MeetingTypeSpec, save_meeting_type
from meetbridge.scheduling.queries import (
    NotFound,
    editable_meeting_type,
    meeting_type_rows,
    spec_of,
)
from meetbridge.web.api.schemas import RowId
from meetbridge.web.context import Viewer, flash, load_user, require_user, web
from meetbridge.web.errors import PageError, clean_form
from meetbridge.web.templating import render

router = APIRouter(include_in_schema=False)

LOCATION_KINDS = ("host_default_video", "phone", "in_person", "custom_link")


def _int(form: FormData, name: str, label: str, *, optional: bool = False) -> int | None:
    raw = str(form.get(name, "")).strip()
    if optional and not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise MeetingTypeError(f"{label} must be a whole number of minutes.") from None


def spec_from_form(form: FormData) -> MeetingTypeSpec:
    try:
        video_mode = VideoMode(str(form.get("video_mode", "always")))
        assignment = Assignment(str(form.get("assignment", "one_person")))
    except ValueError:
        raise MeetingTypeError("Choose a video mode and an assignment from the lists.") from None
    return MeetingTypeSpec(
        name=str(form.get("name", "")),
        slug=str(form.get("slug", "")).strip(),
        description=str(form.get("description", ""))[:5000],
        duration_minutes=_int(form, "duration_minutes", "Duration") or 0,
        hosts=[str(h) for h in form.getlist("hosts")],
        location=str(form.get("location", "host_default_video")),
        location_value=str(form.get("location_value", "")),
        video_mode=video_mode,
        assignment=assignment,
        buffer_minutes=_int(form, "buffer_minutes", "Buffer") or 0,
        min_notice_minutes=_int(form, "min_notice_minutes", "Minimum notice") or 0,
        slot_interval_minutes=_int(form, "slot_interval_minutes", "Slot interval", optional=True),
        skip_hosts_with_broken_video=form.get("skip_hosts_with_broken_video") == "on",
    )


def _form_page(
    request: Request,
    viewer: Viewer,
    spec: MeetingTypeSpec,
    *,
    action: str,
    error: str = "",
    status: int = 200,
    editing: bool = False,
) -> Response:
    services = web(request).services
    with services.sessions() as session:
        members = list(
            session.scalars(
                select(User.email)
                .where(User.organization_id == viewer.organization_id, User.active.is_(True))
                .order_by(User.email)
            )
        )
    providers = {n: i.label for n, i in services.plugins.providers().items()}
    return render(
        request,
        "meeting_type_form.html",
        status=status,
        title="Edit meeting type" if editing else "New meeting type",
        spec=spec,
        action=action,
        error=error,
        members=members,
        providers=providers,
        location_kinds=LOCATION_KINDS,
        assignments=[a.value for a in Assignment],
        video_modes=[v.value for v in VideoMode],
        editing=editing,
    )


@router.get("/meeting-types")
async def list_types(request: Request) -> Response:
    viewer = require_user(request)
    with web(request).services.sessions() as session:
        rows = meeting_type_rows(
            session,
            viewer.organization_id,
            host_user_id=None if viewer.is_admin else viewer.id,
        )
    return render(request, "meeting_types.html", title="Meeting types", rows=rows)


@router.get("/meeting-types/new")
async def new_type(request: Request) -> Response:
    viewer = require_user(request)
    spec = MeetingTypeSpec(name="", duration_minutes=30, hosts=[viewer.email])
    return _form_page(request, viewer, spec, action="/meeting-types/new")


async def _save(request: Request, meeting_type_id: int | None) -> Response:
    form = await clean_form(request)
    viewer = require_user(request)
    services = web(request).services
    action = f"/meeting-types/{meeting_type_id}" if meeting_type_id else "/meeting-types/new"
    spec: Any = None
    try:
        spec = spec_from_form(form)
        if not viewer.is_admin and viewer.email not in spec.hosts:
            raise MeetingTypeError(
                "Include yourself as a host (admins can set up types for others)."
            )
        with services.sessions() as session, session.begin():
            user = session.get(User, viewer.id)
            assert user is not None
            existing = (
                editable_meeting_type(session, meeting_type_id, user) if meeting_type_id else None
            )
            org = session.get(Organization, viewer.organization_id)
            assert org is not None
            mt = save_meeting_type(
                session, org, spec, list(services.plugins.providers()), existing=existing
            )
            saved_id, slug = mt.id, mt.slug
    except NotFound:
        raise PageError(
            404, "No such meeting type", "It does not exist or is not yours to edit."
        ) from None
    except (MeetingTypeError, ValueError) as exc:
        if spec is None:
            spec = MeetingTypeSpec(name=str(form.get("name", "")), duration_minutes=30, hosts=[])
        return _form_page(
            request,
            viewer,
            spec,
            action=action,
            error=str(exc),
            status=400,
            editing=meeting_type_id is not None,
        )
    flash(request, f"Saved. Clients book it at {web(request).base_url}/book/{slug}", "success")
    for warning in await meeting_type_warnings(services, saved_id):
        flash(request, warning, "warning")
    return RedirectResponse("/meeting-types", 303)


@router.post("/meeting-types/new")
async def create_type(request: Request) -> Response:
    return await _save(request, None)


@router.get("/meeting-types/{meeting_type_id}")
async def edit_type(request: Request, meeting_type_id: RowId) -> Response:
    viewer = require_user(request)
    user = load_user(request, viewer)
    with web(request).services.sessions() as session:
        try:
            spec = spec_of(editable_meeting_type(session, meeting_type_id, user))
        except NotFound:
            raise PageError(
                404, "No such meeting type", "It does not exist or is not yours to edit."
            ) from None
    return _form_page(
        request, viewer, spec, action=f"/meeting-types/{meeting_type_id}", editing=True
    )


@router.post("/meeting-types/{meeting_type_id}")
async def update_type(request: Request, meeting_type_id: RowId) -> Response:
    return await _save(request, meeting_type_id)
