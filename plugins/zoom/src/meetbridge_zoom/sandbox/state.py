"""Everything the Zoom sandbox knows, in memory: accounts, users, apps, grants, meetings.

One :class:`SandboxState` backs one sandbox app. Tests build it, seed or inspect it, move its
clock, and arm faults; the HTTP side (``oauth.py``, ``api.py``) reads and changes it. The
server runs in its own thread, so changes go through one lock.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from meetbridge_zoom.info import ADMIN_SCOPES, USER_SCOPES
from meetbridge_zoom.sandbox.faults import Faults
from meetbridge_zoom.sandbox.world import (
    AuthCode,
    Grant,
    IssuedToken,
    OAuthApp,
    SandboxAccount,
    SandboxUser,
    granted_scopes,
)
from meetbridge_zoom.webhooks import sign

ACCESS_TOKEN_SECONDS = 3599
CODE_SECONDS = 300
REFRESH_TOKEN_DAYS = 90
DEFAULT_DAILY_CAP = 100

DEFAULT_CLIENT_ID = "sandbox-zoom-client"
DEFAULT_CLIENT_SECRET = "sandbox-zoom-secret"
DEFAULT_ADMIN_CLIENT_ID = "sandbox-zoom-admin-client"
DEFAULT_ADMIN_CLIENT_SECRET = "sandbox-zoom-admin-secret"
DEFAULT_WEBHOOK_SECRET = "sandbox-zoom-webhook-secret"
DEFAULT_REDIRECT_URIS = (
    "http://127.0.0.1:8000/connect/zoom/callback",
    "http://localhost:8000/connect/zoom/callback",
)

# Requests per second per account by plan, as Zoom publishes them.
PLAN_QPS: dict[str, dict[str, int]] = {
    "free": {"medium": 2, "light": 4},
    "pro": {"medium": 20, "light": 30},
    "business": {"medium": 60, "light": 80},
}


class SandboxState:
    """The sandbox's world. ``clock`` returns aware UTC time and may be replaced in tests."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        redirect_uris: Iterable[str] = DEFAULT_REDIRECT_URIS,
        seed: bool = True,
    ) -> None:
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.monotonic: Callable[[], float] = time.monotonic  # QPS windows: real sub-seconds
        self.lock = threading.RLock()
        self.faults = Faults()
        self.webhook_secret = DEFAULT_WEBHOOK_SECRET
        self.hang_seconds = 2.0  # how long "timeout_after_acting" holds the answer back
        self.daily_cap = DEFAULT_DAILY_CAP
        self.qps_enabled = True
        self.plan_qps = {plan: dict(limits) for plan, limits in PLAN_QPS.items()}
        self.accounts: dict[str, SandboxAccount] = {}
        self.users: dict[str, SandboxUser] = {}
        self.apps: dict[str, OAuthApp] = {}
        self.codes: dict[str, AuthCode] = {}
        self.grants: dict[int, Grant] = {}
        self.tokens: dict[str, IssuedToken] = {}
        self.meetings: dict[int, dict[str, Any]] = {}
        self.start_links: dict[str, tuple[int, datetime]] = {}  # zak -> (meeting id, issued)
        self.page_tokens: dict[str, int] = {}
        self.daily_counts: Counter[tuple[str, str]] = Counter()  # (user id, UTC date)
        self.qps_windows: dict[tuple[str, str], deque[float]] = {}
        self.requests: list[tuple[str, str]] = []
        self.refresh_calls = 0
        self.token_calls = 0
        self.revoke_calls = 0
        self.rate_limited = 0
        self._grant_ids = itertools.count(1)
        self._meeting_ids = itertools.count(85_123_456_789)  # > 2**32: ids are 64-bit
        if seed:
            self._seed(tuple(redirect_uris))

    # -- seeding --------------------------------------------------------------------------------
    def _seed(self, redirect_uris: tuple[str, ...]) -> None:
        acme = self.add_account("SbxAcct1Q2uLZwqf0wM0bA", "Acme Tutoring", plan="pro")
        acme.rooms.extend(
            [
                {"id": "RmBoardroom0000000001", "name": "Boardroom", "status": "Available"},
                {"id": "RmHuddle000000000002", "name": "Huddle Room", "status": "Offline"},
            ]
        )
        self.add_user(
            "Adm1nAdaQgePTO8WbOqwIQ",
            "ada.admin@example.com",
            "Ada",
            "Admin",
            acme.id,
            type=2,
            role_name="Admin",
            role_id="1",
        )
        self.add_user(
            "L1censedLenaTO8WbOqwIQ",
            "lena.licensed@example.com",
            "Lena",
            "Licensed",
            acme.id,
            type=2,
        )
        self.add_user(
            "Bas1cBoQgePTO8WbOqwIQx", "bo.basic@example.com", "Bo", "Basic", acme.id, type=1
        )
        solo = self.add_account("SbxAcct2FreeSoloAcct00", "Fay's free account", plan="free")
        self.add_user(
            "FreeFayQgePTO8WbOqwIQx",
            "fay.free@example.com",
            "Fay",
            "Free",
            solo.id,
            type=1,
            role_name="Owner",
            role_id="0",
        )
        self.register_app(
            DEFAULT_CLIENT_ID,
            DEFAULT_CLIENT_SECRET,
            redirect_uris,
            scopes=USER_SCOPES,
            managed="user",
        )
        self.register_app(
            DEFAULT_ADMIN_CLIENT_ID,
            DEFAULT_ADMIN_CLIENT_SECRET,
            redirect_uris,
            scopes=ADMIN_SCOPES,
            managed="admin",
        )

    def add_account(self, account_id: str, name: str, *, plan: str = "pro") -> SandboxAccount:
        with self.lock:
            account = self.accounts[account_id] = SandboxAccount(account_id, name, plan)
            return account

    def add_user(
        self,
        user_id: str,
        email: str,
        first_name: str,
        last_name: str,
        account_id: str,
        **fields: Any,
    ) -> SandboxUser:
        with self.lock:
            user = SandboxUser(user_id, email.lower(), first_name, last_name, account_id, **fields)
            self.users[user_id] = user
            return user

    def register_app(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: Iterable[str],
        *,
        scopes: Iterable[str] = USER_SCOPES,
        managed: str = "user",
    ) -> OAuthApp:
        """Register an OAuth app, as a developer does on the Zoom App Marketplace."""
        with self.lock:
            app = OAuthApp(client_id, client_secret, tuple(redirect_uris), tuple(scopes), managed)
            self.apps[client_id] = app
            return app

    def user(self, ident: str, account_id: str | None = None) -> SandboxUser | None:
        """A user by id or email, optionally only within ``account_id``."""
        ident = ident.lower()
        for user in self.users.values():
            if (user.id.lower() == ident or user.email == ident) and (
                account_id is None or user.account_id == account_id
            ):
                return user
        return None

    # -- OAuth ----------------------------------------------------------------------------------
    def issue_code(
        self,
        app: OAuthApp,
        user: SandboxUser,
        redirect_uri: str,
        code_challenge: str,
        code_challenge_method: str,
    ) -> AuthCode:
        with self.lock:
            code = AuthCode(
                secrets.token_urlsafe(24),
                app.client_id,
                user.id,
                redirect_uri,
                code_challenge,
                code_challenge_method,
                self.clock(),
                granted_scopes(app, user),
            )
            self.codes[code.code] = code
            return code

    def code_expired(self, code: AuthCode) -> bool:
        return self.clock() - code.issued_at > timedelta(seconds=CODE_SECONDS)

    def new_grant(self, client_id: str, user_id: str, scopes: tuple[str, ...]) -> Grant:
        """A fresh grant; the same user's older grants of this app die (as at Zoom)."""
        with self.lock:
            for grant in self.grants.values():
                if grant.client_id == client_id and grant.user_id == user_id:
                    self._revoke(grant)
            grant = Grant(next(self._grant_ids), client_id, user_id, scopes)
            self.grants[grant.id] = grant
            return grant

    def issue_tokens(self, grant: Grant, api_url: str = "") -> dict[str, Any]:
        """A new access + refresh pair for ``grant``, as Zoom's token response."""
        with self.lock:
            now = self.clock()
            access = IssuedToken(
                secrets.token_urlsafe(32),
                grant.id,
                "access",
                now + timedelta(seconds=ACCESS_TOKEN_SECONDS),
            )
            refresh = IssuedToken(
                secrets.token_urlsafe(32),
                grant.id,
                "refresh",
                now + timedelta(days=REFRESH_TOKEN_DAYS),
            )
            self.tokens[access.value] = access
            self.tokens[refresh.value] = refresh
            return {
                "access_token": access.value,
                "token_type": "bearer",
                "refresh_token": refresh.value,
                "expires_in": ACCESS_TOKEN_SECONDS,
                "scope": " ".join(grant.scopes),
                "api_url": api_url,
            }

    def grant_tokens(
        self, email: str, *, client_id: str = DEFAULT_CLIENT_ID, scopes: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """Authorize ``email`` for an app directly (tests that do not need the consent flow)."""
        user = self.user(email)
        if user is None:
            raise KeyError(email)
        app = self.apps[client_id]
        chosen = tuple(scopes) if scopes is not None else granted_scopes(app, user)
        return self.issue_tokens(self.new_grant(client_id, user.id, chosen))

    def live_token(self, value: str, kind: str) -> IssuedToken | None:
        token = self.tokens.get(value)
        if token is None or token.kind != kind or token.dead:
            return None
        if self.grants[token.grant_id].revoked:
            return None
        return token

    def rotate(self, refresh: IssuedToken, api_url: str = "") -> dict[str, Any]:
        """Refresh: the old refresh token dies at once; a new pair is issued."""
        with self.lock:
            self.refresh_calls += 1
            refresh.dead = True
            return self.issue_tokens(self.grants[refresh.grant_id], api_url)

    def _revoke(self, grant: Grant) -> None:
        grant.revoked = True
        for token in self.tokens.values():
            if token.grant_id == grant.id:
                token.dead = True

    def revoke_grant_of(self, token_value: str) -> bool:
        with self.lock:
            token = self.tokens.get(token_value)
            if token is None or self.grants[token.grant_id].revoked:
                return False
            self._revoke(self.grants[token.grant_id])
            return True

    def revoke_user_grants(self, email_or_id: str, client_id: str | None = None) -> int:
        """Revoke every grant the user gave (to one app, or all): as if revoked at Zoom."""
        user = self.user(email_or_id)
        count = 0
        with self.lock:
            for grant in self.grants.values():
                if (
                    user
                    and grant.user_id == user.id
                    and not grant.revoked
                    and (client_id is None or grant.client_id == client_id)
                ):
                    self._revoke(grant)
                    count += 1
        return count

    def expire_access_tokens(self) -> None:
        """Make every access token expired now (to exercise 401 code 124)."""
        with self.lock:
            for token in self.tokens.values():
                if token.kind == "access":
                    token.expires_at = self.clock() - timedelta(seconds=1)

    # -- webhooks -------------------------------------------------------------------------------
    def signed_webhook(
        self,
        event: str,
        payload: dict[str, Any],
        *,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """A delivery as Zoom sends it: ``(headers, raw body)`` signed with the secret token."""
        ts = str(timestamp if timestamp is not None else int(self.clock().timestamp()))
        body = json.dumps(
            {"event": event, "event_ts": int(ts) * 1000, "payload": payload},
            separators=(",", ":"),
        ).encode()
        headers = {
            "content-type": "application/json",
            "x-zm-request-timestamp": ts,
            "x-zm-signature": sign(secret or self.webhook_secret, ts, body),
        }
        return headers, body

    def deauthorize(
        self, email_or_id: str, client_id: str = DEFAULT_CLIENT_ID
    ) -> tuple[dict[str, str], bytes]:
        """The user removes the app in Zoom: grants die and ``app_deauthorized`` is signed."""
        user = self.user(email_or_id)
        if user is None:
            raise KeyError(email_or_id)
        self.revoke_user_grants(user.id, client_id)
        when = self.clock().astimezone(UTC).isoformat(timespec="milliseconds")
        payload = {
            "account_id": user.account_id,
            "user_id": user.id,
            "client_id": client_id,
            "signature": secrets.token_hex(32),
            "deauthorization_time": when.replace("+00:00", "Z"),
        }
        return self.signed_webhook("app_deauthorized", payload)

    # -- meetings -------------------------------------------------------------------------------
    def next_meeting_id(self) -> int:
        with self.lock:
            return next(self._meeting_ids) + secrets.randbelow(1000) * 1_000_000

    def live_meetings(self, user_id: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [
                m
                for m in self.meetings.values()
                if not m["_deleted"] and (user_id is None or m["host_id"] == user_id)
            ]

    def count_requests(self, method: str, path_prefix: str) -> int:
        with self.lock:
            return sum(1 for m, p in self.requests if m == method and p.startswith(path_prefix))
