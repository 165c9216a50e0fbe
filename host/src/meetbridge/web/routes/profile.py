"""A person's own settings: timezone, weekly availability, password."""

from __future__ import annotations

from types import ModuleType

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from meetbridge.accounts import AccountError, set_password, verify_password
from meetbridge.models import User
from meetbridge.scheduling.availability import (
    AvailabilityError,
    parse_windows,
    set_weekly_availability,
)
from meetbridge.scheduling.queries import availability_spec
from meetbridge.web.context import flash, require_user, sign_in, web
from meetbridge.web.errors import clean_form
from meetbridge.web.routes.public import timezone_choices
from meetbridge.web.templating import render

router = APIRouter(include_in_schema=False)


def _feeds() -> ModuleType | None:
    """The notifications layer's calendar feeds, when installed."""
    try:
        from meetbridge.notifications import feeds
    except ImportError:
        return None
    return feeds


def _page(
    request: Request, *, error: str = "", status: int = 200, new_feed_url: str = ""
) -> Response:
    viewer = require_user(request)
    feeds = _feeds()
    with web(request).services.sessions() as session:
        spec = availability_spec(session, viewer.id)
        has_feed = feeds.has_feed(session, viewer.id) if feeds else None
    return render(
        request,
        "profile.html",
        title="Profile",
        availability=spec,
        zones=timezone_choices(),
        error=error,
        status=status,
        has_feed=has_feed,
        new_feed_url=new_feed_url,
    )


@router.get("/profile")
async def profile(request: Request) -> Response:
    return _page(request)


@router.post("/profile")
async def save_profile(request: Request) -> Response:
    form = await clean_form(request)
    viewer = require_user(request)
    try:
        windows = parse_windows(str(form.get("availability", "")))
        with web(request).services.sessions() as session, session.begin():
            user = session.get(User, viewer.id)
            assert user is not None
            user.name = str(form.get("name", user.name))[:200]
            user.timezone = str(form.get("timezone", user.timezone))
            set_weekly_availability(session, user, windows)
    except (AvailabilityError, ValueError) as exc:
        return _page(request, error=str(exc), status=400)
    flash(request, "Saved.", "success")
    return RedirectResponse("/profile", 303)


@router.post("/profile/password")
async def change_password(request: Request) -> Response:
    form = await clean_form(request)
    viewer = require_user(request)
    try:
        with web(request).services.sessions() as session, session.begin():
            user = session.get(User, viewer.id)
            assert user is not None
            if not verify_password(user.password_hash, str(form.get("current", ""))):
                raise AccountError("The current password is not right.")
            set_password(session, user, str(form.get("new", "")))
            sign_in(request, user)  # this session stays; every other one is signed out
    except AccountError as exc:
        return _page(request, error=str(exc), status=400)
    flash(request, "Password changed; other sessions are signed out.", "success")
    return RedirectResponse("/profile", 303)


@router.post("/profile/feed")
async def calendar_feed(request: Request) -> Response:
    """Make a new calendar feed link (the old one stops working), or turn the feed off."""
    form = await clean_form(request)
    viewer = require_user(request)
    feeds = _feeds()
    if feeds is None:
        return _page(request, error="Calendar feeds are not available here.", status=400)
    services = web(request).services
    with services.sessions() as session, session.begin():
        if form.get("action") == "off":
            feeds.revoke_feed_token(session, viewer.id)
            token = ""
        else:
            token = feeds.rotate_feed_token(session, viewer.id)
    if not token:
        flash(request, "Your calendar feed is off; its link no longer works.", "success")
        return RedirectResponse("/profile", 303)
    return _page(request, new_feed_url=feeds.feed_url(services, token))
