"""The sandbox's OAuth server: ``/oauth/authorize`` (consent), ``/oauth/token``, ``/oauth/revoke``.

Faithful to Zoom where clients can trip: no ``scope`` parameter (the app's scopes are
granted), an exact redirect URI match, codes that work once and for five minutes, PKCE,
HTTP Basic client authentication, refresh tokens that rotate (the old one dies at once), a
new authorization revoking the user's older grants, and errors as ``{"reason", "error"}``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from meetbridge_zoom.sandbox import pages
from meetbridge_zoom.sandbox.paths import base_url
from meetbridge_zoom.sandbox.state import SandboxState
from meetbridge_zoom.sandbox.world import OAuthApp, pkce_s256

AUTHORIZE_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
)


def _oauth_error(status: int, error: str, reason: str) -> JSONResponse:
    return JSONResponse({"reason": reason, "error": error}, status_code=status)


def _client(state: SandboxState, request: Request) -> OAuthApp | None:
    """The app authenticated by HTTP Basic ``client_id:client_secret`` (Zoom's only way)."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        client_id, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    app = state.apps.get(client_id)
    if app is None or not hmac.compare_digest(app.client_secret.encode(), secret.encode()):
        return None
    return app


async def _form(request: Request) -> dict[str, str]:
    return dict(parse_qsl((await request.body()).decode(errors="replace"), keep_blank_values=True))


def _check_authorize(state: SandboxState, params: dict[str, str]) -> tuple[OAuthApp | None, str]:
    """The app for an authorize request, or an error message for an error page."""
    if params.get("response_type") != "code":
        return None, "Invalid response_type: only 'code' is supported."
    app = state.apps.get(params.get("client_id", ""))
    if app is None:
        return None, "Invalid client_id."
    if params.get("redirect_uri", "") not in app.redirect_uris:
        return None, f"Invalid redirect: {params.get('redirect_uri', '')} is not registered."
    method = params.get("code_challenge_method") or (
        "plain" if params.get("code_challenge") else ""
    )
    if method and method not in {"S256", "plain"}:
        return None, "Invalid code_challenge_method: use S256."
    return app, ""


def _redirect(uri: str, params: dict[str, str]) -> RedirectResponse:
    joiner = "&" if "?" in uri else "?"
    return RedirectResponse(f"{uri}{joiner}{urlencode(params)}", status_code=302)


def build_router(state: SandboxState) -> APIRouter:
    router = APIRouter(prefix="/oauth")

    @router.get("/authorize", response_class=HTMLResponse)
    async def authorize(request: Request) -> HTMLResponse:
        params = {k: request.query_params.get(k, "") for k in AUTHORIZE_FIELDS}
        app, problem = _check_authorize(state, params)
        if app is None:
            return HTMLResponse(pages.error("Zoom could not authorize the app", problem), 400)
        action = str(request.url_for("sandbox_zoom_consent"))
        return HTMLResponse(pages.consent(app, state.users.values(), params, action))

    @router.post("/authorize", name="sandbox_zoom_consent")
    async def consent(request: Request) -> Response:
        form = await _form(request)
        params = {k: form.get(k, "") for k in AUTHORIZE_FIELDS}
        app, problem = _check_authorize(state, params)
        if app is None:
            return HTMLResponse(pages.error("Zoom could not authorize the app", problem), 400)
        back = {"state": params["state"]} if params["state"] else {}
        if form.get("decision") != "allow":
            return _redirect(params["redirect_uri"], {"error": "access_denied", **back})
        user = state.user((form.get("email") or form.get("user") or "").strip())
        if user is None:
            action = str(request.url_for("sandbox_zoom_consent"))
            page = pages.consent(
                app, state.users.values(), params, action, error="No sandbox user has that email."
            )
            return HTMLResponse(page, 400)
        code = state.issue_code(
            app,
            user,
            params["redirect_uri"],
            params["code_challenge"],
            params["code_challenge_method"] or "plain",
        )
        return _redirect(params["redirect_uri"], {"code": code.code, **back})

    @router.post("/token")
    async def token(request: Request) -> JSONResponse:
        app = _client(state, request)
        if app is None:
            return _oauth_error(401, "invalid_client", "Invalid client_id or client_secret")
        form = await _form(request)
        api_url = base_url(request)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return _exchange(state, app, form, api_url)
        if grant_type == "refresh_token":
            with state.lock:
                refresh = state.live_token(form.get("refresh_token", ""), "refresh")
                if (
                    refresh is None
                    or state.grants[refresh.grant_id].client_id != app.client_id
                    or state.clock() >= refresh.expires_at
                ):
                    return _oauth_error(400, "invalid_grant", "Invalid Token!")
                return JSONResponse(state.rotate(refresh, api_url))
        return _oauth_error(400, "unsupported_grant_type", "Unsupported grant type")

    @router.post("/revoke")
    async def revoke(request: Request) -> JSONResponse:
        app = _client(state, request)
        if app is None:
            return _oauth_error(401, "invalid_client", "Invalid client_id or client_secret")
        value = (await _form(request)).get("token", "")
        with state.lock:
            state.revoke_calls += 1
            token = state.tokens.get(value)
            if (
                token is None
                or state.grants[token.grant_id].client_id != app.client_id
                or not state.revoke_grant_of(value)
            ):
                return _oauth_error(400, "invalid_request", "Invalid Token!")
        return JSONResponse({"status": "success"})

    return router


def _exchange(
    state: SandboxState, app: OAuthApp, form: dict[str, str], api_url: str
) -> JSONResponse:
    with state.lock:
        state.token_calls += 1
        code = state.codes.get(form.get("code", ""))
        if code is None or code.client_id != app.client_id:
            return _oauth_error(400, "invalid_grant", "Invalid authorization code")
        already_used, code.used = code.used, True  # any attempt spends the code
        if already_used or state.code_expired(code):
            return _oauth_error(400, "invalid_grant", "Invalid authorization code")
        if form.get("redirect_uri", "") != code.redirect_uri:
            return _oauth_error(400, "invalid_request", "Invalid redirect uri.")
        if code.code_challenge:
            verifier = form.get("code_verifier", "")
            computed = pkce_s256(verifier) if code.code_challenge_method == "S256" else verifier
            if not verifier or not hmac.compare_digest(computed, code.code_challenge):
                return _oauth_error(400, "invalid_request", "Invalid code_verifier.")
        grant = state.new_grant(app.client_id, code.user_id, code.scopes)
        return JSONResponse(state.issue_tokens(grant, api_url))
