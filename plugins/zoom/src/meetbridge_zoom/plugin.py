"""The Zoom provider plugin: meetbridge's hooks, implemented for Zoom.

Each hook is thin; the work lives in :mod:`~meetbridge_zoom.oauth` (code exchange, refresh,
revoke), :mod:`~meetbridge_zoom.account` (whose account, admin checks),
:mod:`~meetbridge_zoom.client` (API calls, errors, token retry), :mod:`~meetbridge_zoom.meetings`
(bodies, parsing, finding a meeting again), :mod:`~meetbridge_zoom.limits` (rate limits) and
:mod:`~meetbridge_zoom.webhooks` (signed deliveries).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meetbridge.hookspecs import hookimpl
from meetbridge.providers import (
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
    Room,
    Secret,
    TokenSet,
    WebhookResult,
)
from meetbridge_zoom import info, limits, meetings, oauth, webhooks
from meetbridge_zoom.account import connected_account, whoami
from meetbridge_zoom.client import ZoomClient, meeting_path, user_path
from meetbridge_zoom.info import INFO, LABEL, NAME

DELETE_DONE_CODES = frozenset({"3007"})  # "cannot delete this meeting since it has ended"


@hookimpl
def describe_provider() -> ProviderInfo:
    """Zoom: OAuth, account-level connections, rooms, webhooks, real endpoints, the sandbox."""
    return INFO


@hookimpl
def authorization_url(
    context: ProviderContext,
    redirect_uri: str,
    state: str,
    code_challenge: str,
    account_level: bool,
) -> ConnectStart:
    """Zoom's authorize URL with state and PKCE S256 (scopes come from the app, not the URL)."""
    return ConnectStart(
        url=oauth.authorization_url(
            context,
            redirect_uri=redirect_uri,
            state=state,
            code_challenge=code_challenge,
            account_level=account_level,
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
    """Exchange the code, read ``/users/me``, and check the grant fits the connection kind."""
    tokens = await oauth.exchange_code(
        context,
        code=code,
        redirect_uri=redirect_uri,
        code_verifier=code_verifier,
        account_level=account_level,
    )
    try:
        me = await whoami(context, tokens)
        account = connected_account(context, tokens, me, account_level)
    except ProviderError:
        # Nothing is stored on failure; the grant Zoom just made is withdrawn too.
        await oauth.revoke(context, tokens)
        raise
    limits.ACCOUNT_LIMITS.account_of_user[account.external_account_id] = account.organization_id
    return account


@hookimpl
async def refresh_credentials(context: ProviderContext, tokens: TokenSet) -> TokenSet:
    """Refresh; Zoom rotates refresh tokens, so the returned set holds the new one."""
    return await oauth.refresh(context, tokens)


@hookimpl
async def create_meeting(
    context: ProviderContext, request: MeetingRequest, credentials: Credentials
) -> Meeting:
    """Create a scheduled meeting, reusing the one an ambiguous earlier attempt made."""
    client = ZoomClient(context, credentials)
    owner = user_path(request.host_user)
    if request.previous_attempt_ambiguous or request.attempt > 1:
        marker = meetings.booking_marker(request.idempotency_key)
        existing = await meetings.find_by_marker(client, owner, marker)
        if existing is not None:
            return meetings.meeting_from_zoom(await meetings.fetch(client, existing))
    response = await client.request(
        "POST",
        f"/users/{owner}/meetings",
        what="create the meeting",
        category=limits.MEDIUM,
        daily_key=_daily_key(request, credentials),
        json=meetings.meeting_body(request, context.organization_timezone),
    )
    return meetings.meeting_from_zoom(response.json())


@hookimpl
async def update_meeting(
    context: ProviderContext,
    meeting: MeetingRef,
    request: MeetingRequest,
    credentials: Credentials,
) -> Meeting:
    """PATCH the meeting (204), then read it back for the current links."""
    client = ZoomClient(context, credentials)
    await client.request(
        "PATCH",
        meeting_path(meeting.external_id),
        what="update the meeting",
        daily_key=_daily_key(request, credentials),
        json=meetings.meeting_body(request, context.organization_timezone),
    )
    return meetings.meeting_from_zoom(await meetings.fetch(client, meeting.external_id))


@hookimpl
async def delete_meeting(
    context: ProviderContext, meeting: MeetingRef, credentials: Credentials
) -> DeleteOutcome:
    """DELETE the meeting; "not found" (404/3001) counts as done."""
    client = ZoomClient(context, credentials)
    try:
        await client.request("DELETE", meeting_path(meeting.external_id), what="delete the meeting")
    except MeetingGone:
        return DeleteOutcome.ALREADY_GONE
    except ProviderError as exc:
        if exc.provider_code in DELETE_DONE_CODES:
            return DeleteOutcome.ALREADY_GONE
        raise
    return DeleteOutcome.DELETED


@hookimpl
async def get_host_join_url(
    context: ProviderContext, meeting: MeetingRef, credentials: Credentials
) -> Secret:
    """A fresh ``start_url`` (they expire two hours after being issued)."""
    body = await meetings.fetch(ZoomClient(context, credentials), meeting.external_id)
    start_url = body.get("start_url")
    if not start_url:
        raise ProviderError(
            f"{LABEL} gave no start link for this meeting; start it from the Zoom app.",
            provider=NAME,
            provider_code="no_start_url",
        )
    return Secret(str(start_url))


@hookimpl
async def disconnect(context: ProviderContext, tokens: TokenSet) -> bool:
    """Revoke the grant at Zoom (best effort; never raises)."""
    return await oauth.revoke(context, tokens)


@hookimpl
def handle_webhook(
    context: ProviderContext, headers: Mapping[str, str], body: bytes
) -> WebhookResult:
    """Verify and read a Zoom delivery (see :mod:`meetbridge_zoom.webhooks`)."""
    return webhooks.handle(context, headers, body)


@hookimpl
async def list_rooms(context: ProviderContext, credentials: Credentials) -> list[Room]:
    """The account's Zoom Rooms (needs an account-level connection with the rooms scope)."""
    client = ZoomClient(context, credentials)
    rooms: list[Room] = []
    params: dict[str, Any] = {"page_size": 300}
    for _ in range(meetings.LIST_MAX_PAGES):
        page = await client.get_json(
            "/rooms", what="list Zoom Rooms", category=limits.MEDIUM, params=params
        )
        rooms.extend(
            Room(
                external_id=str(r.get("id")),
                name=str(r.get("name") or ""),
                status=str(r.get("status") or ""),
            )
            for r in page.get("rooms") or ()
            if r.get("id")
        )
        token = page.get("next_page_token")
        if not token:
            break
        params = {**params, "next_page_token": token}
    return rooms


@hookimpl
def preflight(
    context: ProviderContext, account: ConnectedAccount | Any, duration_minutes: int | None
) -> list[PreflightWarning]:
    """Warn that a Basic (free) host's meetings end after 40 minutes."""
    if str(getattr(account, "account_type", "") or "").lower() != info.BASIC_PLAN:
        return []
    if duration_minutes is None:
        return [
            PreflightWarning(
                code="zoom_basic_plan",
                message=(
                    "This Zoom account is on the free Basic plan: Zoom ends its meetings after"
                    f" {info.BASIC_MAX_MINUTES} minutes. Upgrade the Zoom licence, or keep meeting"
                    f" types at {info.BASIC_MAX_MINUTES} minutes or less."
                ),
            )
        ]
    if duration_minutes > info.BASIC_MAX_MINUTES:
        return [
            PreflightWarning(
                code="zoom_basic_40_minutes",
                message=(
                    f"Meetings of this type last {duration_minutes} minutes, but this host's Zoom"
                    f" account is on the free Basic plan, which ends meetings after"
                    f" {info.BASIC_MAX_MINUTES} minutes. Upgrade the Zoom licence, shorten the"
                    " meeting type, or choose another location."
                ),
            )
        ]
    return []


def _daily_key(request: MeetingRequest, credentials: Credentials) -> str:
    """Whose daily create+update allowance a call uses: the meeting's host user."""
    return (request.host_user or credentials.external_account_id or credentials.email).lower()
