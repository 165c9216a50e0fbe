"""Connecting, disconnecting and un-installing provider accounts.

The web layer (and the demo, and tests) drive a connect in two steps: :meth:`start_connect`
returns a :class:`PendingConnect` that the caller keeps in the person's session, and
:meth:`complete_connect` checks the returned ``state`` against it before anything else. Nothing
is stored unless the whole connect succeeds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from meetbridge.conferencing import oauth
from meetbridge.conferencing.credentials import ConnectionCredentials, TokenManager
from meetbridge.db import utcnow
from meetbridge.models import AuditEvent, Connection, ConnectionStatus, User, WebhookReceipt
from meetbridge.plugins import OperationNotSupported
from meetbridge.providers import (
    AccountLevelNotAllowed,
    Capability,
    ConnectedAccount,
    ConnectFailed,
    ProviderError,
    WebhookEvent,
    WebhookResult,
)

if TYPE_CHECKING:
    from meetbridge.services import Services

log = logging.getLogger("meetbridge.connections")


@dataclass(frozen=True)
class PendingConnect:
    """A connect in progress; keep it server-side or in a signed session, never in a URL."""

    provider: str
    user_id: int
    account_level: bool
    state: str
    code_verifier: str
    redirect_uri: str
    url: str


class ConnectionService:
    def __init__(self, services: Services, tokens: TokenManager | None = None) -> None:
        self.services = services
        self.tokens = tokens or TokenManager(services)

    # -- connect -------------------------------------------------------------------------------
    async def start_connect(
        self, *, user_id: int, provider: str, account_level: bool = False
    ) -> PendingConnect:
        info = self.services.plugins.provider(provider)
        if not info.supports(Capability.CONNECT):
            raise ConnectFailed(f"{info.label} needs no account connection.", provider=provider)
        with self.services.sessions() as session:
            user = session.get(User, user_id)
            if user is None:
                raise ConnectFailed("Unknown user.", provider=provider)
            if account_level and not info.supports(Capability.ACCOUNT_LEVEL):
                raise AccountLevelNotAllowed(
                    f"{info.label} has no organisation-wide connection; each member connects"
                    " their own account.",
                    provider=provider,
                )
            if account_level and not user.is_admin:
                raise AccountLevelNotAllowed(
                    "Only an organisation admin can connect an account for the whole organisation.",
                    provider=provider,
                )
        ctx = self.services.provider_context(provider)
        state, verifier = oauth.new_state(), oauth.new_code_verifier()
        start = await self.services.plugins.call(
            "authorization_url",
            provider,
            context=ctx,
            redirect_uri=ctx.settings.redirect_uri,
            state=state,
            code_challenge=oauth.code_challenge(verifier),
            account_level=account_level,
        )
        return PendingConnect(
            provider, user_id, account_level, state, verifier, ctx.settings.redirect_uri, start.url
        )

    async def complete_connect(
        self,
        pending: PendingConnect,
        *,
        state: str | None,
        code: str | None = None,
        error: str | None = None,
        error_description: str | None = None,
    ) -> Connection:
        info = self.services.plugins.provider(pending.provider)
        if not oauth.same_state(pending.state, state):
            raise ConnectFailed(
                "This connection attempt did not start here (the state does not match), so it"
                " was refused. Start again from the Integrations page.",
                provider=info.name,
            )
        if error:
            if error == "access_denied":
                message = (
                    f"You declined access at {info.label}, so nothing was connected."
                    " Click Connect again if that was a mistake."
                )
            else:
                detail = (
                    (error_description or "").splitlines()[0][:300] if error_description else ""
                )
                message = f"{info.label} refused the connection ({error}). {detail}".strip()
            raise ConnectFailed(message, provider=info.name, provider_code=error)
        if not code:
            raise ConnectFailed(
                f"{info.label} sent no authorization code; start again.", provider=info.name
            )
        ctx = self.services.provider_context(pending.provider)
        account: ConnectedAccount = await self.services.plugins.call(
            "connect",
            pending.provider,
            context=ctx,
            code=code,
            redirect_uri=pending.redirect_uri,
            code_verifier=pending.code_verifier,
            account_level=pending.account_level,
        )
        warnings = await self._preflight(pending.provider, account, None)
        return self._store(pending, account, warnings)

    async def _preflight(
        self, provider: str, account: Any, duration: int | None
    ) -> list[dict[str, str]]:
        if not self.services.plugins.implements("preflight", provider):
            return []
        ctx = self.services.provider_context(provider)
        found = await self.services.plugins.call(
            "preflight", provider, context=ctx, account=account, duration_minutes=duration
        )
        return [{"code": w.code, "message": w.message} for w in found or []]

    def _store(
        self, pending: PendingConnect, account: ConnectedAccount, warnings: list[dict[str, str]]
    ) -> Connection:
        vault = self.services.vault
        assert vault is not None
        with self.services.sessions() as session, session.begin():
            user = session.get(User, pending.user_id)
            assert user is not None
            owner_id = None if pending.account_level else user.id
            conn = session.scalars(
                select(Connection)
                .where(
                    Connection.organization_id == user.organization_id,
                    Connection.provider == pending.provider,
                    Connection.owner_user_id.is_(None)
                    if owner_id is None
                    else Connection.owner_user_id == owner_id,
                )
                .with_for_update()
            ).first()
            if conn is None:
                conn = Connection(
                    organization_id=user.organization_id,
                    owner_user_id=owner_id,
                    provider=pending.provider,
                )
                session.add(conn)
            conn.external_account_id = account.external_account_id
            conn.email = account.email
            conn.account_type = account.account_type
            conn.provider_org_id = account.organization_id
            conn.scopes = list(account.tokens.scope)
            conn.token_ciphertext = vault.encrypt_tokens(account.tokens)
            conn.token_expires_at = account.tokens.expires_at
            conn.status = ConnectionStatus.ACTIVE
            conn.connected_at = utcnow()
            conn.status_changed_at = conn.connected_at
            conn.last_error = None
            conn.warnings = warnings
            session.flush()
            session.add(
                AuditEvent(
                    organization_id=user.organization_id,
                    actor=user.email,
                    action="connection.connected",
                    subject_type="connection",
                    subject_id=str(conn.id),
                    data={"provider": pending.provider, "account_level": pending.account_level},
                )
            )
        log.info(
            "connected %s for user %s (connection %s)", pending.provider, pending.user_id, conn.id
        )
        return conn

    # -- disconnect ----------------------------------------------------------------------------
    async def disconnect(self, connection_id: int, *, actor: str) -> bool:
        """Delete the tokens at once, then revoke them at the provider (best effort).

        Returns whether the provider confirmed the revocation. Meetings already created stay.
        """
        vault = self.services.vault
        assert vault is not None
        with self.services.sessions() as session, session.begin():
            conn = session.get(Connection, connection_id, with_for_update=True)
            if conn is None:
                raise LookupError(f"Connection {connection_id} does not exist.")
            tokens = vault.decrypt_tokens(conn.token_ciphertext) if conn.token_ciphertext else None
            provider = conn.provider
            conn.token_ciphertext = None
            conn.token_expires_at = None
            conn.status = ConnectionStatus.REVOKED
            conn.status_changed_at = utcnow()
            conn.last_error = "Disconnected by " + actor
            session.add(
                AuditEvent(
                    organization_id=conn.organization_id,
                    actor=actor,
                    action="connection.disconnected",
                    subject_type="connection",
                    subject_id=str(conn.id),
                    data={"provider": provider},
                )
            )
        if tokens is None:
            return False
        try:
            ctx = self.services.provider_context(provider)
            return bool(
                await self.services.plugins.call("disconnect", provider, context=ctx, tokens=tokens)
            )
        except (ProviderError, OperationNotSupported, OSError) as exc:
            log.warning(
                "revoking %s tokens at the provider failed (%s); they are deleted here",
                provider,
                type(exc).__name__,
            )
            return False

    # -- webhooks --------------------------------------------------------------------------------
    async def handle_webhook(
        self, provider: str, headers: dict[str, str], body: bytes
    ) -> WebhookResult:
        """Verify a provider webhook; returns what to answer (events are applied separately)."""
        ctx = self.services.provider_context(provider)
        result: WebhookResult = await self.services.plugins.call(
            "handle_webhook", provider, context=ctx, headers=headers, body=body
        )
        accepted = result.replay_key and 200 <= result.status_code < 300
        if accepted and not self._remember(provider, "replay:" + result.replay_key):
            return WebhookResult(status_code=409, body={"error": "replayed delivery"})
        return result

    def _remember(self, provider: str, key: str) -> bool:
        """Record ``key``; False when it was already there (across processes: unique index)."""
        try:
            with self.services.sessions() as session, session.begin():
                session.add(WebhookReceipt(provider=provider, dedupe_key=key[:255]))
            return True
        except IntegrityError:
            return False

    async def apply_webhook_events(self, provider: str, events: tuple[WebhookEvent, ...]) -> int:
        """Act on verified events; each event is applied once even if delivered again."""
        applied = 0
        for event in events:
            if event.dedupe_key and not self._remember(provider, "event:" + event.dedupe_key):
                continue
            if event.kind == "deauthorized":
                applied += self._forget_account(provider, event)
        return applied

    def _forget_account(self, provider: str, event: WebhookEvent) -> int:
        """The person uninstalled our app at the provider: delete everything we got from it."""
        from meetbridge.notifications.connection_notices import connection_broke

        with self.services.sessions() as session, session.begin():
            conns = session.scalars(
                select(Connection)
                .where(
                    Connection.provider == provider,
                    Connection.external_account_id == event.external_account_id,
                )
                .with_for_update()
            ).all()
            for conn in conns:
                # Someone who disconnected here first is not told it was "removed" again.
                was_connected = conn.status != ConnectionStatus.REVOKED
                conn.token_ciphertext = None
                conn.token_expires_at = None
                conn.external_account_id = ""
                conn.email = ""
                conn.provider_org_id = ""
                conn.scopes = []
                conn.status = ConnectionStatus.REVOKED
                conn.status_changed_at = utcnow()
                conn.last_error = "The app was removed from the account at the provider."
                if was_connected:
                    connection_broke(session, conn, "removed")  # owner told, then reminded
                session.add(
                    AuditEvent(
                        organization_id=conn.organization_id,
                        actor=provider,
                        action="connection.deauthorized",
                        subject_type="connection",
                        subject_id=str(conn.id),
                    )
                )
            return len(conns)

    # -- use -------------------------------------------------------------------------------------
    def credentials(
        self, connection: Connection, *, just_read: bool = False
    ) -> ConnectionCredentials:
        """Credentials for plugin calls (``just_read``: see :class:`ConnectionCredentials`)."""
        return ConnectionCredentials(self.tokens, connection, just_read=just_read)
