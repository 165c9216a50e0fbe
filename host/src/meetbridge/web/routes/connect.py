"""OAuth with providers: ``/connect/{provider}`` starts, ``/connect/{provider}/callback``
finishes, ``/connect/link/{token}`` is the same flow started by a platform's connect link.

The connect in progress (:class:`PendingConnect`: ``state`` and the PKCE verifier) is kept in
the person's session, encrypted by the vault, one per provider; the callback takes it out
before anything else (so a callback works once) and ``ConnectionService.complete_connect``
checks the returned ``state`` against it. Nothing is stored unless the whole connect succeeds.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from meetbridge.conferencing import oauth
from meetbridge.conferencing.connections import PendingConnect
from meetbridge.plugins import UnknownProvider
from meetbridge.providers import AccountLevelNotAllowed, ProviderError
from meetbridge.vault import VaultError
from meetbridge.web.connect_links import ConnectLinkError, back_to_platform, redeem_link
from meetbridge.web.context import flash, require_user, web
from meetbridge.web.errors import PageError
from meetbridge.web.templating import render

router = APIRouter(include_in_schema=False)
log = logging.getLogger("meetbridge.web.connect")


def _keep_pending(request: Request, pending: PendingConnect, return_url: str | None) -> None:
    vault = web(request).services.vault
    assert vault is not None
    doc = {k: v for k, v in asdict(pending).items() if k != "url"}
    doc["return_url"] = return_url
    connects = dict(request.session.get("connect") or {})
    connects[pending.provider] = vault.encrypt(json.dumps(doc)).decode("ascii")
    request.session["connect"] = connects


def _take_pending(request: Request, provider: str) -> tuple[PendingConnect, str | None] | None:
    connects = dict(request.session.get("connect") or {})
    blob = connects.pop(provider, None)
    request.session["connect"] = connects
    if not blob:
        return None
    vault = web(request).services.vault
    assert vault is not None
    try:
        doc: dict[str, Any] = json.loads(vault.decrypt(str(blob).encode("ascii")))
    except (VaultError, ValueError):
        return None
    return_url = doc.pop("return_url", None)
    return PendingConnect(url="", **doc), return_url


def _label(request: Request, provider: str) -> str:
    try:
        return web(request).services.plugins.provider(provider).label
    except UnknownProvider:
        return provider


async def _start(
    request: Request, user_id: int, provider: str, account_level: bool, return_url: str | None
) -> Response:
    ctx = web(request)
    try:
        pending = await ctx.connections.start_connect(
            user_id=user_id, provider=provider, account_level=account_level
        )
    except UnknownProvider as exc:
        raise PageError(404, "Unknown provider", str(exc)) from None
    except AccountLevelNotAllowed as exc:
        raise PageError(403, "Not allowed", exc.message) from None
    except ProviderError as exc:
        raise PageError(400, f"Cannot connect {_label(request, provider)}", exc.message) from None
    _keep_pending(request, pending, return_url)
    return RedirectResponse(pending.url, status_code=303)


@router.get("/connect/{provider}")
async def start(request: Request, provider: str, scope: str = "") -> Response:
    """Send the signed-in person to the provider; ``?scope=organization`` (admins) connects
    an account-level account for the whole organisation."""
    viewer = require_user(request)
    return await _start(request, viewer.id, provider, scope == "organization", None)


@router.get("/connect/link/{token}")
async def start_from_link(request: Request, token: str) -> Response:
    try:
        link = redeem_link(web(request).services, token)
    except ConnectLinkError as exc:
        raise PageError(400, "This link cannot be used", str(exc)) from None
    return await _start(request, link.user_id, link.provider, link.account_level, link.return_url)


def _explain(request: Request, provider: str, error: str, description: str) -> str | None:
    """Teams' own wording for Microsoft's sign-in errors (admin consent, personal accounts)."""
    if provider != "teams":
        return None
    try:
        from meetbridge_teams.oauth import explain_authorization_error
    except ImportError:
        return None
    services = web(request).services
    settings = services.settings.provider(services.plugins.provider("teams"))
    return explain_authorization_error(error, description, settings=settings)


@router.get("/connect/{provider}/callback")
async def callback(request: Request, provider: str) -> Response:
    q = request.query_params
    label = _label(request, provider)
    if q.get("admin_consent", "").lower() == "true" and not q.get("code"):
        # Microsoft's admin consent endpoint returns here without a code: nothing to store.
        return render(
            request,
            "connect_result.html",
            title="Consent granted",
            heading="Consent granted",
            message=f"An administrator granted consent for the whole organisation (tenant"
            f" {q.get('tenant', 'unknown')}). Members can now connect {label} from their"
            " Integrations page.",
            ok=True,
        )
    taken = _take_pending(request, provider)
    if taken is None:
        raise PageError(
            400,
            f"{label} was not connected",
            "This sign-in did not start here, or it was already used (the state does not match"
            " a connection started in this browser). Start again from the Integrations page.",
        )
    pending, return_url = taken
    viewer = None if return_url else require_user(request)
    if viewer is not None and viewer.id != pending.user_id:
        raise PageError(
            400, f"{label} was not connected", "This sign-in was started by another account."
        )
    error, description = q.get("error"), q.get("error_description")
    try:
        conn = await web(request).connections.complete_connect(
            pending,
            state=q.get("state"),
            code=q.get("code"),
            error=error,
            error_description=description,
        )
    except ProviderError as exc:
        message = exc.message
        if error and oauth.same_state(pending.state, q.get("state")):
            message = _explain(request, provider, error, description or "") or message
        log.info("connect %s for user %s failed: %s", provider, pending.user_id, exc.provider_code)
        if return_url:
            code = "access_denied" if error == "access_denied" else "connect_failed"
            return RedirectResponse(
                back_to_platform(return_url, provider, error=code, detail=message), 303
            )
        return render(
            request,
            "connect_result.html",
            status=400,
            title=f"{label} was not connected",
            heading=f"{label} was not connected",
            message=message,
            ok=False,
        )
    if return_url:
        return RedirectResponse(back_to_platform(return_url, provider), 303)
    whose = "for the organisation" if pending.account_level else "as " + (conn.email or "you")
    flash(request, f"{label} connected {whose}.", "success")
    for warning in conn.warnings or []:
        flash(request, str(warning.get("message", "")), "warning")
    return RedirectResponse("/profile/integrations", 303)
