"""Zoom's OAuth: the authorize URL, code exchange, refresh (rotating) and revoke.

Zoom authenticates the app with HTTP Basic ``client_id:client_secret`` on the token and revoke
endpoints, takes no ``scope`` on authorize (scopes are set on the app; the token response
says what was granted), and answers errors as ``{"reason": ..., "error": ...}`` rather than
RFC 6749's ``error_description``.

Zoom has no app type with both user and admin scopes, so an organisation-wide (account-level)
connection needs a second, admin-managed app. Its credentials are the options
``account_level_client_id`` / ``account_level_client_secret``; without them the main app is
used for both. Tokens remember which app issued them, because only that app can refresh or
revoke them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from meetbridge.providers import (
    ConnectFailed,
    GrantRevoked,
    ProviderContext,
    ProviderError,
    ProviderUnavailable,
    Secret,
    TokenSet,
)
from meetbridge_zoom.info import LABEL, NAME
from meetbridge_zoom.transport import json_body, send

if TYPE_CHECKING:
    import httpx

APP_KEY = "meetbridge_app"  # TokenSet.extra key: which app issued the tokens
USER_APP = "user"
ACCOUNT_LEVEL_APP = "account_level"


@dataclass(frozen=True)
class AppCredentials:
    kind: str
    client_id: str
    client_secret: Secret

    def basic_auth(self) -> httpx.BasicAuth:
        import httpx  # here, not at module level: importing it is slow

        return httpx.BasicAuth(self.client_id, self.client_secret.reveal())


def app_credentials(context: ProviderContext, kind: str = USER_APP) -> AppCredentials:
    """The OAuth app to use: the main one, or the admin-managed one for account level."""
    settings = context.settings
    options = settings.options
    if kind == ACCOUNT_LEVEL_APP and options.get("account_level_client_id"):
        secret = options.get("account_level_client_secret") or ""
        if isinstance(secret, Secret):
            secret = secret.reveal()
        return AppCredentials(kind, str(options["account_level_client_id"]), Secret(str(secret)))
    if not settings.client_id:
        raise ConnectFailed(
            f"{LABEL} is not configured: set MEETBRIDGE_PROVIDERS__ZOOM__CLIENT_ID and"
            " MEETBRIDGE_PROVIDERS__ZOOM__CLIENT_SECRET (see docs/providers/zoom.md).",
            provider=NAME,
            provider_code="not_configured",
        )
    return AppCredentials(kind, settings.client_id, settings.client_secret)


def authorization_url(
    context: ProviderContext,
    *,
    redirect_uri: str,
    state: str,
    code_challenge: str,
    account_level: bool,
) -> str:
    app = app_credentials(context, ACCOUNT_LEVEL_APP if account_level else USER_APP)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
    )
    return f"{context.endpoint('authorize_url')}?{query}"


async def exchange_code(
    context: ProviderContext,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str,
    account_level: bool,
) -> TokenSet:
    """Trade the authorization code for tokens; ``ConnectFailed`` with a clear message."""
    app = app_credentials(context, ACCOUNT_LEVEL_APP if account_level else USER_APP)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
    }
    try:
        response = await _post_token(context, app, form, what="finish connecting")
    except ProviderUnavailable as exc:
        raise ConnectFailed(
            f"{exc.message} Click Connect again in a moment.",
            provider=NAME,
            provider_code=exc.provider_code,
        ) from None
    body = json_body(response)
    if response.is_success and body.get("access_token"):
        return _tokens(context, body, app.kind)
    raise _connect_error(response.status_code, body, redirect_uri)


async def refresh(context: ProviderContext, tokens: TokenSet) -> TokenSet:
    """Refresh with the rotating refresh token; the returned set carries the new one."""
    if tokens.refresh_token is None:
        raise GrantRevoked(
            f"This {LABEL} connection has no refresh token; reconnect Zoom.",
            provider=NAME,
            provider_code="no_refresh_token",
        )
    app = app_credentials(context, str(tokens.extra.get(APP_KEY, USER_APP)))
    form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token.reveal()}
    response = await _post_token(context, app, form, what="refresh the connection")
    body = json_body(response)
    if response.is_success and body.get("access_token"):
        return _tokens(context, body, app.kind, previous=tokens)
    error = str(body.get("error") or "")
    reason = str(body.get("reason") or body.get("error_description") or "").strip()[:200]
    dead = error == "invalid_grant" or (
        error == "invalid_request" and "invalid token" in reason.lower()
    )
    if dead:
        raise GrantRevoked(
            f"{LABEL} no longer accepts this connection ({reason or error}); reconnect Zoom.",
            provider=NAME,
            provider_code=error,
        )
    if response.status_code >= 500:
        raise ProviderUnavailable(
            f"{LABEL} could not refresh the connection (HTTP {response.status_code}); it will be"
            " tried again.",
            provider=NAME,
            provider_code=str(response.status_code),
        )
    # invalid_client and the like are configuration faults of ours, not a dead grant: the
    # connection is kept so that fixing the settings brings it back.
    raise ProviderError(
        f"{LABEL} refused to refresh the connection ({error or response.status_code}:"
        f" {reason}). Check the Zoom app's client id and secret in the settings.",
        provider=NAME,
        provider_code=error or str(response.status_code),
    )


async def revoke(context: ProviderContext, tokens: TokenSet) -> bool:
    """Revoke the grant at Zoom. True on ``{"status": "success"}``; never raises."""
    try:
        app = app_credentials(context, str(tokens.extra.get(APP_KEY, USER_APP)))
        url = context.endpoint("revoke_url")
    except (ProviderError, KeyError):
        return False
    # Zoom documents revoking with the access token; it may have expired by now, so the
    # refresh token (which also identifies the grant) is the fallback.
    candidates = [tokens.access_token, tokens.refresh_token]
    for token in (t for t in candidates if t):
        try:
            response = await send(
                context,
                "POST",
                url,
                what="revoke the connection",
                auth=app.basic_auth(),
                data={"token": token.reveal()},
            )
        except Exception:  # best effort by contract: no failure here ever surfaces
            return False
        if response.is_success and json_body(response).get("status") == "success":
            return True
    return False


async def _post_token(
    context: ProviderContext, app: AppCredentials, form: dict[str, str], *, what: str
) -> httpx.Response:
    return await send(
        context,
        "POST",
        context.endpoint("token_url"),
        what=what,
        auth=app.basic_auth(),
        data=form,
        headers={"Accept": "application/json"},
    )


def _tokens(
    context: ProviderContext, body: dict[str, Any], kind: str, previous: TokenSet | None = None
) -> TokenSet:
    tokens = TokenSet.from_oauth_response(body, context.clock(), previous=previous)
    extra = {**(previous.extra if previous else {}), **tokens.extra, APP_KEY: kind}
    return TokenSet(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_at=tokens.expires_at,
        scope=tokens.scope,
        token_type=tokens.token_type,
        extra=extra,
    )


def _connect_error(status: int, body: dict[str, Any], redirect_uri: str) -> ConnectFailed:
    error = str(body.get("error") or status)
    reason = str(body.get("reason") or body.get("error_description") or "").strip()[:200]
    lowered = reason.lower()
    if "redirect" in lowered:
        message = (
            f"{LABEL} refused the connection because the redirect URL does not match the one"
            f" registered on the Zoom app. Register exactly {redirect_uri} on the app (and in"
            " its allow list), then connect again."
        )
    elif "verifier" in lowered or "pkce" in lowered or "challenge" in lowered:
        message = (
            f"{LABEL} refused the connection because the security check (PKCE) failed."
            " Start again from the Integrations page."
        )
    elif error == "invalid_client" or "client" in lowered:
        message = (
            f"{LABEL} rejected meetbridge's app credentials. An operator must check the Zoom"
            " client id and secret in the settings (docs/providers/zoom.md)."
        )
    elif error == "invalid_grant" or "code" in lowered:
        message = (
            f"The {LABEL} authorization code is invalid or has expired (codes last five minutes"
            " and work once). Click Connect again."
        )
    else:
        message = f"{LABEL} refused the connection ({error}: {reason or 'no reason given'})."
    return ConnectFailed(message, provider=NAME, provider_code=error)
