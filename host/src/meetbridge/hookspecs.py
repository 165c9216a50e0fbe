"""The conferencing contract between meetbridge and its provider plugins.

Each function below is a hook specification; its docstring is the reference (``docs/plugins/
hooks.md`` is checked against these by a test). A plugin implements any subset of them with
``@hookimpl`` and may accept only the arguments it needs.

How calls are routed. ``describe_provider`` is asked of every plugin. Every other hook is a
call *about one provider*: the host sends it only to the plugin that described that provider,
so other plugins are never asked, and takes its result (``firstresult``). Implementations may
be plain functions or ``async def``; the host awaits what needs awaiting. Cross-cutting plugins
(audit, metrics, tracing) wrap these calls with ``@hookimpl(wrapper=True)``; note that the
result they see may be an awaitable when the provider's implementation is async.

Errors. Implementations raise the exceptions in :mod:`meetbridge.providers` (``GrantRevoked``,
``RateLimited``, ``ProviderUnavailable``, ``MeetingGone``...) so the host can decide what to do
without knowing the provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pluggy

from meetbridge.providers import (
    ConnectedAccount,
    ConnectStart,
    Credentials,
    DeleteOutcome,
    Meeting,
    MeetingRef,
    MeetingRequest,
    PreflightWarning,
    ProviderContext,
    ProviderInfo,
    Room,
    Secret,
    TokenSet,
    WebhookResult,
)

PROJECT_NAME = "meetbridge"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

# Hooks that concern one provider and are routed to the plugin that owns it.
ROUTED_HOOKS = (
    "authorization_url",
    "connect",
    "refresh_credentials",
    "create_meeting",
    "update_meeting",
    "delete_meeting",
    "get_host_join_url",
    "disconnect",
    "handle_webhook",
    "list_rooms",
    "preflight",
)


@hookspec
def describe_provider() -> ProviderInfo | None:
    """Describe the conferencing provider this plugin brings.

    Fires: once, when the plugin host is built (lazily, on first use), for every plugin.
    Receives: nothing.
    Returns: a :class:`~meetbridge.providers.ProviderInfo` (name, label, auth kind, scopes,
    capabilities, default endpoints), or ``None`` for a plugin that brings no provider (an
    audit or metrics plugin). Must be a plain function, not ``async def``.
    Combines: all answers are collected; two plugins describing the same ``name`` is an error
    naming both.
    """


@hookspec(firstresult=True)
def authorization_url(
    provider: str,
    context: ProviderContext,
    redirect_uri: str,
    state: str,
    code_challenge: str,
    account_level: bool,
) -> ConnectStart:
    """Build the URL that sends a person to the provider to grant access (OAuth step one).

    Fires: when a person clicks "Connect" (or an admin "Connect for the organisation", then
    ``account_level`` is true) for a provider with the ``connect`` capability.
    Receives: the exact registered ``redirect_uri``, an opaque ``state`` bound to the person's
    session, and a PKCE S256 ``code_challenge``; include all three.
    Returns: :class:`~meetbridge.providers.ConnectStart`. Sync or async.
    """


@hookspec(firstresult=True)
def connect(
    provider: str,
    context: ProviderContext,
    code: str,
    redirect_uri: str,
    code_verifier: str,
    account_level: bool,
) -> ConnectedAccount:
    """Exchange the authorization code for tokens and find out whose account it is.

    Fires: on the OAuth callback, after the host has checked ``state``.
    Receives: the ``code`` from the callback, the same ``redirect_uri`` and the PKCE
    ``code_verifier``.
    Returns: :class:`~meetbridge.providers.ConnectedAccount` (tokens, provider user id, email,
    account type, granted scopes). Raises ``ConnectFailed`` (bad or expired code, redirect
    mismatch), ``InsufficientScope`` (a needed scope was not granted), ``UnsupportedAccount``
    (e.g. a personal Microsoft account) or ``AccountLevelNotAllowed``. The host stores nothing
    when this raises. Sync or async.
    """


@hookspec(firstresult=True)
def refresh_credentials(provider: str, context: ProviderContext, tokens: TokenSet) -> TokenSet:
    """Use the refresh token to get a new access token.

    Fires: a minute before the access token expires, or when an operation reports the token
    invalid; the host serialises refreshes per connection (across tasks and, on PostgreSQL,
    processes) and stores the returned set atomically before anyone uses it.
    Receives: the current :class:`~meetbridge.providers.TokenSet`.
    Returns: the new ``TokenSet``. Providers that rotate refresh tokens (Zoom, Microsoft)
    return the new refresh token; others may keep the old one
    (``TokenSet.from_oauth_response(..., previous=tokens)`` does that). Raises ``GrantRevoked``
    when the grant is dead; the host then marks the connection "needs reconnect".
    """


@hookspec(firstresult=True)
def create_meeting(
    provider: str,
    context: ProviderContext,
    request: MeetingRequest,
    credentials: Credentials,
) -> Meeting:
    """Create the video meeting for a booking.

    Fires: when a booking with video is confirmed, when a host changes (with the new host's
    connection), and when an update found the meeting gone.
    Receives: the :class:`~meetbridge.providers.MeetingRequest` (UTC start, duration, the
    organisation's timezone, topic, agenda, per-type settings, a stable ``idempotency_key``)
    and the :class:`~meetbridge.providers.Credentials` of the connection to use.
    Returns: :class:`~meetbridge.providers.Meeting`. Must not make a second meeting when
    called again for the same ``idempotency_key`` after an ambiguous failure
    (``request.previous_attempt_ambiguous``): key the create on it, or look for the meeting
    first. Sync or async.
    """


@hookspec(firstresult=True)
def update_meeting(
    provider: str,
    context: ProviderContext,
    meeting: MeetingRef,
    request: MeetingRequest,
    credentials: Credentials,
) -> Meeting:
    """Move or retitle an existing meeting.

    Fires: when a booking is rescheduled and its host is unchanged, with the connection that
    created the meeting.
    Receives: the stored :class:`~meetbridge.providers.MeetingRef` and the new request.
    Returns: the meeting as it now is (join URL may be unchanged). Raises ``MeetingGone``
    when the provider no longer has it; the host then creates a new one.
    """


@hookspec(firstresult=True)
def delete_meeting(
    provider: str,
    context: ProviderContext,
    meeting: MeetingRef,
    credentials: Credentials,
) -> DeleteOutcome:
    """Delete a meeting at the provider.

    Fires: when a booking is cancelled, or its host changes, with the connection that created
    the meeting.
    Returns: ``DeleteOutcome.DELETED``, or ``DeleteOutcome.ALREADY_GONE`` when the provider
    says not found / gone (that counts as done; never raise for it). Raises
    ``WrongCredential`` when the provider says the credential does not own the meeting.
    """


@hookspec(firstresult=True)
def get_host_join_url(
    provider: str,
    context: ProviderContext,
    meeting: MeetingRef,
    credentials: Credentials,
) -> Secret:
    """Fetch a fresh link that starts the meeting as its host.

    Fires: when the host clicks "Join" on their booking page (Zoom start links expire after
    two hours, so the host never gets a stored one). Only for providers with the
    ``host_join_url`` capability. Returns a :class:`~meetbridge.providers.Secret`; the host
    redirects the host to it and never shows it to attendees.
    """


@hookspec(firstresult=True)
def disconnect(provider: str, context: ProviderContext, tokens: TokenSet) -> bool:
    """Revoke the grant at the provider, where it has an endpoint for that.

    Fires: when a person disconnects, after the host has already deleted the tokens from its
    database (so a failure here never keeps tokens).
    Returns: ``True`` when the provider confirmed the revocation, ``False`` when it could not
    be reached or has no revoke endpoint. Must not raise for network errors.
    """


@hookspec(firstresult=True)
def handle_webhook(
    provider: str,
    context: ProviderContext,
    headers: Mapping[str, str],
    body: bytes,
) -> WebhookResult:
    """Verify and interpret a request the provider sent to ``/webhooks/{provider}``.

    Fires: for every request to the provider's webhook endpoint, before anything else is done.
    Receives: the request headers (lower-case names) and the raw body bytes, exactly as
    received (signatures are computed over them).
    Returns: :class:`~meetbridge.providers.WebhookResult` with the status and body to answer
    and the verified events for the host to act on after answering. A forged, stale or
    replayed request returns a 4xx result with no events.
    """


@hookspec(firstresult=True)
def list_rooms(provider: str, context: ProviderContext, credentials: Credentials) -> list[Room]:
    """List the provider's meeting rooms (Zoom Rooms) visible to an account-level connection.

    Only for providers with the ``rooms`` capability.
    """


@hookspec(firstresult=True)
def preflight(
    provider: str,
    context: ProviderContext,
    account: ConnectedAccount | Any,
    duration_minutes: int | None,
) -> list[PreflightWarning]:
    """Check a connected account against what meetings will need.

    Fires: right after connecting, and when a meeting type is saved (with its duration).
    Receives: what is known of the account (``account_type``, ``is_admin``...) and the meeting
    duration in minutes, if any.
    Returns: a list of :class:`~meetbridge.providers.PreflightWarning`, empty when all is
    well (for example Zoom's Basic plan ending meetings after 40 minutes).
    """
