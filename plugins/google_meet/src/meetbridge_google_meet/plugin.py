"""The Google Meet provider plugin: meetbridge's hooks, each handing off to its module.

Meetings are Google Calendar events with a Meet conference on the host's primary calendar
(see :mod:`.meetings`); connecting is Google OAuth with PKCE (see :mod:`.oauth`).
"""

from __future__ import annotations

from typing import Any

from meetbridge.hookspecs import hookimpl
from meetbridge.providers import (
    ConnectedAccount,
    ConnectFailed,
    ConnectStart,
    Credentials,
    DeleteOutcome,
    Meeting,
    MeetingRef,
    MeetingRequest,
    PreflightWarning,
    ProviderContext,
    ProviderInfo,
    TokenSet,
)
from meetbridge_google_meet import meetings, oauth
from meetbridge_google_meet import preflight as checks
from meetbridge_google_meet.info import INFO, NAME


@hookimpl
def describe_provider() -> ProviderInfo:
    """Google Meet: per-person OAuth connection, idempotent creates, dial-in numbers."""
    return INFO


def _no_account_level(account_level: bool) -> None:
    if account_level:
        raise ConnectFailed(
            "Google Meet connects each person's own Google account; there is no"
            " organisation-wide connection. Ask each member to connect Google Meet.",
            provider=NAME,
            provider_code="account_level_unsupported",
        )


@hookimpl
def authorization_url(
    context: ProviderContext,
    redirect_uri: str,
    state: str,
    code_challenge: str,
    account_level: bool,
) -> ConnectStart:
    """Google's consent URL (state, PKCE S256, offline access, forced consent)."""
    _no_account_level(account_level)
    return ConnectStart(
        url=oauth.authorization_url(
            context, redirect_uri=redirect_uri, state=state, code_challenge=code_challenge
        )
    )


@hookimpl
async def connect(
    context: ProviderContext,
    code: str,
    redirect_uri: str,
    code_verifier: str,
    account_level: bool,
) -> ConnectedAccount:
    """Exchange the code, check the calendar scope was granted, read the account."""
    _no_account_level(account_level)
    return await oauth.connect(
        context, code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
    )


@hookimpl
async def refresh_credentials(context: ProviderContext, tokens: TokenSet) -> TokenSet:
    """A new access token; the refresh token is kept (Google does not rotate it)."""
    return await oauth.refresh(context, tokens)


@hookimpl
async def create_meeting(
    context: ProviderContext, request: MeetingRequest, credentials: Credentials
) -> Meeting:
    """A Calendar event with a Meet conference; a retry picks up the same event."""
    return await meetings.create_meeting(context, request, credentials)


@hookimpl
async def update_meeting(
    context: ProviderContext,
    meeting: MeetingRef,
    request: MeetingRequest,
    credentials: Credentials,
) -> Meeting:
    """Move or retitle the event; raises MeetingGone when it was deleted."""
    return await meetings.update_meeting(context, meeting, request, credentials)


@hookimpl
async def delete_meeting(
    context: ProviderContext, meeting: MeetingRef, credentials: Credentials
) -> DeleteOutcome:
    """Delete the event; 404 and 410 count as already gone."""
    return await meetings.delete_meeting(context, meeting, credentials)


@hookimpl
async def disconnect(context: ProviderContext, tokens: TokenSet) -> bool:
    """Revoke the whole grant at Google (best effort, never raises)."""
    return await oauth.revoke(context, tokens)


@hookimpl
def preflight(account: Any, duration_minutes: int | None) -> list[PreflightWarning]:
    """Warn when a free Google account would cut group calls at 60 minutes."""
    return checks.warnings(account, duration_minutes)
