"""Google's OAuth endpoints, emulated: authorize + consent, token, revoke, userinfo.

Paths mirror the real hosts' paths (``accounts.google.com/o/oauth2/v2/auth``,
``oauth2.googleapis.com/token`` and ``/revoke``, ``openidconnect.googleapis.com/v1/userinfo``)
so a settings override of each endpoint's base points at the sandbox.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from meetbridge_google_meet.sandbox.consent import consent_page, error_page
from meetbridge_google_meet.sandbox.errors import oauth_error
from meetbridge_google_meet.sandbox.state import (
    CODE_LIFETIME,
    CONSENT_SCREEN_LIFETIME,
    IDENTITY_SCOPES,
    KNOWN_SCOPES,
    TESTING_MODE_REFRESH_LIFETIME,
    UNUSED_REFRESH_LIFETIME,
    AccessToken,
    Account,
    AuthorizationCode,
    Grant,
    OAuthClient,
    PendingConsent,
    RecordedRequest,
    SandboxState,
    normalise_scope,
)
from meetbridge_google_meet.sandbox.urls import sandbox_base_url

TOKEN_EXPIRES_IN = 3599
PERSONAL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
_NO_STORE = {
    "Cache-Control": "no-cache, no-store, max-age=0, must-revalidate",
    "Pragma": "no-cache",
}


async def read_form(request: Request) -> dict[str, list[str]]:
    """The urlencoded body (parsed by hand: no multipart dependency needed)."""
    return parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)


def _first(form: dict[str, list[str]], key: str) -> str:
    values = form.get(key)
    return values[0] if values else ""


def _redirect(uri: str, params: dict[str, str]) -> RedirectResponse:
    separator = "&" if "?" in uri else "?"
    return RedirectResponse(f"{uri}{separator}{urlencode(params)}", status_code=302)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def pkce_matches(verifier: str, challenge: str, method: str) -> bool:
    if method == "plain":
        return hmac.compare_digest(verifier, challenge)
    return hmac.compare_digest(_b64url(hashlib.sha256(verifier.encode()).digest()), challenge)


def oauth_router(state: SandboxState) -> APIRouter:
    router = APIRouter()

    def record(request: Request, body: Any) -> None:
        state.requests.append(
            RecordedRequest(
                request.method,
                request.url.path.removeprefix(request.scope.get("root_path", "")),
                dict(request.query_params),
                body,
            )
        )

    def page(error: str, description: str, status: int = 400) -> HTMLResponse:
        return HTMLResponse(error_page(error, description), status_code=status)

    # -- authorize ----------------------------------------------------------------------------
    @router.get("/o/oauth2/v2/auth")
    async def authorize(request: Request) -> Response:
        q = request.query_params
        record(request, None)
        state.counters["authorize"] += 1
        client = state.clients.get(q.get("client_id", ""))
        if client is None:
            return page("invalid_client", "The OAuth client was not found.", 401)
        redirect_uri = q.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:
            # Never redirect to an unregistered URI: Google shows this page instead.
            return page(
                "redirect_uri_mismatch",
                "You can't sign in to this app because it doesn't comply with Google's"
                " OAuth 2.0 policy. Register the redirect URI in the Google Cloud"
                f" Console. Request details: redirect_uri={redirect_uri}",
            )
        if q.get("response_type") != "code":
            return page(
                "unsupported_response_type", f"Invalid response_type: {q.get('response_type', '')}"
            )
        scopes = tuple(dict.fromkeys(normalise_scope(s) for s in q.get("scope", "").split()))
        if not scopes:
            return page("invalid_request", "Missing required parameter: scope")
        unknown = [s for s in scopes if s not in KNOWN_SCOPES]
        if unknown:
            return page(
                "invalid_scope",
                f"Some requested scopes were invalid. {{invalid=[{', '.join(unknown)}]}}",
            )
        challenge = q.get("code_challenge") or None
        method = q.get("code_challenge_method") or ("plain" if challenge else "")
        if challenge and method not in ("S256", "plain"):
            return page("invalid_request", f"Invalid code_challenge_method: {method}")
        if method and not challenge:
            return page("invalid_request", "Missing required parameter: code_challenge")
        access_type = q.get("access_type", "online")
        if access_type not in ("online", "offline"):
            return page("invalid_request", f"Invalid access_type: {access_type}")
        prompt = frozenset(q.get("prompt", "").split())
        if not prompt <= {"none", "consent", "select_account"} or (
            "none" in prompt and len(prompt) > 1
        ):
            return page("invalid_request", f"Invalid prompt: {q.get('prompt', '')}")
        pending = PendingConsent(
            id=secrets.token_urlsafe(16),
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            scopes=scopes,
            state=q.get("state"),
            code_challenge=challenge,
            code_challenge_method=method,
            access_type=access_type,
            prompt=prompt,
            include_granted_scopes=q.get("include_granted_scopes", "false").lower() == "true",
            login_hint=q.get("login_hint", ""),
            expires_at=state.clock() + CONSENT_SCREEN_LIFETIME,
        )
        if "none" in prompt:
            return _silent(pending)
        state.pending[pending.id] = pending
        accounts = sorted(state.accounts.values(), key=lambda a: a.email)
        html = consent_page(
            action=f"{sandbox_base_url(request)}/o/oauth2/v2/auth/consent",
            pending=pending,
            client=client,
            accounts=accounts,
        )
        return HTMLResponse(html)

    def _silent(pending: PendingConsent) -> Response:
        """``prompt=none``: succeed only if a known account already granted every scope."""
        account = state.account_by_email(pending.login_hint) if pending.login_hint else None
        candidates = [account] if account else list(state.accounts.values())
        for candidate in candidates:
            grant = state.grants.get((pending.client_id, candidate.sub))
            if grant is not None and set(pending.scopes) <= grant.scopes:
                return _approve(pending, candidate, set(pending.scopes))
        params = {"error": "consent_required"}
        if pending.state is not None:
            params["state"] = pending.state
        return _redirect(pending.redirect_uri, params)

    @router.post("/o/oauth2/v2/auth/consent")
    async def decide(request: Request) -> Response:
        form = await read_form(request)
        record(request, {k: v for k, v in form.items()})
        pending = state.pending.pop(_first(form, "consent_id"), None)
        if pending is None or pending.expires_at <= state.clock():
            return page(
                "invalid_request",
                "This sign-in request has expired or was already"
                " answered. Start again from the app.",
            )
        if _first(form, "decision") != "allow":
            params = {"error": "access_denied"}
            if pending.state is not None:
                params["state"] = pending.state
            return _redirect(pending.redirect_uri, params)
        account = _chosen_account(form)
        if account is None:
            state.pending[pending.id] = pending  # let the person pick again
            return page("invalid_request", "Choose an account, or enter a valid email address.")
        ticked = {s for s in form.get("scope", []) if s in pending.scopes}
        return _approve(pending, account, ticked)

    def _chosen_account(form: dict[str, list[str]]) -> Account | None:
        other = _first(form, "other_account").strip().lower()
        if other:
            if "@" not in other or other.startswith("@") or other.endswith("@"):
                return None
            domain = other.rsplit("@", 1)[1]
            return state.add_account(
                other,
                hosted_domain="" if domain in PERSONAL_DOMAINS else domain,
                dial_in=domain not in PERSONAL_DOMAINS,
            )
        return state.account_by_email(_first(form, "account"))

    def _approve(pending: PendingConsent, account: Account, ticked: set[str]) -> Response:
        granted_now = {s for s in pending.scopes if s in IDENTITY_SCOPES} | ticked
        key = (pending.client_id, account.sub)
        prior = state.grants.get(key)
        if prior is None:
            state.grants[key] = Grant(
                pending.client_id, account.sub, set(granted_now), state.clock()
            )
        else:
            prior.scopes |= granted_now
        grant = state.grants[key]
        token_scopes = frozenset(grant.scopes if pending.include_granted_scopes else granted_now)
        # A refresh token only for offline access, and on a repeated consent only when the
        # app forced the consent screen (prompt=consent).
        issue_refresh = pending.access_type == "offline" and (
            prior is None or "consent" in pending.prompt
        )
        code = AuthorizationCode(
            code="4/0sbx-" + secrets.token_urlsafe(32),
            client_id=pending.client_id,
            redirect_uri=pending.redirect_uri,
            sub=account.sub,
            scopes=token_scopes,
            code_challenge=pending.code_challenge,
            code_challenge_method=pending.code_challenge_method,
            issue_refresh_token=issue_refresh,
            expires_at=state.clock() + CODE_LIFETIME,
        )
        state.codes[code.code] = code
        params: dict[str, str] = {}
        if pending.state is not None:
            params["state"] = pending.state
        params.update(
            code=code.code, scope=" ".join(sorted(token_scopes)), authuser="0", prompt="consent"
        )
        return _redirect(pending.redirect_uri, params)

    # -- token ----------------------------------------------------------------------------------
    @router.post("/token")
    async def token(request: Request) -> Response:
        form = await read_form(request)
        record(request, {k: v for k, v in form.items()})
        client_id, secret = _client_credentials(request, form)
        client = state.clients.get(client_id)
        if client is None:
            return oauth_error(401, "invalid_client", "The OAuth client was not found.")
        if not secret:
            return oauth_error(400, "invalid_request", "client_secret is missing.")
        if not hmac.compare_digest(secret, client.client_secret):
            return oauth_error(401, "invalid_client", "Unauthorized")
        grant_type = _first(form, "grant_type")
        if grant_type == "authorization_code":
            return _redeem_code(client, form)
        if grant_type == "refresh_token":
            return _refresh(client, form)
        return oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _redeem_code(client: OAuthClient, form: dict[str, list[str]]) -> Response:
        state.counters["token.authorization_code"] += 1
        raw = _first(form, "code")
        if not raw:
            return oauth_error(400, "invalid_request", "Missing required parameter: code")
        code = state.codes.get(raw)
        if (
            code is None
            or code.used
            or code.expires_at <= state.clock()
            or code.client_id != client.client_id
        ):
            return oauth_error(400, "invalid_grant", "Bad Request")
        code.used = True  # single use, whatever happens next
        if _first(form, "redirect_uri") != code.redirect_uri:
            return oauth_error(400, "redirect_uri_mismatch", "Bad Request")
        verifier = _first(form, "code_verifier")
        if code.code_challenge:
            if not verifier:
                return oauth_error(400, "invalid_grant", "Missing code verifier.")
            if not pkce_matches(verifier, code.code_challenge, code.code_challenge_method):
                return oauth_error(400, "invalid_grant", "Invalid code verifier.")
        elif verifier:
            return oauth_error(400, "invalid_grant", "code_verifier or verifier is not needed.")
        if (client.client_id, code.sub) not in state.grants:  # revoked since the consent
            return oauth_error(400, "invalid_grant", "Bad Request")
        access = state.issue_access_token(client.client_id, code.sub, code.scopes)
        body = _token_body(client, access)
        if code.issue_refresh_token:
            body["refresh_token"] = state.issue_refresh_token(
                client.client_id, code.sub, code.scopes
            ).token
        return JSONResponse(body, headers=_NO_STORE)

    def _refresh(client: OAuthClient, form: dict[str, list[str]]) -> Response:
        state.counters["token.refresh_token"] += 1
        raw = _first(form, "refresh_token")
        if not raw:
            return oauth_error(400, "invalid_request", "Missing required parameter: refresh_token")
        found = state.refresh_tokens.get(raw)
        dead = oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        if found is None:
            return dead
        if found.client_id != client.client_id:
            return oauth_error(401, "unauthorized_client", "Unauthorized")
        now = state.clock()
        expired = now - found.last_used_at >= UNUSED_REFRESH_LIFETIME or (
            client.publishing_status == "testing"
            and now - found.issued_at >= TESTING_MODE_REFRESH_LIFETIME
        )
        if expired:
            del state.refresh_tokens[raw]
            return dead
        found.last_used_at = now
        access = state.issue_access_token(client.client_id, found.sub, found.scopes)
        # No refresh_token in the answer: Google's refresh tokens do not rotate.
        return JSONResponse(_token_body(client, access), headers=_NO_STORE)

    def _token_body(client: OAuthClient, access: AccessToken) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": access.token,
            "expires_in": TOKEN_EXPIRES_IN,
            "scope": " ".join(sorted(access.scopes)),
            "token_type": "Bearer",
        }
        if "openid" in access.scopes:
            body["id_token"] = _id_token(client, state.accounts[access.sub], access)
        return body

    def _id_token(client: OAuthClient, account: Account, access: AccessToken) -> str:
        """An ID token shaped like Google's (its signature is not a real RS256 one)."""
        issued = access.expires_at - timedelta(seconds=TOKEN_EXPIRES_IN)
        claims: dict[str, Any] = {
            "iss": "https://accounts.google.com",
            "azp": client.client_id,
            "aud": client.client_id,
            "sub": account.sub,
            "iat": int(issued.timestamp()),
            "exp": int(access.expires_at.timestamp()),
        }
        if "https://www.googleapis.com/auth/userinfo.email" in access.scopes:
            claims.update(email=account.email, email_verified=True)
        if account.hosted_domain:
            claims["hd"] = account.hosted_domain
        header = {"alg": "RS256", "kid": "sandbox", "typ": "JWT"}
        parts = [_b64url(json.dumps(p, separators=(",", ":")).encode()) for p in (header, claims)]
        return ".".join([*parts, _b64url(secrets.token_bytes(32))])

    # -- revoke ---------------------------------------------------------------------------------
    @router.post("/revoke")
    async def revoke(request: Request) -> Response:
        form = await read_form(request)
        record(request, {k: v for k, v in form.items()})
        state.counters["revoke"] += 1
        token_value = request.query_params.get("token") or _first(form, "token")
        if not token_value:
            return oauth_error(400, "invalid_request", "Missing required parameter: token")
        if not state.revoke_token_grant(token_value):
            return oauth_error(400, "invalid_token", "Token expired or revoked")
        return Response(status_code=200, media_type="application/json", content="{}")

    # -- userinfo -------------------------------------------------------------------------------
    @router.get("/v1/userinfo")
    async def userinfo(request: Request) -> Response:
        record(request, None)
        state.counters["userinfo"] += 1
        header = request.headers.get("authorization", "")
        access = (
            state.live_access_token(header[7:].strip()) if header[:7].lower() == "bearer " else None
        )
        if access is None:
            return oauth_error(
                401,
                "invalid_request",
                "Invalid Credentials",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        account = state.accounts[access.sub]
        body: dict[str, Any] = {"sub": account.sub}
        if "https://www.googleapis.com/auth/userinfo.profile" in access.scopes:
            first, _, last = (account.name or account.email).partition(" ")
            body.update(name=account.name, given_name=first, family_name=last)
        if "https://www.googleapis.com/auth/userinfo.email" in access.scopes:
            body.update(email=account.email, email_verified=True)
        if account.hosted_domain:
            body["hd"] = account.hosted_domain
        return JSONResponse(body)

    return router


def _client_credentials(request: Request, form: dict[str, list[str]]) -> tuple[str, str]:
    """client_secret_post or client_secret_basic, as Google accepts both."""
    header = request.headers.get("authorization", "")
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:]).decode()
        except (ValueError, UnicodeDecodeError):
            return "", ""
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return _first(form, "client_id"), _first(form, "client_secret")
