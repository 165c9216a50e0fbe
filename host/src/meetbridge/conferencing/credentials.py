"""Access tokens for provider calls, and the one place they are refreshed.

Refresh tokens rotate at Zoom and Microsoft: the old one dies the moment a new one is issued,
so two refreshes racing with the same refresh token break the connection. Refreshes are
therefore serialised per connection twice over: an ``asyncio.Lock`` per connection inside a
process, and a database row lock across processes (``SELECT ... FOR UPDATE`` on PostgreSQL; a
write lock taken by a no-op UPDATE on SQLite). Inside the lock the tokens are re-read, so a
task that waited finds the fresh token and does not refresh again. The new pair is committed
before anyone uses it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from meetbridge.db import utcnow
from meetbridge.models import Connection, ConnectionStatus
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
        self._locks: dict[int, asyncio.Lock] = {}

    def _lock(self, connection_id: int) -> asyncio.Lock:
        return self._locks.setdefault(connection_id, asyncio.Lock())

    def _now(self) -> datetime:
        clock = self.services.clock
        return clock() if clock is not None else datetime.now(UTC)

    def load(self, connection_id: int) -> tuple[Connection, TokenSet]:
        with self.services.sessions() as session:
            conn = session.get(Connection, connection_id)
            if conn is None:
                raise ConnectionUnusable(f"Connection {connection_id} does not exist.")
            if conn.status != ConnectionStatus.ACTIVE or conn.token_ciphertext is None:
                raise ConnectionUnusable(
                    f"The {conn.provider} connection of {conn.email or 'this account'} is"
                    f" {conn.status.replace('_', ' ')}; reconnect it.",
                    provider=conn.provider,
                )
            assert self.services.vault is not None
            return conn, self.services.vault.decrypt_tokens(conn.token_ciphertext)

    async def access_token(self, connection_id: int) -> str:
        _, tokens = self.load(connection_id)
        if not tokens.expires_within(self.margin, self._now()):
            return tokens.access_token.reveal()
        async with self._lock(connection_id):
            return (await self._refresh(connection_id, rejected=None)).access_token.reveal()

    async def refreshed_access_token(self, connection_id: int, rejected: str) -> str:
        """Refresh because the provider rejected ``rejected`` — unless someone already did."""
        async with self._lock(connection_id):
            return (await self._refresh(connection_id, rejected=rejected)).access_token.reveal()

    async def _refresh(self, connection_id: int, rejected: str | None) -> TokenSet:
        services = self.services
        assert services.vault is not None
        with services.sessions() as session:
            try:
                conn = self._lock_row(session, connection_id)
                tokens = services.vault.decrypt_tokens(conn.token_ciphertext or b"")
                fresh_enough = not tokens.expires_within(self.margin, self._now())
                if (rejected is None and fresh_enough) or (
                    rejected is not None and tokens.access_token.reveal() != rejected
                ):
                    session.rollback()  # another task or process refreshed while we waited
                    return tokens
                ctx = services.provider_context(conn.provider)
                new = await services.plugins.call(
                    "refresh_credentials", conn.provider, context=ctx, tokens=tokens
                )
            except GrantRevoked as exc:
                if not isinstance(exc, ConnectionUnusable):
                    self._mark_needs_reconnect(conn, exc)
                    session.commit()
                else:
                    session.rollback()
                raise
            except BaseException:
                session.rollback()
                raise
            conn.token_ciphertext = services.vault.encrypt_tokens(new)
            conn.token_expires_at = new.expires_at
            conn.last_refreshed_at = utcnow()
            conn.refresh_count = (conn.refresh_count or 0) + 1
            conn.last_error = None
            session.commit()  # persisted before anyone uses the new pair
            return new

    @staticmethod
    def _lock_row(session: Session, connection_id: int) -> Connection:
        stmt = select(Connection).where(Connection.id == connection_id)
        if session.get_bind().dialect.name == "sqlite":
            # Take SQLite's write lock now, so another process waits here, not after us.
            session.execute(
                update(Connection)
                .where(Connection.id == connection_id)
                .values(refresh_count=Connection.refresh_count)
            )
        else:
            stmt = stmt.with_for_update()
        conn = session.scalars(stmt.execution_options(populate_existing=True)).one_or_none()
        if conn is None or conn.status != ConnectionStatus.ACTIVE or conn.token_ciphertext is None:
            provider = conn.provider if conn else ""
            raise ConnectionUnusable(
                f"The {provider} connection needs reconnecting.", provider=provider
            )
        return conn

    @staticmethod
    def _mark_needs_reconnect(conn: Connection, exc: GrantRevoked) -> None:
        conn.status = ConnectionStatus.NEEDS_RECONNECT
        conn.status_changed_at = utcnow()
        conn.last_error = exc.message
        conn.token_ciphertext = None
        conn.token_expires_at = None
        log.warning("connection %s (%s) needs reconnect: %s", conn.id, conn.provider, exc.message)


class ConnectionCredentials:
    """The :class:`~meetbridge.providers.Credentials` handed to plugins for one connection."""

    def __init__(self, manager: TokenManager, connection: Connection) -> None:
        self._manager = manager
        self.connection_id: int | None = connection.id
        self.external_account_id = connection.external_account_id
        self.email = connection.email

    async def access_token(self) -> str:
        assert self.connection_id is not None
        return await self._manager.access_token(self.connection_id)

    async def refreshed_access_token(self, rejected: str) -> str:
        assert self.connection_id is not None
        return await self._manager.refreshed_access_token(self.connection_id, rejected)

    def __repr__(self) -> str:
        return f"ConnectionCredentials(connection_id={self.connection_id}, email={self.email!r})"
