"""Everything the Google sandbox remembers, in memory.

Accounts and OAuth clients are seeded with sensible defaults; tests and ``meetbridge serve
--sandbox`` add more. Time comes from an injectable ``clock`` so token expiry, code expiry
and rate-limit windows can be driven by tests without sleeping.
"""

from __future__ import annotations

import secrets
import string
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from meetbridge_google_meet.sandbox.faults import Faults

Clock = Callable[[], datetime]

ACCESS_TOKEN_LIFETIME = timedelta(seconds=3599)
# Google does not document an exact lifetime for authorization codes; they are short-lived.
CODE_LIFETIME = timedelta(minutes=10)
CONSENT_SCREEN_LIFETIME = timedelta(minutes=30)
# Refresh tokens of apps whose consent screen is in "testing" mode die after 7 days; any
# refresh token unused for six months dies too.
TESTING_MODE_REFRESH_LIFETIME = timedelta(days=7)
UNUSED_REFRESH_LIFETIME = timedelta(days=183)
# Google keeps at most 100 live refresh tokens per account and OAuth client; a new one
# silently invalidates the oldest.
MAX_REFRESH_TOKENS_PER_GRANT = 100

IDENTITY_SCOPES = frozenset(
    {
        "openid",
        "https://www.googleapis.com/auth/userinfo.email",
        "https://www.googleapis.com/auth/userinfo.profile",
    }
)
SCOPE_ALIASES = {
    "email": "https://www.googleapis.com/auth/userinfo.email",
    "profile": "https://www.googleapis.com/auth/userinfo.profile",
}
KNOWN_SCOPES = IDENTITY_SCOPES | {
    "https://www.googleapis.com/auth/calendar",
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.events.readonly",
    "https://www.googleapis.com/auth/calendar.events.owned",
    "https://www.googleapis.com/auth/calendar.app.created",
}
# What the consent screen says for each scope a person can untick.
SCOPE_DESCRIPTIONS = {
    "https://www.googleapis.com/auth/calendar": "See, edit, share, and permanently delete all"
    " the calendars you can access using Google Calendar",
    "https://www.googleapis.com/auth/calendar.readonly": "See and download any calendar you can"
    " access using your Google Calendar",
    "https://www.googleapis.com/auth/calendar.events": "View and edit events on all your calendars",
    "https://www.googleapis.com/auth/calendar.events.readonly": "View events on all your calendars",
    "https://www.googleapis.com/auth/calendar.events.owned": "See, create, change, and delete"
    " events on Google calendars you own",
    "https://www.googleapis.com/auth/calendar.app.created": "Make secondary Google calendars,"
    " and see, create, change, and delete events on them",
}
CALENDAR_WRITE_SCOPES = frozenset(
    {
        "https://www.googleapis.com/auth/calendar",
        "https://www.googleapis.com/auth/calendar.events",
        "https://www.googleapis.com/auth/calendar.events.owned",
    }
)

SANDBOX_CLIENT_ID = "meetbridge-sandbox.apps.googleusercontent.com"
SANDBOX_CLIENT_SECRET = "GOCSPX-meetbridge-sandbox-secret"
DEFAULT_REDIRECT_URIS = (
    "http://127.0.0.1:8000/connect/google_meet/callback",
    "http://localhost:8000/connect/google_meet/callback",
)


def normalise_scope(scope: str) -> str:
    return SCOPE_ALIASES.get(scope, scope)


def _random_sub() -> str:
    # Google account ids are 21-digit decimal strings.
    return "1" + "".join(secrets.choice(string.digits) for _ in range(20))


@dataclass
class Account:
    """A Google account that can sign in on the consent screen."""

    email: str
    sub: str = field(default_factory=_random_sub)
    name: str = ""
    hosted_domain: str = ""  # set for Google Workspace accounts (userinfo ``hd``)
    timezone: str = "America/New_York"
    dial_in: bool = True  # Meet conferences get phone entry points
    meet_enabled: bool = True  # False: conference creation fails (admin turned Meet off)


@dataclass
class OAuthClient:
    """An OAuth client registered in a Google Cloud project."""

    client_id: str
    client_secret: str
    redirect_uris: set[str]
    name: str = "meetbridge"
    publishing_status: str = "production"  # or "testing": refresh tokens live 7 days


@dataclass
class PendingConsent:
    """A consent screen shown and not answered yet."""

    id: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    code_challenge: str | None
    code_challenge_method: str
    access_type: str
    prompt: frozenset[str]
    include_granted_scopes: bool
    login_hint: str
    expires_at: datetime


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    sub: str
    scopes: frozenset[str]
    code_challenge: str | None
    code_challenge_method: str
    issue_refresh_token: bool
    expires_at: datetime
    used: bool = False


@dataclass
class Grant:
    """What one account has granted one OAuth client (revoking it kills all its tokens)."""

    client_id: str
    sub: str
    scopes: set[str]
    created_at: datetime


@dataclass
class RefreshToken:
    token: str
    client_id: str
    sub: str
    scopes: frozenset[str]
    issued_at: datetime
    last_used_at: datetime


@dataclass
class AccessToken:
    token: str
    client_id: str
    sub: str
    scopes: frozenset[str]
    expires_at: datetime


@dataclass
class Conference:
    """A Meet conference being made for an event (``pending`` until enough reads)."""

    request_id: str
    meeting_code: str
    outcome: str  # "success" or "failure"
    reads_until_done: int
    dial_in: bool
    pin: str

    @property
    def status(self) -> str:
        return "pending" if self.reads_until_done > 0 else self.outcome


@dataclass
class StoredEvent:
    """An event on an account's primary calendar."""

    sub: str
    id: str
    start: datetime
    end: datetime
    start_zone: str
    end_zone: str
    fields: dict[str, Any]  # summary, description, attendees, extendedProperties, ...
    created: datetime
    updated: datetime
    sequence: int = 0
    deleted: bool = False
    conference: Conference | None = None


@dataclass
class Notification:
    """An email Google would have sent (``sendUpdates`` other than ``none``)."""

    sub: str
    event_id: str
    action: str  # "invitation", "update", "cancellation"
    recipients: tuple[str, ...]


@dataclass
class RecordedRequest:
    """An API or OAuth request as the sandbox received it (no headers: they hold tokens)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class Limits:
    """Configurable Calendar API throttling, per account, over a sliding minute."""

    per_user_per_minute: int | None = None
    status_code: int = 403  # Google answers throttling with 403 or 429
    _windows: dict[str, deque[datetime]] = field(default_factory=dict)

    def allow(self, sub: str, now: datetime) -> bool:
        if self.per_user_per_minute is None:
            return True
        window = self._windows.setdefault(sub, deque())
        while window and now - window[0] >= timedelta(minutes=1):
            window.popleft()
        if len(window) >= self.per_user_per_minute:
            return False
        window.append(now)
        return True


class ManualClock:
    """A clock tests move by hand: ``clock.advance(seconds=3600)``."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 2, 15, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class SandboxState:
    """The sandbox's memory: accounts, clients, grants, tokens, events, counters, faults."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        seed_defaults: bool = True,
        redirect_uris: Iterable[str] = DEFAULT_REDIRECT_URIS,
    ) -> None:
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.accounts: dict[str, Account] = {}  # by sub
        self.clients: dict[str, OAuthClient] = {}
        self.pending: dict[str, PendingConsent] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.grants: dict[tuple[str, str], Grant] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.events: dict[tuple[str, str], StoredEvent] = {}
        self.notifications: list[Notification] = []
        self.requests: list[RecordedRequest] = []
        self.counters: Counter[str] = Counter()
        self.faults = Faults()
        self.limits = Limits()
        # Conference creation: how many reads after the insert still show "pending" before
        # the outcome appears (0: the insert answer already has the link), and the outcome.
        self.conference_pending_reads = 0
        self.conference_outcome = "success"
        if seed_defaults:
            self.add_client(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, redirect_uris)
            self.add_account(
                "alice@example.com",
                name="Alice Adams",
                hosted_domain="example.com",
                sub="110248495921238986420",
            )
            self.add_account(
                "bob@example.com",
                name="Bob Brown",
                hosted_domain="example.com",
                sub="109876543210987654321",
            )
            self.add_account(
                "carol.personal@gmail.com",
                name="Carol Clark",
                dial_in=False,
                sub="104455667788990011223",
            )

    # -- setup ---------------------------------------------------------------------------------
    def add_account(self, email: str, **details: Any) -> Account:
        """Add (or return the existing) Google account with this email."""
        existing = self.account_by_email(email)
        if existing is not None:
            return existing
        account = Account(email=email, **details)
        self.accounts[account.sub] = account
        return account

    def add_client(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: Iterable[str],
        *,
        publishing_status: str = "production",
        name: str = "meetbridge",
    ) -> OAuthClient:
        client = OAuthClient(client_id, client_secret, set(redirect_uris), name, publishing_status)
        self.clients[client_id] = client
        return client

    def account_by_email(self, email: str) -> Account | None:
        email = email.strip().lower()
        return next((a for a in self.accounts.values() if a.email.lower() == email), None)

    # -- tokens ----------------------------------------------------------------------------------
    def issue_access_token(self, client_id: str, sub: str, scopes: frozenset[str]) -> AccessToken:
        token = AccessToken(
            "ya29.sbx-" + secrets.token_urlsafe(32),
            client_id,
            sub,
            scopes,
            self.clock() + ACCESS_TOKEN_LIFETIME,
        )
        self.access_tokens[token.token] = token
        return token

    def issue_refresh_token(self, client_id: str, sub: str, scopes: frozenset[str]) -> RefreshToken:
        now = self.clock()
        token = RefreshToken(
            "1//0sbx-" + secrets.token_urlsafe(40), client_id, sub, scopes, now, now
        )
        same_grant = sorted(
            (t for t in self.refresh_tokens.values() if (t.client_id, t.sub) == (client_id, sub)),
            key=lambda t: t.issued_at,
        )
        for old in same_grant[: max(0, len(same_grant) - MAX_REFRESH_TOKENS_PER_GRANT + 1)]:
            del self.refresh_tokens[old.token]
        self.refresh_tokens[token.token] = token
        return token

    def revoke_grant(self, client_id: str, sub: str) -> None:
        """Kill the grant and every access and refresh token issued under it."""
        self.grants.pop((client_id, sub), None)
        for store in (self.refresh_tokens, self.access_tokens):
            for key in [k for k, t in store.items() if (t.client_id, t.sub) == (client_id, sub)]:
                del store[key]

    def revoke_token_grant(self, token: str) -> bool:
        """Revoke the grant a token (access or refresh) belongs to; False if unknown."""
        found = self.refresh_tokens.get(token) or self.access_tokens.get(token)
        if found is None:
            return False
        self.revoke_grant(found.client_id, found.sub)
        return True

    def live_access_token(self, token: str) -> AccessToken | None:
        found = self.access_tokens.get(token)
        if found is None or found.expires_at <= self.clock():
            return None
        return found

    # -- inspection helpers for tests and the demo ----------------------------------------------
    @property
    def refresh_calls(self) -> int:
        return self.counters["token.refresh_token"]

    def live_events(self, sub: str | None = None) -> list[StoredEvent]:
        return [e for e in self.events.values() if not e.deleted and (sub is None or e.sub == sub)]
