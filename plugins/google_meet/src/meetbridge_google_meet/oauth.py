"""Google OAuth: the consent URL, the code exchange, refresh, revoke and userinfo.

Google's rules that shape this module: a refresh token comes only with
``access_type=offline``, and on a repeated consent only with ``prompt=consent``; refresh
tokens do not rotate; people can untick scopes on the consent screen, so the granted
``scope`` is checked; revoking any token of a grant revokes the whole grant.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from meetbridge.providers import (
    ConnectedAccount,
    ConnectFailed,
    GrantRevoked,
    InsufficientScope,
    ProviderContext,
    ProviderError,
    ProviderUnavailable,
    TokenSet,
)
from meetbridge_google_meet.errors import OAuthError
from meetbridge_google_meet.info import CALENDAR_SCOPES_THAT_COVER_EVENTS, NAME, SCOPES

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("meetbridge.google_meet")

# Google answers ``email`` with its long name in the granted scope list.
_SCOPE_ALIASES = {
    "email": "https://www.googleapis.com/auth/userinfo.email",
    "profile": "https://www.googleapis.com/auth/userinfo.profile",
}
PERMISSIONS_PAGE = "https://myaccount.google.com/permissions"


def normalise_scopes(scopes: tuple[str, ...] | list[str]) -> frozenset[str]:
    return frozenset(_SCOPE_ALIASES.get(scope, scope) for scope in scopes)


def _configured(context: ProviderContext) -> None:
    if not context.settings.client_id or not context.settings.client_secret:
        raise ConnectFailed(
            "Google Meet is not configured: set MEETBRIDGE_PROVIDERS__GOOGLE_MEET__CLIENT_ID and"
            " MEETBRIDGE_PROVIDERS__GOOGLE_MEET__CLIENT_SECRET to the OAuth client of your"
            " Google Cloud project (see docs/providers/google_meet.md).",
            provider=NAME,
            provider_code="not_configured",
        )


def authorization_url(
    context: ProviderContext, *, redirect_uri: str, state: str, code_challenge: str
) -> str:
    """Google's consent URL with state, PKCE S256, offline access and forced consent."""
    _configured(context)
    query = {
        "response_type": "code",
        "client_id": context.settings.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(SCOPES),
        "state": state,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
        # offline: a refresh token; consent: a refresh token again when reconnecting.
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
    }
    return f"{context.endpoint('authorize_url')}?{urlencode(query)}"


async def _post_token(
    context: ProviderContext, form: dict[str, str], *, action: str
) -> httpx.Response:
    """POST to the token endpoint with the client credentials in the form body."""
    import httpx  # here, not at module level: importing it is slow

    data = {
        **form,
        "client_id": context.settings.client_id,
        "client_secret": context.settings.client_secret.reveal(),
    }
    try:
        return await context.http.post(
            context.endpoint("token_url"), data=data, headers={"Accept": "application/json"}
        )
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(
            f"Google's sign-in service could not be reached to {action} ({type(exc).__name__});"
            " try again in a moment.",
            provider=NAME,
            provider_code=type(exc).__name__,
        ) from exc


def _client_problem(error: OAuthError) -> str | None:
    """An operator-facing explanation when the OAuth client itself is the problem."""
    if error.error == "invalid_client":
        return (
            "Google does not accept meetbridge's OAuth client (invalid_client:"
            f" {error.description}). Check MEETBRIDGE_PROVIDERS__GOOGLE_MEET__CLIENT_ID and"
            " CLIENT_SECRET against the OAuth client in the Google Cloud console."
        )
    if error.error == "redirect_uri_mismatch":
        return (
            "Google rejected the redirect URL: it must be listed exactly under 'Authorized"
            " redirect URIs' of the OAuth client in the Google Cloud console (see"
            " docs/providers/google_meet.md)."
        )
    return None


async def exchange_code(
    context: ProviderContext, *, code: str, redirect_uri: str, code_verifier: str
) -> TokenSet:
    """Trade the authorization code (single use) for tokens."""
    _configured(context)
    response = await _post_token(
        context,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        },
        action="finish connecting",
    )
    if response.status_code != 200:
        error = OAuthError.from_response(response)
        problem = _client_problem(error)
        if problem is None and response.status_code >= 500:
            problem = (
                f"Google's sign-in service had a problem ({response.status_code}); click"
                " Connect again in a moment."
            )
        if problem is None and "verifier" in error.description.lower():
            problem = (
                "Google did not accept the PKCE code verifier of this sign-in"
                f" ({error.description}). Start again from meetbridge with Connect, in the same"
                " browser."
            )
        if problem is None:
            problem = (
                "Google did not accept the authorization code: it was already used or has"
                f" expired ({error.error or response.status_code}: {error.description}). Codes"
                " work once and for a few minutes; click Connect again."
            )
        raise ConnectFailed(problem, provider=NAME, provider_code=error.error or "token_error")
    return TokenSet.from_oauth_response(response.json(), now=context.clock())


async def fetch_userinfo(context: ProviderContext, access_token: str) -> dict[str, Any]:
    """OpenID Connect userinfo: ``sub``, ``email`` and, for Workspace accounts, ``hd``."""
    import httpx  # here, not at module level: importing it is slow

    try:
        response = await context.http.get(
            context.endpoint("userinfo_url"),
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
    except httpx.HTTPError as exc:
        raise ConnectFailed(
            f"Google's account service could not be reached ({type(exc).__name__}); click"
            " Connect again in a moment.",
            provider=NAME,
            provider_code=type(exc).__name__,
        ) from exc
    if response.status_code != 200:
        error = OAuthError.from_response(response)
        raise ConnectFailed(
            "Google would not tell meetbridge which account was connected"
            f" ({response.status_code} {error.error or ''}: {error.description}). Click Connect"
            " again.",
            provider=NAME,
            provider_code=error.error or str(response.status_code),
        )
    body: dict[str, Any] = response.json()
    if not body.get("sub") or not body.get("email"):
        raise ConnectFailed(
            "Google did not share the account's id and email address; connect again and allow"
            " meetbridge to see your email address.",
            provider=NAME,
            provider_code="userinfo_incomplete",
        )
    return body


async def connect(
    context: ProviderContext, *, code: str, redirect_uri: str, code_verifier: str
) -> ConnectedAccount:
    """Finish the connection: tokens, granted scopes, and whose account it is."""
    tokens = await exchange_code(
        context, code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
    )
    granted = normalise_scopes(tokens.scope)
    if not granted & CALENDAR_SCOPES_THAT_COVER_EVENTS:
        # Give back what was granted: meetbridge keeps nothing from a refused connection.
        await revoke(context, tokens)
        raise InsufficientScope(
            "Google Meet was not connected: the calendar permission was not granted. Click"
            " Connect again and, on Google's consent screen, tick the box that lets meetbridge"
            " view and edit events on your calendars (meetbridge creates each Meet as a"
            " calendar event).",
            provider=NAME,
            provider_code="calendar_scope_missing",
        )
    if tokens.refresh_token is None:
        raise ConnectFailed(
            "Google did not hand out a long-lived (refresh) token, so meetbridge could not keep"
            f" the connection. Remove meetbridge's access at {PERMISSIONS_PAGE}, then click"
            " Connect again.",
            provider=NAME,
            provider_code="no_refresh_token",
        )
    info = await fetch_userinfo(context, tokens.access_token.reveal())
    hosted_domain = str(info.get("hd") or "")
    return ConnectedAccount(
        tokens=tokens,
        external_account_id=str(info["sub"]),
        email=str(info["email"]),
        account_type="workspace" if hosted_domain else "personal",
        organization_id=hosted_domain,
        display_name=str(info.get("name") or ""),
        extra={"email_verified": bool(info.get("email_verified", False))},
    )


async def refresh(context: ProviderContext, tokens: TokenSet) -> TokenSet:
    """A new access token; Google keeps the refresh token (it does not rotate)."""
    if tokens.refresh_token is None:
        raise GrantRevoked(
            "This Google Meet connection has no refresh token; reconnect Google Meet.",
            provider=NAME,
            provider_code="no_refresh_token",
        )
    response = await _post_token(
        context,
        {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token.reveal()},
        action="refresh the connection",
    )
    if response.status_code == 200:
        return TokenSet.from_oauth_response(response.json(), now=context.clock(), previous=tokens)
    error = OAuthError.from_response(response)
    if error.error in {"invalid_grant", "unauthorized_client"}:
        # Revoked by the person, unused for six months, a testing-mode app's 7 days, or
        # issued to another OAuth client: only a new consent helps.
        reason = error.description or error.error
        raise GrantRevoked(
            f"Google no longer accepts this Google Meet connection: {reason} Reconnect Google"
            " Meet.",
            provider=NAME,
            provider_code=error.error,
        )
    if response.status_code >= 500:
        raise ProviderUnavailable(
            f"Google's sign-in service had a problem ({response.status_code}) refreshing the"
            " connection; meetbridge retries automatically.",
            provider=NAME,
            provider_code=error.error or str(response.status_code),
        )
    # A misconfigured client is the operator's to fix; it says nothing about this person's
    # grant, so the connection is not marked for reconnecting.
    raise ProviderError(
        _client_problem(error)
        or f"Google refused to refresh the connection ({error.error}: {error.description}).",
        provider=NAME,
        provider_code=error.error or str(response.status_code),
    )


async def revoke(context: ProviderContext, tokens: TokenSet) -> bool:
    """Revoke the grant at Google (best effort); True when Google confirmed it is gone."""
    token = tokens.refresh_token or tokens.access_token
    try:
        url = context.endpoint("revoke_url")
        # In the form body rather than the query string, so it stays out of access logs.
        response = await context.http.post(
            url,
            data={"token": token.reveal()},
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    except Exception as exc:  # best effort: disconnect must never fail because of this
        log.warning("Google revoke request failed: %s", type(exc).__name__)
        return False
    if response.status_code == 200:
        return True
    error = OAuthError.from_response(response)
    # Google says invalid_token for a refresh token that is already revoked: the grant is
    # gone either way. For an access token it may merely have expired, which proves nothing.
    if error.error == "invalid_token" and tokens.refresh_token is not None:
        return True
    log.warning("Google did not confirm the revocation (%s %s)", response.status_code, error.error)
    return False
