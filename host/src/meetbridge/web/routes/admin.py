"""Admin pages: people and roles, API keys, platform webhook subscriptions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from meetbridge.accounts import AccountError, create_account, list_accounts, set_role
from meetbridge.models import Organization, Role, User
from meetbridge.web import platform_webhooks
from meetbridge.web.api.schemas import RowId
from meetbridge.web.api_keys import create_api_key, list_api_keys, revoke_api_key
from meetbridge.web.context import flash, require_admin, web
from meetbridge.web.errors import PageError, clean_form
from meetbridge.web.security import verified_form
from meetbridge.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/admin")
async def admin_home(request: Request) -> Response:
    require_admin(request)
    return render(request, "admin.html", title="Admin")


# -- people -----------------------------------------------------------------------------------
def _users_page(request: Request, *, error: str = "", status: int = 200) -> Response:
    viewer = require_admin(request)
    with web(request).services.sessions() as session:
        users = [
            (u.email, u.name, str(u.role), u.timezone, u.active)
            for u in list_accounts(session, viewer.organization_id)
        ]
    return render(
        request, "admin_users.html", title="People", users=users, error=error, status=status
    )


@router.get("/admin/users")
async def users(request: Request) -> Response:
    return _users_page(request)


@router.post("/admin/users")
async def create_user(request: Request) -> Response:
    form = await clean_form(request)
    viewer = require_admin(request)
    try:
        with web(request).services.sessions() as session, session.begin():
            org = session.get(Organization, viewer.organization_id)
            assert org is not None
            user = create_account(
                session,
                org,
                str(form.get("email", "")),
                password=str(form.get("password", "")),
                role=Role.ADMIN if form.get("role") == "admin" else Role.MEMBER,
                name=str(form.get("name", "")),
                timezone=str(form.get("timezone", "")) or None,
            )
            email = user.email
    except (AccountError, ValueError) as exc:
        return _users_page(request, error=str(exc), status=400)
    flash(request, f"{email} can now sign in.", "success")
    return RedirectResponse("/admin/users", 303)


@router.post("/admin/users/role")
async def change_role(request: Request) -> Response:
    form = await clean_form(request)
    viewer = require_admin(request)
    email = str(form.get("email", ""))
    try:
        role = Role(str(form.get("role", "")))
        with web(request).services.sessions() as session, session.begin():
            wanted = select(User).where(User.email == email.strip().lower())
            target = session.scalars(wanted).first()
            if target is None or target.organization_id != viewer.organization_id:
                raise AccountError(f"No user with email {email} here.")
            set_role(session, email, role)
    except (AccountError, ValueError) as exc:
        return _users_page(request, error=str(exc), status=400)
    flash(request, f"{email} is now {role.value}.", "success")
    return RedirectResponse("/admin/users", 303)


# -- API keys ---------------------------------------------------------------------------------
def _keys_page(
    request: Request, *, new_key: str = "", error: str = "", status: int = 200
) -> Response:
    viewer = require_admin(request)
    with web(request).services.sessions() as session:
        keys = list_api_keys(session, viewer.organization_id)
    return render(
        request,
        "admin_api_keys.html",
        title="API keys",
        keys=keys,
        new_key=new_key,
        error=error,
        status=status,
    )


@router.get("/admin/api-keys")
async def api_keys(request: Request) -> Response:
    return _keys_page(request)


@router.post("/admin/api-keys")
async def new_api_key(request: Request) -> Response:
    form = await clean_form(request)
    viewer = require_admin(request)
    try:
        with web(request).services.sessions() as session, session.begin():
            admin = session.get(User, viewer.id)
            assert admin is not None
            _, key = create_api_key(session, admin, str(form.get("name", "")))
    except ValueError as exc:
        return _keys_page(request, error=str(exc), status=400)
    return _keys_page(request, new_key=key)


@router.post("/admin/api-keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: RowId) -> Response:
    await verified_form(request)
    viewer = require_admin(request)
    try:
        with web(request).services.sessions() as session, session.begin():
            admin = session.get(User, viewer.id)
            assert admin is not None
            revoke_api_key(session, admin, key_id)
    except LookupError as exc:
        raise PageError(404, "No such API key", str(exc)) from None
    flash(request, "The key is revoked; requests using it are refused from now on.", "success")
    return RedirectResponse("/admin/api-keys", 303)


# -- webhook subscriptions --------------------------------------------------------------------
def _hooks_page(
    request: Request, *, secret: str = "", error: str = "", status: int = 200
) -> Response:
    viewer = require_admin(request)
    with web(request).services.sessions() as session:
        subs = platform_webhooks.list_subscriptions(session, viewer.organization_id)
    return render(
        request,
        "admin_webhooks.html",
        title="Webhooks",
        subscriptions=subs,
        events=platform_webhooks.EVENTS,
        secret=secret,
        error=error,
        status=status,
    )


@router.get("/admin/webhooks")
async def webhooks(request: Request) -> Response:
    return _hooks_page(request)


@router.post("/admin/webhooks")
async def new_webhook(request: Request) -> Response:
    form = await clean_form(request)
    viewer = require_admin(request)
    services = web(request).services
    assert services.vault is not None
    try:
        with services.sessions() as session, session.begin():
            _, secret = platform_webhooks.create_subscription(
                session,
                services.vault,
                organization_id=viewer.organization_id,
                url=str(form.get("url", "")),
                events=[str(e) for e in form.getlist("events")],
                description=str(form.get("description", "")),
                created_by=viewer.email,
                production=services.settings.env == "production",
            )
    except ValueError as exc:
        return _hooks_page(request, error=str(exc), status=400)
    return _hooks_page(request, secret=secret)


@router.post("/admin/webhooks/{subscription_id}/delete")
async def delete_webhook(request: Request, subscription_id: RowId) -> Response:
    await verified_form(request)
    viewer = require_admin(request)
    try:
        with web(request).services.sessions() as session, session.begin():
            platform_webhooks.delete_subscription(session, viewer.organization_id, subscription_id)
    except LookupError as exc:
        raise PageError(404, "No such webhook", str(exc)) from None
    flash(request, "Webhook deleted.", "success")
    return RedirectResponse("/admin/webhooks", 303)
