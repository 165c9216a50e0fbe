"""Who a new Zoom connection belongs to, and whether its grant fits what was asked.

After the code exchange, ``GET /users/me`` says whose account it is (id, email, plan type,
role, Zoom account id). An organisation-wide connection needs an owner or admin whose grant
carries the ``:admin`` scopes; any connection needs the right to create meetings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meetbridge.providers import (
    AccountLevelNotAllowed,
    ConnectedAccount,
    ConnectFailed,
    InsufficientScope,
    ProviderContext,
    TokenSet,
)
from meetbridge_zoom import info
from meetbridge_zoom.info import LABEL, NAME
from meetbridge_zoom.transport import json_body, send


async def whoami(context: ProviderContext, tokens: TokenSet) -> dict[str, Any]:
    """``GET /users/me`` with the new token: whose account was just connected."""
    response = await send(
        context,
        "GET",
        context.endpoint("userinfo_url"),
        what="read the connected Zoom user",
        headers={"Authorization": f"Bearer {tokens.access_token.reveal()}"},
    )
    body = json_body(response)
    if response.is_success and body.get("id"):
        return body
    message = str(body.get("message") or f"HTTP {response.status_code}")[:200]
    if body.get("code") in (4700, 4711):
        raise InsufficientScope(
            f"The Zoom app does not let meetbridge read the connected user ({message}). Add the"
            " user:read:user scope (user:read:user:admin for account level) and connect again.",
            provider=NAME,
            provider_code=str(body.get("code")),
        )
    raise ConnectFailed(
        f"{LABEL} accepted the connection but would not say whose account it is ({message}).",
        provider=NAME,
        provider_code=str(body.get("code") or response.status_code),
    )


def connected_account(
    context: ProviderContext, tokens: TokenSet, me: Mapping[str, Any], account_level: bool
) -> ConnectedAccount:
    """Check the grant fits the kind of connection asked for; describe the account."""
    scopes = tokens.scope
    role = str(me.get("role_name") or "")
    is_admin = info.is_admin_role(role, me.get("role_id"))
    email = str(me.get("email") or "")
    if account_level and (not is_admin or (scopes and not info.has_admin_scopes(scopes))):
        raise AccountLevelNotAllowed(
            f"{email or 'This Zoom user'} is not an owner or admin of the Zoom account"
            f"{f' (role: {role})' if role else ''}, so Zoom did not grant organisation-wide"
            " access. Ask a Zoom admin to connect Zoom for the organisation, or to pre-approve"
            " the meetbridge app in the Zoom App Marketplace so that you can connect your own"
            " Zoom account instead.",
            provider=NAME,
            provider_code="not_admin",
        )
    if scopes and not info.can_create_meetings(scopes):
        raise InsufficientScope(
            f"{LABEL} did not grant meetbridge the right to create meetings (granted:"
            f" {' '.join(scopes)}). Add meeting:write:meeting (meeting:write on a classic app) to"
            " the Zoom app's scopes and connect again.",
            provider=NAME,
            provider_code="missing_scope",
        )
    name = str(me.get("display_name") or f"{me.get('first_name', '')} {me.get('last_name', '')}")
    return ConnectedAccount(
        tokens=tokens,
        external_account_id=str(me["id"]),
        email=email,
        account_type=info.plan_name(me.get("type")),
        organization_id=str(me.get("account_id") or ""),
        is_admin=is_admin,
        display_name=name.strip(),
        extra={
            "role_name": role,
            "timezone": str(me.get("timezone") or ""),
            "granted_scopes": list(scopes),
            "account_level": account_level,
            "connected_at": context.clock().isoformat(),
        },
    )
