"""In-memory credentials for calling a provider plugin's hooks directly in tests.

Behaves like the host's database-backed credentials: refreshes a minute before expiry and
when a token is rejected, serialised by a lock, counting refreshes so a test can assert that
a storm of concurrent calls caused exactly one.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from meetbridge.providers import TokenSet

Refresher = Callable[[TokenSet], TokenSet | Awaitable[TokenSet]]


class MemoryCredentials:
    def __init__(
        self,
        tokens: TokenSet,
        refresh: Refresher | None = None,
        *,
        external_account_id: str = "",
        email: str = "",
        margin: timedelta = timedelta(seconds=60),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.tokens = tokens
        self._refresh = refresh
        self.connection_id: int | None = None
        self.external_account_id = external_account_id
        self.email = email
        self.margin = margin
        self.clock = clock
        self.refresh_count = 0
        self._lock = asyncio.Lock()

    async def _do_refresh(self) -> None:
        if self._refresh is None:
            raise RuntimeError("MemoryCredentials was built without a refresh function")
        result = self._refresh(self.tokens)
        if inspect.isawaitable(result):
            result = await result
        self.tokens = result
        self.refresh_count += 1

    async def access_token(self) -> str:
        if self.tokens.expires_within(self.margin, self.clock()):
            async with self._lock:
                if self.tokens.expires_within(self.margin, self.clock()):
                    await self._do_refresh()
        return self.tokens.access_token.reveal()

    async def refreshed_access_token(self, rejected: str) -> str:
        async with self._lock:
            if self.tokens.access_token.reveal() == rejected:
                await self._do_refresh()
        return self.tokens.access_token.reveal()
