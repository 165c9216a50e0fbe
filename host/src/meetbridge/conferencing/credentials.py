"""Access tokens for provider calls, and the one place they are refreshed.

Refresh tokens rotate at Zoom and Microsoft: the old one dies the moment a new one is issued,
so two refreshes racing with the same refresh token break the connection. Refreshes are
therefore serialised per connection, across tasks and processes, by a named lock
(:mod:`meetbridge.conferencing.locks`). Inside the lock the tokens are re-read, so a task that
waited finds the fresh token and does not refresh again; the new pair is committed before
anyone uses it. No database lock is held while the provider is called.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import inspect

from meetbridge.db import utcnow
from meetbridge.models import Connection, ConnectionStatus
from meetbridge.observability import metrics
from meetbridge.providers import GrantRevoked, TokenSet

if TYPE_CHECKING:
    from meetbridge.services import Services

log = logging.getLogger("meetbridge.credentials")

REFRESH_MARGIN = timedelta(seconds=60)


class ConnectionUnusable(GrantRevoked):
    """The connection has no tokens (disconnected, uninstalled, needs reconnect)."""


class TokenManager:
    def __init__(self, services: Services, margin: timedelta = REFRESH_MARGIN) -> None:
        self.services = services
        self.margin = margin

    def _now(self) -> datetime:
        clock = self.services.clock
        return clock() if clock is not None else datetime.now(UTC)

    def load(self, connection_id: int) -> tuple[Connection, TokenSet]:
        with self.services.sessions() as session:
            conn = session.get(Connection, connection_id)
            if conn is None:
                raise ConnectionUnusable(f"Connection {connection_id} does not exist.")
            return conn, self._tokens_of(conn)

    def _tokens_of(self, conn: Connection) -> TokenSet:
        if conn.status != ConnectionStatus.ACTIVE or conn.token_ciphertext is None:
            raise ConnectionUnusable(
                f"The {conn.provider} connection of {conn.email or 'this account'} is"
                f" {conn.status.replace('_', ' ')}; reconnect it.",
                provider=conn.provider,
            )
        assert self.services.vault is not None
        return self.services.vault.decrypt_tokens(conn.token_ciphertext)

    async def access_token(self, connection_id: int, read: Connection | None = None) -> str:
        """A valid access token, refreshed first if it expires within the margin.

        ``read``: the connection as the caller's transaction just read it, to use instead of
        reading it again (a token refreshed meanwhile by someone else is no harm: the old one
        stays valid until it expires, and a rejected one is refreshed below as always).
        """
        _, tokens = (read, self._tokens_of(read)) if read is not None else self.load(connection_id)
        if not tokens.expires_within(self.margin, self._now()):
            return tokens.access_token.reveal()
        async with self.services.locks.hold(f"connection:{connection_id}"):
            return (await self._refresh(connection_id, rejected=None)).access_token.reveal()

    async def refreshed_access_token(self, connection_id: int, rejected: str) -> str:
        """Refresh because the provider rejected ``rejected`` — unless someone already did."""
        async with self.services.locks.hold(f"connection:{connection_id}"):
            return (await self._refresh(connection_id, rejected=rejected)).access_token.reveal()

    async def _refresh(self, connection_id: int, rejected: str | None) -> TokenSet:
        """Called with the connection's lock held."""
        services = self.services
        assert services.vault is not None
        conn, tokens = self.load(connection_id)  # fresh read inside the lock
        fresh_enough = not tokens.expires_within(self.margin, self._now())
        if (rejected is None and fresh_enough) or (
            rejected is not None and tokens.access_token.reveal() != rejected
        ):
            metrics.refresh_skipped(conn.provider)
            return tokens  # another task or process refreshed while we waited
        # Counted by outcome in meetbridge_token_refreshes_total (ok, auth_error, ...).
        with metrics.track_refresh(conn.provider) as tracked:
            ctx = services.provider_context(conn.provider)
            try:
                new = await services.plugins.call(
                    "refresh_credentials", conn.provider, context=ctx, tokens=tokens
                )
            except GrantRevoked as exc:
                with services.sessions() as session, session.begin():
                    stored = session.get(Connection, connection_id)
                    if stored is not None:
                        self._mark_needs_reconnect(stored, exc)
                raise
            with services.sessions() as session, session.begin():
                stored = session.get(Connection, connection_id)
                if (
                    stored is None
                    or stored.status != ConnectionStatus.ACTIVE
                    or stored.token_ciphertext is None
                ):
                    # Disconnected while we were refreshing: do not bring the tokens back.
                    tracked.outcome = "disconnected"
                    raise ConnectionUnusable(
                        f"The {conn.provider} connection was disconnected.", provider=conn.provider
                    )
                stored.token_ciphertext = services.vault.encrypt_tokens(new)
                stored.token_expires_at = new.expires_at
                stored.last_refreshed_at = utcnow()
                stored.refresh_count = (stored.refresh_count or 0) + 1
                stored.last_error = None
            return new  # persisted before anyone uses the new pair

    @staticmethod
    def _mark_needs_reconnect(conn: Connection, exc: GrantRevoked) -> None:
        conn.status = ConnectionStatus.NEEDS_RECONNECT
        conn.status_changed_at = utcnow()
        conn.last_error = exc.message
        conn.token_ciphertext = None
        conn.token_expires_at = None
        log.warning("connection %s (%s) needs reconnect: %s", conn.id, conn.provider, exc.message)
        # Its owner (the admins, for an organisation account) is told, then reminded.
        from sqlalchemy.orm import object_session

        from meetbridge.notifications.connection_notices import connection_broke

        session = object_session(conn)
        if session is not None:
            connection_broke(session, conn, "needs_reconnect")


class ConnectionCredentials:
    """The :class:`~meetbridge.providers.Credentials` handed to plugins for one connection."""

    def __init__(
        self, manager: TokenManager, connection: Connection, *, just_read: bool = False
    ) -> None:
        """``just_read``: ``connection`` was read by the transaction that decided this call,
        moments ago; the first call's token then comes from it (one query less per provider
        call). Later calls, and credentials made from older objects, read the stored token."""
        self._manager = manager
        self.connection_id: int | None = connection.id
        self.external_account_id = connection.external_account_id
        self.email = connection.email
        whole = just_read and not inspect(connection).unloaded & {
            "status",
            "token_ciphertext",
            "provider",
        }
        self._read: Connection | None = connection if whole else None

    async def access_token(self) -> str:
        assert self.connection_id is not None
        read, self._read = self._read, None
        return await self._manager.access_token(self.connection_id, read)

    async def refreshed_access_token(self, rejected: str) -> str:
        assert self.connection_id is not None
        return await self._manager.refreshed_access_token(self.connection_id, rejected)

    def __repr__(self) -> str:
        return f"ConnectionCredentials(connection_id={self.connection_id}, email={self.email!r})"
