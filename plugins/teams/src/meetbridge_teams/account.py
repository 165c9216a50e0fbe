"""Connecting a Microsoft account: whose it is, and whether it can host Teams meetings.

Personal Microsoft accounts (outlook.com, hotmail.com, live.com) sign in fine but cannot
create Teams meetings by any Graph route. They are recognised at connect time, before anything
is stored, from the id_token's tenant id (``tid`` = the consumer tenant) or, when no id_token
came back and calendar access was granted, from the calendar's allowed online meeting
providers lacking ``teamsForBusiness``.
"""

from __future__ import annotations

from typing import Any

from meetbridge.providers import (
    ConnectedAccount,
    ConnectFailed,
    InsufficientScope,
    PreflightWarning,
    ProviderContext,
    TokenSet,
    UnsupportedAccount,
)
from meetbridge_teams import oauth
from meetbridge_teams.client import graph_error

PROVIDER = "teams"
ACCOUNT_TYPE_WORK = "work"
ACCOUNT_TYPE_PERSONAL = "personal"

PERSONAL_ACCOUNT_REFUSAL = (
    "{who} is a personal Microsoft account (outlook.com, hotmail.com, live.com). Personal"
    " Microsoft accounts cannot host Microsoft Teams meetings, so it was not connected. Connect"
    " a work or school account that has Microsoft Teams, or choose Zoom or Google Meet instead."
)


async def connect_account(
    context: ProviderContext, *, code: str, redirect_uri: str, code_verifier: str
) -> ConnectedAccount:
    """Redeem the code, identify the account, refuse personal accounts; store nothing."""
    body = await oauth.exchange_code(
        context, code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
    )
    granted = oauth.granted_scopes(body)
    missing = [s for s in oauth.REQUIRED_GRANTED if granted and s.lower() not in granted]
    if missing:
        raise InsufficientScope(
            f"Microsoft did not grant {', '.join(missing)}, which meetbridge needs to create"
            " Teams meetings. Connect again and accept every permission, or ask an administrator"
            " to grant admin consent for them.",
            provider=PROVIDER,
            provider_code="missing_scope",
        )
    access_token = str(body["access_token"])
    claims = oauth.unverified_claims(str(body.get("id_token") or ""))
    tenant_id = str(claims.get("tid") or "")

    me = await _get(context, "/me", access_token)
    user_id = str(me.get("id") or "")
    email = str(
        me.get("mail") or me.get("userPrincipalName") or claims.get("preferred_username") or ""
    )
    if not user_id:
        raise ConnectFailed(
            "Microsoft Graph did not say which account signed in; connect Microsoft Teams again.",
            provider=PROVIDER,
            provider_code="no_user_id",
        )

    personal = tenant_id == oauth.PERSONAL_TENANT_ID
    if not tenant_id and {"calendars.read", "calendars.readwrite"} & granted:
        calendar = await _get(context, "/me/calendar", access_token)
        providers = calendar.get("allowedOnlineMeetingProviders") or []
        personal = "teamsForBusiness" not in providers
    if personal:
        raise UnsupportedAccount(
            PERSONAL_ACCOUNT_REFUSAL.format(who=email or "This account"),
            provider=PROVIDER,
            provider_code="personal_microsoft_account",
        )

    return ConnectedAccount(
        tokens=TokenSet.from_oauth_response(body, context.clock()),
        external_account_id=user_id,
        email=email,
        account_type=ACCOUNT_TYPE_WORK,
        organization_id=tenant_id,
        display_name=str(me.get("displayName") or claims.get("name") or ""),
    )


async def _get(context: ProviderContext, path: str, access_token: str) -> dict[str, Any]:
    """A Graph GET during connect, where any failure means "connect failed, try again"."""
    import httpx  # here, not at module level: importing it is slow

    url = context.endpoint("api_base_url") + path
    try:
        response = await context.http.get(
            url, headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        )
    except httpx.HTTPError as exc:
        raise ConnectFailed(
            f"Microsoft Graph could not be reached while connecting ({type(exc).__name__});"
            " connect Microsoft Teams again in a few minutes.",
            provider=PROVIDER,
            provider_code=type(exc).__name__,
        ) from None
    if response.status_code != 200:
        code, message = graph_error(response)
        raise ConnectFailed(
            f"Microsoft Graph refused to read the account ({response.status_code} {code}:"
            f" {message}). Connect Microsoft Teams again.",
            provider=PROVIDER,
            provider_code=f"{response.status_code} {code}".strip(),
        )
    body = response.json()
    return body if isinstance(body, dict) else {}


def preflight_warnings(account: Any) -> list[PreflightWarning]:
    """Warnings for an account that should never have been connected as a Teams host."""
    account_type = str(getattr(account, "account_type", "") or "")
    tenant_id = str(getattr(account, "organization_id", "") or "")
    if account_type == ACCOUNT_TYPE_PERSONAL or tenant_id == oauth.PERSONAL_TENANT_ID:
        return [
            PreflightWarning(
                code="teams_personal_account",
                message=(
                    "This Microsoft connection is a personal account, which cannot host Teams"
                    " meetings: bookings will fail. Disconnect it and connect a work or school"
                    " account, or choose Zoom or Google Meet for this meeting type."
                ),
            )
        ]
    return []
