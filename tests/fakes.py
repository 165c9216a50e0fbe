"""An in-process fake conferencing provider for host tests.

It behaves like a provider plugin (sync or async), keeps its meetings in memory with the
account that created each one, counts refreshes, and fails on demand, so host logic can be
tested without a sandbox where the provider's own behaviour does not matter.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from meetbridge.hookspecs import hookimpl
from meetbridge.providers import (
    AuthKind,
    Capability,
    ConnectedAccount,
    ConnectStart,
    DeleteOutcome,
    GrantRevoked,
    Meeting,
    MeetingGone,
    ProviderInfo,
    Secret,
    TokenSet,
    WebhookEvent,
    WebhookResult,
    WrongCredential,
)


class FakeProvider:
    """A provider plugin object; ``asynchronous`` picks ``async def`` implementations."""

    def __init__(
        self,
        name: str = "fakevideo",
        *,
        asynchronous: bool = True,
        capabilities: frozenset[Capability] | None = None,
    ) -> None:
        self.name = name
        self.asynchronous = asynchronous
        self.capabilities = (
            capabilities
            if capabilities is not None
            else frozenset(
                {
                    Capability.CONNECT,
                    Capability.REFRESH,
                    Capability.REVOKE,
                    Capability.WEBHOOKS,
                    Capability.ACCOUNT_LEVEL,
                }
            )
        )
        self.meetings: dict[str, dict[str, Any]] = {}
        self.refresh_calls = 0
        self.refresh_delay = 0.0
        self.dead_grant = False
        self.revoked: list[str] = []
        self.revoke_fails = False
        self._ids = itertools.count(1)
        self.expires_in = 3600
        self.calls: list[tuple[str, str]] = []
        self.deleted_by: list[tuple[str, str]] = []
        # (stage, exception) raised in order; stages: "create", "create_after_acting",
        # "update", "delete".
        self.failures: list[tuple[str, Exception]] = []

    # -- the plugin's hooks ------------------------------------------------------------------
    @hookimpl
    def describe_provider(self) -> ProviderInfo:
        return ProviderInfo(
            name=self.name,
            label=self.name.title(),
            auth_kind=AuthKind.OAUTH2,
            capabilities=self.capabilities,
            scopes=("meetings",),
            endpoints={"authorize_url": "https://fake.example/authorize"},
        )

    def _tokens(self, n: int) -> TokenSet:
        return TokenSet(
            access_token=Secret(f"access-{n}"),
            refresh_token=Secret(f"refresh-{n}"),
            expires_at=datetime.now(UTC) + timedelta(seconds=self.expires_in),
            scope=("meetings",),
        )

    @hookimpl
    def authorization_url(self, redirect_uri: str, state: str, code_challenge: str) -> Any:
        start = ConnectStart(
            url=f"https://fake.example/authorize?state={state}"
            f"&redirect_uri={redirect_uri}&code_challenge={code_challenge}"
        )
        return self._maybe_async(start)

    @hookimpl
    def connect(self, code: str, code_verifier: str, account_level: bool) -> Any:
        account = ConnectedAccount(
            tokens=self._tokens(0),
            external_account_id=f"user-{code}",
            email=f"{code}@fake.example",
            account_type="licensed",
            is_admin=account_level,
        )
        return self._maybe_async(account)

    @hookimpl
    def refresh_credentials(self, tokens: TokenSet) -> Any:
        async def refresh() -> TokenSet:
            self.refresh_calls += 1
            if self.refresh_delay:
                await asyncio.sleep(self.refresh_delay)
            if self.dead_grant:
                raise GrantRevoked(
                    "Invalid Token!", provider=self.name, provider_code="invalid_grant"
                )
            return self._tokens(self.refresh_calls)

        if self.asynchronous:
            return refresh()
        self.refresh_calls += 1
        if self.dead_grant:
            raise GrantRevoked("Invalid Token!", provider=self.name)
        return self._tokens(self.refresh_calls)

    @hookimpl
    def create_meeting(self, request: Any, credentials: Any) -> Any:
        async def create() -> Meeting:
            token = await credentials.access_token() if credentials is not None else ""
            return self._create(request, token, credentials)

        if self.asynchronous:
            return create()
        return self._create(request, "sync", credentials)

    @staticmethod
    def _account(credentials: Any) -> str:
        return credentials.email if credentials is not None else ""

    def _create(self, request: Any, token: str, credentials: Any) -> Meeting:
        self.calls.append(("create", request.idempotency_key))
        self._maybe_fail("create")
        if request.previous_attempt_ambiguous:  # look before creating, like the real plugins
            for mid, data in self.meetings.items():
                if data["key"] == request.idempotency_key:
                    return self._meeting(mid)
        mid = str(next(self._ids))
        self.meetings[mid] = {
            "start": request.start_utc,
            "topic": request.topic,
            "duration": request.duration_minutes,
            "token": token,
            "key": request.idempotency_key,
            "timezone": request.timezone,
            "account": self._account(credentials),
            "host_user": request.host_user,
            "settings": dict(request.settings),
        }
        self._maybe_fail("create_after_acting")
        return self._meeting(mid)

    def _meeting(self, mid: str) -> Meeting:
        return Meeting(
            external_id=mid,
            join_url=f"https://fake.example/j/{mid}",
            host_start_url=Secret(f"https://fake.example/s/{mid}?zak=secret"),
            passcode="123456",
        )

    def _maybe_fail(self, stage: str) -> None:
        if self.failures and self.failures[0][0] == stage:
            raise self.failures.pop(0)[1]

    @hookimpl
    def update_meeting(self, meeting: Any, request: Any, credentials: Any) -> Any:
        self.calls.append(("update", meeting.external_id))
        self._maybe_fail("update")
        data = self.meetings.get(meeting.external_id)
        if data is None:
            raise MeetingGone("Meeting does not exist", provider=self.name)
        if data["account"] != self._account(credentials):
            raise WrongCredential("You are not the meeting host", provider=self.name)
        data.update(start=request.start_utc, topic=request.topic, duration=request.duration_minutes)
        return self._maybe_async(self._meeting(meeting.external_id))

    @hookimpl
    def delete_meeting(self, meeting: Any, credentials: Any) -> Any:
        self.calls.append(("delete", meeting.external_id))
        self._maybe_fail("delete")
        data = self.meetings.get(meeting.external_id)
        if data is not None and data["account"] != self._account(credentials):
            raise WrongCredential("You are not the meeting host", provider=self.name)
        self.deleted_by.append((meeting.external_id, self._account(credentials)))
        outcome = (
            DeleteOutcome.DELETED
            if self.meetings.pop(meeting.external_id, None)
            else DeleteOutcome.ALREADY_GONE
        )
        return self._maybe_async(outcome)

    @hookimpl
    def disconnect(self, tokens: TokenSet) -> Any:
        if self.revoke_fails:
            raise OSError("network unreachable")
        self.revoked.append(tokens.access_token.reveal())
        return self._maybe_async(True)

    @hookimpl
    def handle_webhook(self, headers: Any, body: bytes) -> Any:
        if headers.get("x-fake-signature") != "good":
            return WebhookResult(status_code=401, body={"error": "bad signature"})
        user = body.decode()
        return WebhookResult(
            status_code=200,
            replay_key=headers.get("x-fake-id", ""),
            events=(
                WebhookEvent(
                    kind="deauthorized", external_account_id=user, dedupe_key=f"deauth:{user}"
                ),
            ),
        )

    def _maybe_async(self, value: Any) -> Any:
        if not self.asynchronous:
            return value

        async def wrapped() -> Any:
            return value

        return wrapped()
