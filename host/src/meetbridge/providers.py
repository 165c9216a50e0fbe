"""Public types that conferencing plugins use.

Everything a provider plugin receives from the host or hands back to it is defined here, so a
plugin author imports from one module: ``from meetbridge.providers import ...``. The types are
plain frozen dataclasses; they carry no database or HTTP state.

Secrets (tokens, host start links) are wrapped in :class:`Secret` so that an accidental
``repr()``, log line or traceback shows ``Secret('***')`` instead of the value.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = [
    "AccountLevelNotAllowed",
    "AuthKind",
    "Capability",
    "ConnectFailed",
    "ConnectStart",
    "ConnectedAccount",
    "Credentials",
    "DailyLimitReached",
    "DeleteOutcome",
    "GrantRevoked",
    "InsufficientScope",
    "Meeting",
    "MeetingGone",
    "MeetingRef",
    "MeetingRequest",
    "NotAvailableYet",
    "PreflightWarning",
    "ProviderContext",
    "ProviderError",
    "ProviderInfo",
    "ProviderUnavailable",
    "RateLimited",
    "Room",
    "Secret",
    "TokenSet",
    "UnsupportedAccount",
    "WebhookEvent",
    "WebhookResult",
    "WrongCredential",
]


class Secret:
    """A string that never shows itself in ``repr``/``str``; call :meth:`reveal` to use it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


class AuthKind(enum.StrEnum):
    """How a provider gets its right to act for a person or an organisation."""

    OAUTH2 = "oauth2"
    NONE = "none"  # e.g. Jitsi: no account, rooms are unguessable URLs


class Capability(enum.StrEnum):
    """What a provider can do beyond creating, updating and deleting meetings.

    The host reads these instead of assuming every provider is shaped like Zoom: a provider
    without ``CONNECT`` needs no connection at all, one without ``REFRESH`` never gets the
    refresh hook called, and so on.
    """

    CONNECT = "connect"  # has an account connection step (OAuth)
    ACCOUNT_LEVEL = "account_level"  # an admin can connect once for the whole organisation
    REFRESH = "refresh"  # access tokens expire and can be refreshed
    REVOKE = "revoke"  # disconnect can revoke the grant at the provider
    WEBHOOKS = "webhooks"  # the provider calls us (e.g. Zoom's app_deauthorized)
    ROOMS = "rooms"  # meeting rooms can be listed (Zoom Rooms)
    PREFLIGHT = "preflight"  # the connected account can be checked for plan/account limits
    HOST_JOIN_URL = "host_join_url"  # a fresh host start link can be fetched
    PASSCODE = "passcode"  # meetings carry a passcode
    DIAL_IN = "dial_in"  # meetings carry phone dial-in details
    IDEMPOTENT_CREATE = "idempotent_create"  # a retried create never makes a second meeting


@dataclass(frozen=True)
class ProviderInfo:
    """A provider's description of itself, returned by the ``describe_provider`` hook.

    ``name`` is the stable identifier stored in the database and used in meeting type
    locations (``"zoom"``); ``label`` is what people read (``"Zoom"``). ``endpoints`` holds the
    provider's real URLs by key (``authorize_url``, ``token_url``, ``revoke_url``,
    ``api_base_url``, ``userinfo_url``); operators override any of them in settings, which is
    how the same code talks to the real provider, its sandbox or a test double.
    """

    name: str
    label: str
    auth_kind: AuthKind
    capabilities: frozenset[Capability] = frozenset()
    scopes: tuple[str, ...] = ()
    account_level_scopes: tuple[str, ...] = ()
    endpoints: Mapping[str, str] = field(default_factory=dict)
    docs_url: str = ""
    sandbox_app: str = ""  # "module:attribute" of an ASGI app emulating the provider, if any

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities


@dataclass(frozen=True)
class TokenSet:
    """OAuth tokens as the provider issued them. ``expires_at`` is an aware UTC instant."""

    access_token: Secret
    refresh_token: Secret | None = None
    expires_at: datetime | None = None
    scope: tuple[str, ...] = ()
    token_type: str = "bearer"
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. Zoom's api_url

    def expires_within(self, margin: timedelta, now: datetime | None = None) -> bool:
        """True when the access token is expired or will be within ``margin``."""
        if self.expires_at is None:
            return False
        now = now or datetime.now(UTC)
        return self.expires_at - margin <= now

    @classmethod
    def from_oauth_response(
        cls,
        body: Mapping[str, Any],
        now: datetime | None = None,
        *,
        previous: TokenSet | None = None,
    ) -> TokenSet:
        """Build from a standard OAuth token response.

        When a refresh response omits the refresh token (Google does not rotate them), the
        previous one is kept; when it carries one (Zoom, Microsoft), the new one replaces it.
        """
        now = now or datetime.now(UTC)
        expires_in = body.get("expires_in")
        refresh = body.get("refresh_token")
        scope_raw = body.get("scope") or ""
        scope = tuple(s for s in str(scope_raw).replace(",", " ").split() if s)
        if not scope and previous is not None:
            scope = previous.scope
        known = {"access_token", "refresh_token", "expires_in", "scope", "token_type", "id_token"}
        return cls(
            access_token=Secret(str(body["access_token"])),
            refresh_token=Secret(str(refresh))
            if refresh
            else (previous.refresh_token if previous else None),
            expires_at=now + timedelta(seconds=int(expires_in)) if expires_in is not None else None,
            scope=scope,
            token_type=str(body.get("token_type", "bearer")).lower(),
            extra={k: v for k, v in body.items() if k not in known},
        )


@dataclass(frozen=True)
class ConnectStart:
    """Where to send the person to grant access, returned by ``authorization_url``."""

    url: str


@dataclass(frozen=True)
class ConnectedAccount:
    """What a successful ``connect`` learned: the tokens and who they belong to."""

    tokens: TokenSet
    external_account_id: str  # the provider's user id (Zoom user id, Google sub, Graph id)
    email: str
    account_type: str = ""  # e.g. Zoom "basic"/"licensed", Microsoft "work"
    organization_id: str = ""  # Zoom account_id, Microsoft tenant id
    is_admin: bool = False
    display_name: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MeetingRequest:
    """What the host asks a provider to schedule, for one booking.

    ``start`` is an aware UTC instant; ``timezone`` is the IANA zone the meeting should be
    shown in at the provider (the organisation's). ``idempotency_key`` is stable for the
    booking (across retries and reschedules): providers that can key a create on it must, and
    others use it to find a meeting they may already have made. ``host_user`` names the
    member a meeting is made for when an account-level (admin) connection is used.
    """

    idempotency_key: str
    topic: str
    start: datetime
    duration_minutes: int
    timezone: str
    agenda: str = ""
    attendees: tuple[str, ...] = ()
    host_user: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    attempt: int = 1
    previous_attempt_ambiguous: bool = False

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("MeetingRequest.start must be an aware datetime (UTC)")
        if self.duration_minutes <= 0:
            raise ValueError("MeetingRequest.duration_minutes must be positive")

    @property
    def start_utc(self) -> datetime:
        return self.start.astimezone(UTC)

    @property
    def end_utc(self) -> datetime:
        return self.start_utc + timedelta(minutes=self.duration_minutes)


@dataclass(frozen=True)
class Meeting:
    """A meeting as it exists at the provider."""

    external_id: str  # always a string: Zoom ids are 64-bit integers
    join_url: str
    host_start_url: Secret | None = None
    passcode: str = ""
    dial_in: tuple[str, ...] = ()
    status: Literal["provisioned", "pending"] = "provisioned"
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. Zoom uuid, host_id


@dataclass(frozen=True)
class MeetingRef:
    """The host's record of a meeting the provider made earlier."""

    external_id: str
    join_url: str = ""
    host_user: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


class DeleteOutcome(enum.StrEnum):
    DELETED = "deleted"
    ALREADY_GONE = "already_gone"  # 404/410 at the provider: counts as done


@dataclass(frozen=True)
class PreflightWarning:
    code: str  # stable, e.g. "zoom_basic_40_minutes"
    message: str  # what a person reads, including what to do


@dataclass(frozen=True)
class Room:
    external_id: str
    name: str
    status: str = ""


@dataclass(frozen=True)
class WebhookEvent:
    """Something a provider told us, already verified and parsed by the plugin.

    ``kind`` values the host acts on: ``"deauthorized"`` (delete the user's tokens and data),
    ``"meeting_deleted"``, ``"meeting_updated"``.
    """

    kind: str
    external_account_id: str = ""
    organization_id: str = ""
    meeting_external_id: str = ""
    occurred_at: datetime | None = None
    dedupe_key: str = ""  # the host ignores an event whose key it has already handled
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookResult:
    """The answer to send the provider and the events to act on after answering."""

    status_code: int
    body: Mapping[str, Any] | None = None
    events: tuple[WebhookEvent, ...] = ()
    # Identifies this delivery (e.g. Zoom's timestamp + signature). The host stores it and
    # rejects a second request carrying the same key as a replay, across processes.
    replay_key: str = ""


@runtime_checkable
class Credentials(Protocol):
    """The host's handle on a connection's tokens, given to operation hooks.

    The host owns storage, encryption and the refresh lock; the plugin only asks. Call
    :meth:`access_token` before each request (it refreshes a minute before expiry, serialised
    per connection), and :meth:`refreshed_access_token` once when the provider says the token
    is invalid (it refreshes unless another task already did).
    """

    connection_id: int | None
    external_account_id: str
    email: str

    async def access_token(self) -> str: ...

    async def refreshed_access_token(self, rejected: str) -> str: ...


@dataclass
class ProviderContext:
    """What the host lends a plugin for one call.

    ``settings`` is the provider's settings section (client id, secret, endpoints merged over
    :attr:`ProviderInfo.endpoints`, webhook secret, options). ``http`` is a shared
    ``httpx.AsyncClient`` (pooled connections; set your own timeouts per request if needed).
    ``clock`` returns the current aware UTC time and is replaced in tests.
    """

    settings: Any
    http: Any
    clock: Any = field(default=lambda: datetime.now(UTC))
    organization_timezone: str = "America/New_York"

    def endpoint(self, key: str) -> str:
        return self.settings.endpoint(key)


# ---------------------------------------------------------------------------------------------
# Errors. Plugins raise these so the host can decide without knowing the provider: retry later,
# ask the person to reconnect, fall back to another provider, or report a configuration fault.
# ---------------------------------------------------------------------------------------------


class ProviderError(Exception):
    """Base of every error a provider plugin raises on purpose.

    ``retryable`` tells the host whether trying again later can help; ``retry_after`` (seconds)
    is the provider's own hint. ``provider_code`` keeps the provider's code/reason for logs
    and the booking's explanation; it must never contain a token.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        provider_code: str = "",
        retry_after: float | None = None,
        ambiguous: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.provider_code = provider_code
        self.retry_after = retry_after
        # True when the request may have been carried out although no answer came back
        # (timeout or reset after sending): a retry must look for the result first.
        self.ambiguous = ambiguous

    def __str__(self) -> str:
        return self.message


class ProviderUnavailable(ProviderError):
    """5xx, timeouts, resets: try again later."""

    retryable = True


class RateLimited(ProviderError):
    """The provider throttled us (QPS). ``retry_after`` says when to try again."""

    retryable = True


class DailyLimitReached(RateLimited):
    """A per-user daily cap (Zoom: 100 create/update per host per day, reset 00:00 UTC)."""

    def __init__(self, message: str, *, resets_at: datetime, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.resets_at = resets_at


class GrantRevoked(ProviderError):
    """The grant is dead (revoked, expired, rotated away): the person must reconnect."""


class InsufficientScope(ProviderError):
    """The grant lacks a scope the operation needs; the message says which and how to fix it."""


class WrongCredential(ProviderError):
    """The meeting belongs to another account than the credential used (Zoom 3003)."""


class MeetingGone(ProviderError):
    """The meeting no longer exists at the provider (on update: create a new one instead)."""


class UnsupportedAccount(ProviderError):
    """The account cannot host meetings (personal Microsoft account, wrong plan...)."""


class AccountLevelNotAllowed(ProviderError):
    """An account-level connection was attempted by someone who is not an admin there."""


class ConnectFailed(ProviderError):
    """The connect step failed (access denied, bad code, redirect mismatch...)."""


class NotAvailableYet(ProviderError):
    """The plugin does not implement this operation (yet); the message names what to use."""
