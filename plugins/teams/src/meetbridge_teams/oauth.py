"""Microsoft identity platform v2.0: the authorization URL, the token endpoint, AADSTS errors.

Microsoft's token endpoint answers errors in one shape::

    {"error": "invalid_grant", "error_description": "AADSTS70008: ...\\r\\nTrace ID: ...",
     "error_codes": [70008], "trace_id": "...", "correlation_id": "...", "suberror": "..."}

The ``AADSTS`` number says what happened; this module turns it into the meetbridge error that
tells the host what to do (reconnect, ask an administrator, fix the configuration) and a message
a person can act on. Only the first line of ``error_description`` is ever shown: the rest is
trace data, and none of it is a secret, but a message should stay short.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from meetbridge.providers import (
    ConnectFailed,
    GrantRevoked,
    ProviderContext,
    ProviderError,
    ProviderUnavailable,
    TokenSet,
)

if TYPE_CHECKING:
    import httpx

PROVIDER = "teams"
DEFAULT_TENANT = "organizations"
# Personal Microsoft accounts (outlook.com, hotmail.com, live.com) all sign in through this
# one tenant; its id in an id_token's ``tid`` claim is how Microsoft says "personal account".
PERSONAL_TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"

# The delegated Microsoft Graph permissions meetbridge needs.
GRAPH_PERMISSIONS = ("offline_access", "User.Read", "OnlineMeetings.ReadWrite")
# ``openid`` adds no Graph permission but makes Microsoft return an id_token, whose ``tid``
# claim tells a personal account from a work one before anything is stored. Without it the
# token response carries no id_token at all.
REQUESTED_SCOPES = ("openid", *GRAPH_PERMISSIONS)
# Scopes that must come back in the token response's ``scope`` for meetbridge to work.
REQUIRED_GRANTED = ("User.Read", "OnlineMeetings.ReadWrite")
GRAPH_RESOURCE_PREFIX = "https://graph.microsoft.com/"

# AADSTS codes that mean "an administrator of the user's organisation must consent first".
ADMIN_CONSENT_CODES = frozenset({65001, 90093, 90094, 900941, 650056})
ADMIN_CONSENT_ERRORS = frozenset({"consent_required", "admin_consent_required"})
_AADSTS = re.compile(r"AADSTS(\d+)")
_MAX_REASON = 300


@dataclass(frozen=True)
class AadError:
    """An error answer of Microsoft's authorization or token endpoint."""

    error: str
    reason: str  # the first line of error_description, e.g. "AADSTS70008: The provided ..."
    codes: tuple[int, ...] = ()
    suberror: str = ""
    status_code: int = 400

    @classmethod
    def from_response(cls, status_code: int, body: Any) -> AadError:
        body = body if isinstance(body, Mapping) else {}
        reason = first_line(str(body.get("error_description") or ""))
        codes = tuple(int(c) for c in body.get("error_codes") or () if str(c).isdigit())
        if not codes:
            codes = tuple(int(m) for m in _AADSTS.findall(reason))
        return cls(
            error=str(body.get("error") or f"http_{status_code}"),
            reason=reason,
            codes=codes,
            suberror=str(body.get("suberror") or ""),
            status_code=status_code,
        )

    @property
    def code(self) -> str:
        """``AADSTS70008``-style label, or the OAuth error when no code was given."""
        return f"AADSTS{self.codes[0]}" if self.codes else self.error

    @property
    def needs_admin_consent(self) -> bool:
        return bool(ADMIN_CONSENT_CODES.intersection(self.codes)) or (
            self.error in ADMIN_CONSENT_ERRORS or self.suberror in ADMIN_CONSENT_ERRORS
        )


def first_line(text: str) -> str:
    """The first line of an AADSTS description, cut to a readable length."""
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    return line if len(line) <= _MAX_REASON else line[: _MAX_REASON - 3] + "..."


# -- endpoints ------------------------------------------------------------------------------


def tenant(context: ProviderContext) -> str:
    """The tenant path segment: ``organizations`` unless the operator set ``options.tenant``."""
    value = str(context.settings.options.get("tenant") or DEFAULT_TENANT).strip()
    return value or DEFAULT_TENANT


def endpoint(context: ProviderContext, key: str) -> str:
    """An endpoint URL with its ``{tenant}`` placeholder (if any) filled in."""
    return context.endpoint(key).replace("{tenant}", tenant(context))


def admin_consent_url(context: ProviderContext) -> str:
    """The v2.0 admin consent URL an administrator opens to consent for the organisation.

    Derived from the authorize endpoint (``.../{tenant}/oauth2/v2.0/authorize`` ->
    ``.../{tenant}/v2.0/adminconsent``) so that it points at the sandbox when the sandbox is
    configured. ``.default`` asks for every permission the app registration lists.
    """
    authorize = endpoint(context, "authorize_url")
    base = authorize.rsplit("/oauth2/v2.0/authorize", 1)[0]
    query = urlencode(
        {
            "client_id": context.settings.client_id,
            "scope": GRAPH_RESOURCE_PREFIX + ".default",
            "redirect_uri": context.settings.redirect_uri,
        }
    )
    return f"{base}/v2.0/adminconsent?{query}"


def build_authorization_url(
    context: ProviderContext, *, redirect_uri: str, state: str, code_challenge: str
) -> str:
    """The URL that sends a person to Microsoft's sign-in and consent page."""
    query = urlencode(
        {
            "client_id": context.settings.client_id,
            "response_type": "code",
            "response_mode": "query",
            "redirect_uri": redirect_uri,
            "scope": " ".join(REQUESTED_SCOPES),
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
    )
    return f"{endpoint(context, 'authorize_url')}?{query}"


# -- token endpoint -------------------------------------------------------------------------


class TokenEndpointError(Exception):
    """Microsoft's token endpoint answered with an error; callers map it for their step."""

    def __init__(self, aad: AadError) -> None:
        super().__init__(aad.reason or aad.error)
        self.aad = aad


async def _token_request(context: ProviderContext, form: dict[str, str]) -> dict[str, Any]:
    import httpx  # here, not at module level: importing it is slow

    form = {
        **form,
        "client_id": context.settings.client_id,
        # client_secret_post: Microsoft accepts Basic too, but its samples use the form body.
        "client_secret": context.settings.client_secret.reveal(),
    }
    try:
        response = await context.http.post(
            endpoint(context, "token_url"), data=form, headers={"Accept": "application/json"}
        )
    except httpx.HTTPError as exc:
        # Never pass the httpx exception text on: it may quote the request.
        raise ProviderUnavailable(
            f"Microsoft's sign-in service could not be reached ({type(exc).__name__}); try"
            " again in a few minutes.",
            provider=PROVIDER,
            provider_code=type(exc).__name__,
        ) from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
        return body
    if response.status_code >= 500 or response.status_code == 429:
        raise ProviderUnavailable(
            f"Microsoft's sign-in service is unavailable (HTTP {response.status_code}); try"
            " again in a few minutes.",
            provider=PROVIDER,
            provider_code=str(response.status_code),
            retry_after=_retry_after(response),
        )
    raise TokenEndpointError(AadError.from_response(response.status_code, body))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.strip().isdigit() else None


async def exchange_code(
    context: ProviderContext, *, code: str, redirect_uri: str, code_verifier: str
) -> dict[str, Any]:
    """Redeem an authorization code (with the PKCE verifier); return the raw token response."""
    try:
        return await _token_request(
            context,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
                "scope": " ".join(REQUESTED_SCOPES),
            },
        )
    except ProviderUnavailable as exc:
        # The code is single use and may have been spent: only a new sign-in can help.
        raise ConnectFailed(
            exc.message + " Then connect Microsoft Teams again.",
            provider=PROVIDER,
            provider_code=exc.provider_code,
        ) from None
    except TokenEndpointError as exc:
        raise connect_error(exc.aad, context) from None


async def refresh_tokens(context: ProviderContext, tokens: TokenSet) -> TokenSet:
    """Use the refresh token; Microsoft returns a new one every time, which replaces the old."""
    if tokens.refresh_token is None:
        raise GrantRevoked(
            "This Microsoft Teams connection has no refresh token; reconnect it.",
            provider=PROVIDER,
            provider_code="no_refresh_token",
        )
    try:
        body = await _token_request(
            context,
            {
                "grant_type": "refresh_token",
                "refresh_token": tokens.refresh_token.reveal(),
                "scope": " ".join(REQUESTED_SCOPES),
            },
        )
    except TokenEndpointError as exc:
        raise refresh_error(exc.aad) from None
    return TokenSet.from_oauth_response(body, context.clock(), previous=tokens)


# -- error interpretation -------------------------------------------------------------------

_PERSONAL_CODES = frozenset({50020, 500200})  # personal account where only work accounts may
_CONFIG_CODES = {
    7000215: "the client secret is wrong (use the secret's Value, not its ID)",
    7000222: "the client secret has expired; create a new one in the app registration",
    700016: "the client id is unknown in this tenant (check the Application (client) ID, and"
    " that the app allows accounts in any organizational directory)",
    90002: "the tenant in MEETBRIDGE_PROVIDERS__TEAMS__OPTIONS__TENANT does not exist",
    50011: "the redirect URI is not registered on the app",
    500112: "the redirect URI differs from the one used to sign in",
    50194: "the app is single-tenant; use the tenant id instead of 'organizations'",
}


def _admin_consent_message(admin_url: str = "") -> str:
    how = (
        " An administrator can grant it in the Microsoft Entra admin center (Enterprise"
        " applications > this app > Permissions > Grant admin consent for <your organisation>)"
    )
    if admin_url:
        how += f", or by opening {admin_url} and accepting"
    return (
        "Your Microsoft 365 organisation requires an administrator to approve meetbridge before"
        " you can connect Microsoft Teams (permissions User.Read and OnlineMeetings.ReadWrite)."
        + how
        + ". Once consent is granted, connect Microsoft Teams again."
    )


def explain_authorization_error(
    error: str, description: str = "", *, settings: Any | None = None
) -> str:
    """Turn the ``error``/``error_description`` of a Microsoft callback into a clear message.

    The host calls this when the OAuth callback carries ``error=`` instead of a code (the
    person cancelled, their organisation requires admin consent, a personal account was used
    where only work accounts may sign in...). Pass the provider's resolved ``settings`` to
    include the exact admin consent URL in the admin-consent message.
    """
    aad = AadError.from_response(400, {"error": error, "error_description": description})
    admin_url = ""
    if settings is not None and settings.client_id:
        admin_url = admin_consent_url(ProviderContext(settings=settings, http=None))
    if aad.needs_admin_consent:
        return _admin_consent_message(admin_url)
    if _PERSONAL_CODES.intersection(aad.codes):
        return (
            "That is a personal Microsoft account (outlook.com, hotmail.com, live.com), and"
            " personal accounts cannot host Microsoft Teams meetings. Connect a work or school"
            " account, or choose Zoom or Google Meet instead."
        )
    for code in aad.codes:
        if code in _CONFIG_CODES:
            return (
                f"meetbridge's Microsoft app registration is misconfigured: {_CONFIG_CODES[code]}"
                f" ({aad.code}). Ask the meetbridge administrator to fix it."
            )
    if error == "access_denied":
        return (
            "You did not allow meetbridge to use your Microsoft account, so Microsoft Teams was"
            " not connected. Connect again and choose Accept to use Teams meetings."
        )
    detail = f" ({aad.reason})" if aad.reason else ""
    return (
        f"Microsoft could not complete the sign-in: {error}{detail}. Try connecting Microsoft"
        " Teams again; if it keeps failing, send this message to your administrator."
    )


def connect_error(aad: AadError, context: ProviderContext) -> ConnectFailed:
    """The ConnectFailed for a failed code redemption."""
    if aad.needs_admin_consent:
        message = _admin_consent_message(admin_consent_url(context))
    elif aad.error == "invalid_grant" and not _CONFIG_CODES.keys() & set(aad.codes):
        message = (
            "Microsoft did not accept the sign-in (it may have expired or been used already:"
            f" {aad.reason or aad.error}). Connect Microsoft Teams again."
        )
    else:
        message = explain_authorization_error(aad.error, aad.reason, settings=context.settings)
    return ConnectFailed(message, provider=PROVIDER, provider_code=aad.code)


def refresh_error(aad: AadError) -> ProviderError:
    """Map a failed refresh: a dead grant means reconnect; a bad app config does not."""
    config = [code for code in aad.codes if code in _CONFIG_CODES]
    if aad.error == "invalid_client" or config:
        what = (
            _CONFIG_CODES.get(config[0], "the client credentials were refused")
            if config
            else ("the client credentials were refused")
        )
        return ProviderError(
            f"meetbridge's Microsoft app registration is misconfigured: {what} ({aad.code})."
            " An operator must fix MEETBRIDGE_PROVIDERS__TEAMS__CLIENT_ID / CLIENT_SECRET;"
            " reconnecting will not help.",
            provider=PROVIDER,
            provider_code=aad.code,
        )
    if aad.error in {"invalid_grant", "interaction_required", "consent_required"} or (
        aad.needs_admin_consent
    ):
        return GrantRevoked(
            "Microsoft no longer accepts this Microsoft Teams connection"
            f" ({aad.reason or aad.error}). Reconnect Microsoft Teams.",
            provider=PROVIDER,
            provider_code=aad.code,
        )
    return ProviderError(
        f"Microsoft refused to refresh the Teams connection ({aad.reason or aad.error}).",
        provider=PROVIDER,
        provider_code=aad.code,
    )


# -- id_token -------------------------------------------------------------------------------


def unverified_claims(jwt: str) -> dict[str, Any]:
    """The payload of a JWT, decoded without checking its signature.

    Used only on the id_token that came straight from Microsoft's token endpoint over TLS, in
    the same response as the tokens themselves; nothing here authenticates a caller. Returns
    ``{}`` for anything that is not a readable JWT.
    """
    parts = jwt.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def granted_scopes(body: Mapping[str, Any]) -> set[str]:
    """The token response's scopes, lower-cased and without the Graph resource prefix."""
    raw = str(body.get("scope") or "")
    out = set()
    for scope in raw.split():
        if scope.lower().startswith(GRAPH_RESOURCE_PREFIX):
            scope = scope[len(GRAPH_RESOURCE_PREFIX) :]
        out.add(scope.lower())
    return out
