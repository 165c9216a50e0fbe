"""The Microsoft Teams provider plugin: the meetbridge hooks, and nothing else.

Connect with the Microsoft identity platform (v2.0, authorization code + PKCE, tenant
``organizations`` unless configured), create meetings with Graph's idempotent
``createOrGet`` keyed on the booking, move them with PATCH, delete them with DELETE. The work
lives in :mod:`meetbridge_teams.oauth`, :mod:`~meetbridge_teams.account`,
:mod:`~meetbridge_teams.client` and :mod:`~meetbridge_teams.meetings`.
"""

from __future__ import annotations

from typing import Any

from meetbridge.hookspecs import hookimpl
from meetbridge.providers import (
    AccountLevelNotAllowed,
    AuthKind,
    Capability,
    ConnectedAccount,
    ConnectStart,
    Credentials,
    DeleteOutcome,
    Meeting,
    MeetingGone,
    MeetingRef,
    MeetingRequest,
    PreflightWarning,
    ProviderContext,
    ProviderError,
    ProviderInfo,
    TokenSet,
    WrongCredential,
)
from meetbridge_teams import account as accounts
from meetbridge_teams import meetings, oauth
from meetbridge_teams.client import GraphClient, meeting_path

NAME = "teams"

INFO = ProviderInfo(
    name=NAME,
    label="Microsoft Teams",
    auth_kind=AuthKind.OAUTH2,
    capabilities=frozenset(
        {
            Capability.CONNECT,
            Capability.REFRESH,
            Capability.PREFLIGHT,
            Capability.PASSCODE,
            Capability.DIAL_IN,
            Capability.IDEMPOTENT_CREATE,
        }
    ),
    scopes=oauth.REQUESTED_SCOPES,
    endpoints={
        # "{tenant}" is replaced by options.tenant ("organizations" by default).
        "authorize_url": "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize",
        "token_url": "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
        "api_base_url": "https://graph.microsoft.com/v1.0",
        "userinfo_url": "https://graph.microsoft.com/v1.0/me",
    },
    docs_url="docs/providers/teams.md",
    sandbox_app="meetbridge_teams.sandbox:create_app",
)


@hookimpl
def describe_provider() -> ProviderInfo:
    """Microsoft Teams, through Microsoft Graph."""
    return INFO


@hookimpl
def authorization_url(
    context: ProviderContext,
    redirect_uri: str,
    state: str,
    code_challenge: str,
    account_level: bool,
) -> ConnectStart:
    """Send the person to Microsoft's sign-in and consent page (state + PKCE S256)."""
    if account_level:
        raise AccountLevelNotAllowed(
            "Microsoft Teams has no organisation-wide connection in meetbridge: each member"
            " connects their own work or school account.",
            provider=NAME,
        )
    return ConnectStart(
        url=oauth.build_authorization_url(
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
    """Redeem the code; refuse personal accounts and missing consent; return the account."""
    if account_level:
        raise AccountLevelNotAllowed(
            "Microsoft Teams has no organisation-wide connection in meetbridge.", provider=NAME
        )
    return await accounts.connect_account(
        context, code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
    )


@hookimpl
async def refresh_credentials(context: ProviderContext, tokens: TokenSet) -> TokenSet:
    """Refresh; Microsoft rotates the refresh token on every refresh, so the new one is kept."""
    return await oauth.refresh_tokens(context, tokens)


@hookimpl
async def create_meeting(
    context: ProviderContext, request: MeetingRequest, credentials: Credentials
) -> Meeting:
    """createOrGet keyed on the booking, then PATCH what the meeting lacks (lobby, or a moved
    time when an earlier attempt's meeting is found again)."""
    meetings.lobby_settings(request)  # a bad meeting-type setting fails before anything is made
    client = GraphClient(context, credentials)
    response = await client.request(
        "POST", "/me/onlineMeetings/createOrGet", json=meetings.create_or_get_body(request)
    )
    found = response.json()
    patch = meetings.differences(found, request)
    if not patch:
        return meetings.meeting_from_graph(found)
    try:
        response = await client.request("PATCH", meeting_path(str(found["id"])), json=patch)
    except ProviderError as exc:
        # The meeting exists already, whatever went wrong next (even a grant revoked at that
        # moment): say so, so the host records it or finds it through createOrGet, never
        # takes it for "nothing made".
        exc.ambiguous = True
        raise
    return meetings.meeting_from_graph(response.json())


def _check_owner(meeting: MeetingRef, credentials: Credentials) -> None:
    owner = meetings.organizer_id(meeting.external_id)
    mine = credentials.external_account_id
    if owner and mine and owner.lower() != mine.lower():
        raise WrongCredential(
            "This Teams meeting was organised by another Microsoft account than the connection"
            " used; use the connection that created it.",
            provider=NAME,
            provider_code="organizer_mismatch",
        )


@hookimpl
async def update_meeting(
    context: ProviderContext,
    meeting: MeetingRef,
    request: MeetingRequest,
    credentials: Credentials,
) -> Meeting:
    """PATCH subject, lobby and both times; a meeting Microsoft no longer has is MeetingGone."""
    _check_owner(meeting, credentials)
    client = GraphClient(context, credentials)
    response = await client.request(
        "PATCH", meeting_path(meeting.external_id), json=meetings.update_body(request)
    )
    return meetings.meeting_from_graph(response.json())


@hookimpl
async def delete_meeting(
    context: ProviderContext, meeting: MeetingRef, credentials: Credentials
) -> DeleteOutcome:
    """DELETE the meeting; 404 (already deleted, or never there) counts as done."""
    _check_owner(meeting, credentials)
    client = GraphClient(context, credentials)
    try:
        await client.request("DELETE", meeting_path(meeting.external_id))
    except MeetingGone:
        return DeleteOutcome.ALREADY_GONE
    return DeleteOutcome.DELETED


@hookimpl
def disconnect(context: ProviderContext, tokens: TokenSet) -> bool:
    """Microsoft has no endpoint to revoke these tokens: nothing to call, so ``False``.

    The host has already deleted the tokens. Removing the app's consent is done by the person
    (My Apps) or an administrator (Entra admin center); docs/providers/teams.md says how.
    """
    return False


@hookimpl
def preflight(
    context: ProviderContext, account: ConnectedAccount | Any, duration_minutes: int | None
) -> list[PreflightWarning]:
    """Warn about a personal Microsoft account (which should never have been connected)."""
    return accounts.preflight_warnings(account)
