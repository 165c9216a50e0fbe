"""Everything the Microsoft sandbox remembers, in memory, with an injectable clock.

Seeded with three organisations' worth of people so every path can be clicked through:

============================  =====================================================
``adele@contoso.example``     work account, Contoso (users may consent; dial-in on)
``megan@contoso.example``     work account whose ``mail`` is null (UPN only)
``sam@outlook.example``       personal Microsoft account (consumer tenant)
``lee@fabrikam.example``      work account in Fabrikam, whose admin has not consented
``admin@fabrikam.example``    Fabrikam's administrator (can grant admin consent)
============================  =====================================================

and one registered app (:data:`DEFAULT_CLIENT_ID` / :data:`DEFAULT_CLIENT_SECRET`) whose
redirect URIs are meetbridge's defaults; :meth:`SandboxState.register_client` adds others.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from meetbridge_teams.sandbox.faults import Faults

PERSONAL_TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"
CONTOSO_TENANT_ID = "4f1c6a52-7d3e-4b8a-9c21-5e0d7f3a9b10"
FABRIKAM_TENANT_ID = "b7e2d9c4-1a6f-4e3b-8d05-2c9f6a4e7d31"
DEFAULT_CLIENT_ID = "6b0e1c7e-3f2a-4d59-a8e4-0c5d9b7f2a61"
DEFAULT_CLIENT_SECRET = "sandbox-teams-client-secret"
DEFAULT_REDIRECT_URIS = (
    "http://127.0.0.1:8000/connect/teams/callback",
    "http://localhost:8000/connect/teams/callback",
)
GRAPH_PREFIX = "https://graph.microsoft.com/"


@dataclass
class Tenant:
    id: str
    name: str
    domain: str
    user_consent_allowed: bool = True  # users may consent to low-risk delegated permissions
    consented_clients: set[str] = field(default_factory=set)  # admin consent, tenant-wide
    # How a missing admin consent shows: "redirect" (error on the callback) or "token"
    # (a code is issued and the token endpoint refuses it).
    consent_failure: str = "redirect"
    audio_conferencing: bool = False


@dataclass
class Account:
    id: str  # the Graph user id (object id for work accounts)
    tenant_id: str
    user_principal_name: str
    mail: str | None
    display_name: str
    personal: bool = False
    is_admin: bool = False


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    name: str = "meetbridge"


@dataclass
class AuthCode:
    code: str
    client_id: str
    account_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    code_challenge: str
    code_challenge_method: str
    expires_at: datetime
    tenant_path: str
    redeemed: bool = False


@dataclass
class IssuedToken:
    value: str
    account_id: str
    client_id: str
    scopes: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime
    revoked: bool = False


@dataclass
class OnlineMeeting:
    id: str
    owner_id: str
    client_id: str
    external_id: str | None
    subject: str
    start: datetime
    end: datetime
    created: datetime
    join_web_url: str
    join_meeting_id: str
    passcode: str
    thread_id: str
    lobby_scope: str = "organization"
    lobby_dial_in_bypass: bool = False
    conference_id: str = ""


@dataclass
class CalendarEvent:
    id: str
    owner_id: str
    body: dict[str, Any]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_jwt(claims: dict[str, Any], key: bytes) -> str:
    """An HS256 JWT (the sandbox signs with its own key; clients never verify it)."""
    header = _b64url(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


def normalise_scope(scope: str) -> str:
    """``https://graph.microsoft.com/User.Read`` -> ``User.Read``; case kept from the request."""
    return scope[len(GRAPH_PREFIX) :] if scope.lower().startswith(GRAPH_PREFIX) else scope


class SandboxState:
    """The sandbox's memory. Thread-safe enough for a test server: one lock around changes."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        seed: bool = True,
        monthly_meeting_limit: int = 2000,
        rate_limit_per_second: int | None = None,
    ) -> None:
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.lock = threading.RLock()
        self.tenants: dict[str, Tenant] = {}
        self.accounts: dict[str, Account] = {}
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, AuthCode] = {}
        self.access_tokens: dict[str, IssuedToken] = {}
        self.refresh_tokens: dict[str, IssuedToken] = {}
        self.user_consents: set[tuple[str, str]] = set()  # (account id, client id)
        self.meetings: dict[str, OnlineMeeting] = {}
        self.events: dict[str, CalendarEvent] = {}
        self.faults = Faults()
        # Lifetimes as Microsoft documents them: codes ~10 minutes, access tokens 60-90
        # minutes, refresh tokens 90 days (each refresh issues a new one).
        self.code_lifetime = timedelta(minutes=10)
        self.access_token_lifetime = timedelta(seconds=3599)
        self.refresh_token_lifetime = timedelta(days=90)
        self.monthly_meeting_limit = monthly_meeting_limit
        self.rate_limit_per_second = rate_limit_per_second
        self.signing_key = secrets.token_bytes(32)
        # Counters tests assert on.
        self.refresh_calls = 0
        self.token_calls = 0
        self.graph_calls = 0
        self.meetings_created = 0
        self._monthly: dict[tuple[str, str, str], int] = {}
        self._recent: dict[str, list[datetime]] = {}
        if seed:
            self._seed()

    # -- seeding -------------------------------------------------------------------------
    def _seed(self) -> None:
        self.add_tenant(
            Tenant(
                CONTOSO_TENANT_ID,
                "Contoso",
                "contoso.example",
                consented_clients={DEFAULT_CLIENT_ID},
                audio_conferencing=True,
            )
        )
        self.add_tenant(
            Tenant(FABRIKAM_TENANT_ID, "Fabrikam", "fabrikam.example", user_consent_allowed=False)
        )
        self.add_tenant(Tenant(PERSONAL_TENANT_ID, "Microsoft Accounts", "outlook.example"))
        self.add_account(
            Account(
                "a3c5e7f9-1b2d-4f6a-8c0e-2d4f6a8c0e11",
                CONTOSO_TENANT_ID,
                "adele@contoso.example",
                "adele@contoso.example",
                "Adele Vance",
            )
        )
        self.add_account(
            Account(
                "b4d6f8a0-2c3e-4a7b-9d1f-3e5a7b9d1f22",
                CONTOSO_TENANT_ID,
                "megan@contoso.example",
                None,
                "Megan Bowen",
            )
        )
        self.add_account(
            Account(
                "00037ffe8a3b1c2d",
                PERSONAL_TENANT_ID,
                "sam@outlook.example",
                None,
                "Sam Personal",
                personal=True,
            )
        )
        self.add_account(
            Account(
                "c5e7a9b1-3d4f-4b8c-0e2a-4f6b8c0e2a33",
                FABRIKAM_TENANT_ID,
                "lee@fabrikam.example",
                "lee@fabrikam.example",
                "Lee Gu",
            )
        )
        self.add_account(
            Account(
                "d6f8b0c2-4e5a-4c9d-1f3b-5a7c9d1f3b44",
                FABRIKAM_TENANT_ID,
                "admin@fabrikam.example",
                "admin@fabrikam.example",
                "Fabrikam Admin",
                is_admin=True,
            )
        )
        self.register_client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, list(DEFAULT_REDIRECT_URIS))

    def add_tenant(self, tenant: Tenant) -> Tenant:
        with self.lock:
            self.tenants[tenant.id] = tenant
        return tenant

    def add_account(self, account: Account) -> Account:
        """Add a person (their tenant must exist)."""
        if account.tenant_id not in self.tenants:
            raise ValueError(f"unknown tenant {account.tenant_id}")
        with self.lock:
            self.accounts[account.id] = account
        return account

    def register_client(
        self, client_id: str, client_secret: str, redirect_uris: list[str], name: str = "meetbridge"
    ) -> Client:
        """Register an app (an Entra app registration: id, secret value, redirect URIs)."""
        with self.lock:
            client = Client(client_id, client_secret, list(redirect_uris), name)
            self.clients[client_id] = client
        return client

    def account_by_login(self, login: str) -> Account | None:
        login = login.strip().lower()
        for account in self.accounts.values():
            if login in {account.id.lower(), account.user_principal_name.lower()}:
                return account
        return None

    # -- consent -------------------------------------------------------------------------
    def has_consent(self, account: Account, client_id: str) -> bool:
        tenant = self.tenants[account.tenant_id]
        personal = (account.id, client_id) in self.user_consents
        return client_id in tenant.consented_clients or personal

    def can_consent(self, account: Account, client_id: str) -> bool:
        """Whether this person may consent for themselves (or already has consent)."""
        tenant = self.tenants[account.tenant_id]
        return (
            self.has_consent(account, client_id)
            or account.personal
            or account.is_admin
            or tenant.user_consent_allowed
        )

    def grant_admin_consent(self, tenant_id: str, client_id: str) -> None:
        with self.lock:
            self.tenants[tenant_id].consented_clients.add(client_id)

    def remove_consent(self, account_id: str, client_id: str) -> None:
        """The person removed the app (My Apps / account.live.com): its refresh tokens die."""
        with self.lock:
            self.user_consents.discard((account_id, client_id))
            for token in self.refresh_tokens.values():
                if token.account_id == account_id and token.client_id == client_id:
                    token.revoked = True

    def revoke_grant(self, account_id: str, client_id: str | None = None) -> None:
        """Revoke sign-in sessions (password reset, admin action): every token of the person.

        Access tokens die too, as with continuous access evaluation, so the next Graph call
        fails at once and the refresh that follows gets ``invalid_grant``.
        """
        with self.lock:
            for token in [*self.refresh_tokens.values(), *self.access_tokens.values()]:
                if token.account_id == account_id and client_id in (None, token.client_id):
                    token.revoked = True

    # -- codes and tokens ----------------------------------------------------------------
    def issue_code(self, **kwargs: Any) -> AuthCode:
        with self.lock:
            code = AuthCode(
                code="0.A" + secrets.token_urlsafe(48),
                expires_at=self.clock() + self.code_lifetime,
                **kwargs,
            )
            self.codes[code.code] = code
        return code

    def issue_tokens(
        self, account: Account, client_id: str, scopes: tuple[str, ...], *, tenant_path: str
    ) -> dict[str, Any]:
        """A token response body, as Microsoft's token endpoint returns it."""
        now = self.clock()
        graph_scopes = tuple(
            s for s in scopes if s.lower() not in {"openid", "profile", "email", "offline_access"}
        )
        if account.personal:
            # Graph access tokens of personal accounts are opaque, not JWTs.
            access = "EwB" + secrets.token_urlsafe(96)
        else:
            access = mint_jwt(
                {
                    "aud": "00000003-0000-0000-c000-000000000000",
                    "iss": f"https://sts.windows.net/{account.tenant_id}/",
                    "iat": int(now.timestamp()),
                    "nbf": int(now.timestamp()),
                    "exp": int((now + self.access_token_lifetime).timestamp()),
                    "tid": account.tenant_id,
                    "oid": account.id,
                    "upn": account.user_principal_name,
                    "scp": " ".join(graph_scopes),
                    "appid": client_id,
                    "uti": secrets.token_urlsafe(8),
                },
                self.signing_key,
            )
        with self.lock:
            self.access_tokens[access] = IssuedToken(
                access, account.id, client_id, graph_scopes, now, now + self.access_token_lifetime
            )
            body: dict[str, Any] = {
                "token_type": "Bearer",
                "scope": " ".join(s for s in scopes if s.lower() not in {"offline_access"}),
                "expires_in": int(self.access_token_lifetime.total_seconds()),
                "ext_expires_in": int(self.access_token_lifetime.total_seconds()),
                "access_token": access,
            }
            if any(s.lower() == "offline_access" for s in scopes):
                refresh = "1.A" + secrets.token_urlsafe(96)
                self.refresh_tokens[refresh] = IssuedToken(
                    refresh, account.id, client_id, scopes, now, now + self.refresh_token_lifetime
                )
                body["refresh_token"] = refresh
            if any(s.lower() == "openid" for s in scopes):
                body["id_token"] = mint_jwt(
                    {
                        "aud": client_id,
                        "iss": f"https://login.microsoftonline.com/{account.tenant_id}/v2.0",
                        "iat": int(now.timestamp()),
                        "nbf": int(now.timestamp()),
                        "exp": int((now + timedelta(hours=1)).timestamp()),
                        "name": account.display_name,
                        "oid": account.id,
                        "preferred_username": account.user_principal_name,
                        "sub": hashlib.sha256(f"{account.id}{client_id}".encode()).hexdigest()[:43],
                        "tid": account.tenant_id,
                        "ver": "2.0",
                    },
                    self.signing_key,
                )
        return body

    def valid_access_token(self, value: str) -> IssuedToken | None:
        token = self.access_tokens.get(value)
        if token is None or token.revoked or token.expires_at <= self.clock():
            return None
        return token

    # -- meetings ------------------------------------------------------------------------
    def new_meeting(
        self,
        owner: Account,
        client_id: str,
        *,
        subject: str,
        start: datetime,
        end: datetime,
        external_id: str | None,
        base_url: str,
    ) -> OnlineMeeting:
        thread = f"19:meeting_{_b64url(secrets.token_bytes(24))}@thread.v2"
        raw = f"1*{owner.id}*0**{thread}".encode()
        meeting_id = base64.b64encode(raw).decode().rstrip("=")
        context = json.dumps({"Tid": owner.tenant_id, "Oid": owner.id}, separators=(",", ":"))
        join = (
            f"{base_url}/l/meetup-join/{quote(thread, safe='')}/0?context={quote(context, safe='')}"
        )
        tenant = self.tenants[owner.tenant_id]
        meeting = OnlineMeeting(
            id=meeting_id,
            owner_id=owner.id,
            client_id=client_id,
            external_id=external_id,
            subject=subject,
            start=start,
            end=end,
            created=self.clock(),
            join_web_url=join,
            join_meeting_id=str(secrets.randbelow(9 * 10**11) + 10**11),
            passcode=secrets.token_urlsafe(5)[:6],
            thread_id=thread,
            conference_id=str(secrets.randbelow(9 * 10**8) + 10**8)
            if tenant.audio_conferencing
            else "",
        )
        with self.lock:
            self.meetings[meeting.id] = meeting
            key = (owner.id, client_id, self.clock().strftime("%Y-%m"))
            self._monthly[key] = self._monthly.get(key, 0) + 1
            self.meetings_created += 1
        return meeting

    def monthly_count(self, owner_id: str, client_id: str) -> int:
        return self._monthly.get((owner_id, client_id, self.clock().strftime("%Y-%m")), 0)

    def set_monthly_count(self, owner_id: str, client_id: str, count: int) -> None:
        """Pretend ``count`` meetings were already created this month (to reach the limit)."""
        with self.lock:
            self._monthly[(owner_id, client_id, self.clock().strftime("%Y-%m"))] = count

    def seconds_to_next_month(self) -> int:
        now = self.clock().astimezone(UTC)
        year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
        return max(1, int((datetime(year, month, 1, tzinfo=UTC) - now).total_seconds()))

    def over_qps(self, account_id: str) -> bool:
        """Count a request against the per-user per-second limit; True when over it."""
        if not self.rate_limit_per_second:
            return False
        now = self.clock()
        with self.lock:
            recent = [t for t in self._recent.get(account_id, []) if now - t < timedelta(seconds=1)]
            recent.append(now)
            self._recent[account_id] = recent
            return len(recent) > self.rate_limit_per_second

    def meetings_of(self, owner_id: str) -> list[OnlineMeeting]:
        return [m for m in self.meetings.values() if m.owner_id == owner_id]

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())
