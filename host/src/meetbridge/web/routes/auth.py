"""Signing in and out, and the home redirect. (Health checks: :mod:`.health`.)"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from meetbridge.accounts import authenticate
from meetbridge.web.context import current_viewer, sign_in, sign_out, web
from meetbridge.web.errors import has_nul
from meetbridge.web.security import verified_form
from meetbridge.web.templating import render

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Only local paths: ``next`` must never send someone to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/bookings"
    return target


@router.get("/")
async def home(request: Request) -> Response:
    return RedirectResponse("/bookings" if current_viewer(request) else "/login", 303)


@router.get("/login")
async def login_page(request: Request, next: str = "") -> Response:
    if current_viewer(request):
        return RedirectResponse(safe_next(next), 303)
    return render(request, "login.html", title="Sign in", next=safe_next(next), email="")


@router.post("/login")
async def login(request: Request) -> Response:
    form = await verified_form(request)
    email = str(form.get("email", "")).strip()
    password = str(form.get("password", ""))
    target = safe_next(str(form.get("next", "")))
    throttle = web(request).login_throttle
    ip = request.client.host if request.client else None
    refused = throttle.check(email, ip)
    if refused is not None:  # refused before the password is even looked at
        page = render(
            request,
            "login.html",
            status=429,
            title="Sign in",
            error=f"Too many failed sign-ins. Try again in {refused.minutes} minute"
            + ("s." if refused.minutes != 1 else "."),
            next=target,
            email=email,
        )
        page.headers["Retry-After"] = str(refused.retry_after)
        return page
    user = None
    if not has_nul(email, password):  # no account has one; the database cannot compare it
        with web(request).services.sessions() as session, session.begin():
            user = authenticate(session, email, password)
            if user is not None:
                sign_in(request, user)
    if user is None:
        throttle.failed(email, ip)
    else:
        throttle.succeeded(email)
    if user is None:
        return render(
            request,
            "login.html",
            status=400,
            title="Sign in",
            error="That email and password do not match an account.",
            next=target,
            email=email,
        )
    return RedirectResponse(target, 303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    await verified_form(request)
    sign_out(request)
    return RedirectResponse("/login", 303)
