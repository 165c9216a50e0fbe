"""The host's shared services, built once per process and passed to what needs them.

Nothing here is global: the CLI, the web app, the worker and tests each build a
:class:`Services` from a :class:`~meetbridge.settings.Settings` and close it when done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from meetbridge.conferencing.locks import NamedLocks
from meetbridge.db import create_db_engine, session_factory
from meetbridge.plugins import PluginHost, get_plugin_host
from meetbridge.providers import ProviderContext
from meetbridge.settings import Settings
from meetbridge.vault import Vault, vault_from_settings

if TYPE_CHECKING:
    import httpx


@dataclass
class Services:
    settings: Settings
    plugins: PluginHost = field(default_factory=get_plugin_host)
    engine: Engine | None = None
    vault: Vault | None = None
    clock: Any = None

    def __post_init__(self) -> None:
        if self.engine is None:
            self.engine = create_db_engine(self.settings.effective_database_url)
        if self.vault is None:
            self.vault = vault_from_settings(self.settings)
        self._http: httpx.AsyncClient | None = None

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        from meetbridge.web.platform_events import install_event_capture

        assert self.engine is not None
        factory = session_factory(self.engine)
        # Platform webhooks (conferencing provisioned/failed, connection needs reconnect...)
        # are queued for changes made by any process: serve, a standalone worker, the CLI.
        install_event_capture(factory)
        return factory

    @cached_property
    def locks(self) -> NamedLocks:
        """Per-connection and per-booking locks, shared by everything in this process."""
        return NamedLocks(self)

    @property
    def http(self) -> httpx.AsyncClient:
        """One pooled client for all provider calls (created lazily, inside the event loop)."""
        if self._http is None or self._http.is_closed:
            import httpx  # here, not at module level: importing it is slow

            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(self.settings.http_timeout_seconds),
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
                headers={"User-Agent": "meetbridge"},
            )
        return self._http

    def provider_context(
        self, provider: str, organization_timezone: str | None = None
    ) -> ProviderContext:
        info = self.plugins.provider(provider)
        ctx = ProviderContext(
            settings=self.settings.provider(info),
            http=self.http,
            organization_timezone=organization_timezone or self.settings.organization.timezone,
        )
        if self.clock is not None:
            ctx.clock = self.clock
        return ctx

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def close(self) -> None:
        if "locks" in self.__dict__:  # built: its PostgreSQL lock connection goes first
            self.locks.close()
        if self.engine is not None:
            self.engine.dispose()
