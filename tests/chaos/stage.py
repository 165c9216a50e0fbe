"""The stage of a campaign: sandboxes served, services on a database, people connected.

Used by the campaign and by the scenario tests, which replay one fault sequence at a time on
the same stage with nothing random about it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from meetbridge.conferencing.connections import ConnectionService
from meetbridge.models import User
from meetbridge.services import Services
from meetbridge.settings import Settings
from meetbridge.vault import generate_key
from meetbridge_zoom import limits as zoom_limits
from tests.chaos import org
from tests.chaos.clock import OffsetClock
from tests.chaos.sandboxes import Sandboxes
from tests.chaos.secrets import SecretLedger


@dataclass
class Stage:
    services: Services
    sandboxes: Sandboxes
    clock: OffsetClock
    connections: ConnectionService
    users: dict[str, int]  # email -> user id
    connection_ids: dict[str, int]  # email (the admin's: the organisation's Zoom) -> id
    slugs: list[str]
    workdir: Path
    ledger: SecretLedger  # every secret the sandboxes issued (for the secrets scan)
    # Booking uid -> the client's manage token, as booking returned it (the secrets scan
    # opens the client's pages with it).
    manage_tokens: dict[str, str] = field(default_factory=dict)

    def process_config(self) -> Path:
        """A file from which another process builds the same services (database, key,
        provider endpoints, clock): see :func:`services_from_config`."""
        path = self.workdir / "process.json"
        if not path.exists():
            settings = self.services.settings
            spec = {
                "settings": {
                    "data_dir": str(settings.data_dir),
                    "database_url": settings.effective_database_url,
                    "secret_keys": [k.get_secret_value() for k in settings.secret_keys],
                    "http_timeout_seconds": settings.http_timeout_seconds,
                    "providers": {
                        name: p.model_dump(mode="json")
                        | {
                            "client_secret": p.client_secret.get_secret_value(),
                            "webhook_secret": p.webhook_secret.get_secret_value(),
                        }
                        for name, p in settings.providers.items()
                    },
                },
                "clock": str(self.clock.path),
                "run_dir": str(self.workdir),
            }
            path.write_text(json.dumps(spec))
            path.chmod(0o600)  # it holds the encryption key and the sandbox apps' secrets
        return path


@asynccontextmanager
async def open_stage(
    database_url: str, workdir: Path, *, http_timeout: float
) -> AsyncIterator[Stage]:
    """Serve the sandboxes, seed the organisation on ``database_url`` (migrated, empty), and
    connect everyone through the real OAuth flow."""
    clock = OffsetClock(workdir / "clock")
    zoom_limits.reset()  # the plugin's rate limiters and daily blocks are process-wide
    sandboxes = Sandboxes(clock, hang_seconds=http_timeout + 0.4)
    ledger = SecretLedger(sandboxes)  # before anyone connects: every token is recorded
    with sandboxes.serving():
        settings = Settings(
            data_dir=workdir / "data",
            database_url=database_url,
            secret_keys=[generate_key()],
            http_timeout_seconds=http_timeout,
            providers=sandboxes.provider_settings(),
        )
        services = Services(settings=settings, clock=clock)
        try:
            org_id = org.seed_people(services, sandboxes)
            slugs = org.save_meeting_types(services, org_id)
            connections = ConnectionService(services)
            with services.sessions() as session:
                users = {email: uid for email, uid in session.execute(select(User.email, User.id))}
            made = await org.connect_everyone(connections, sandboxes, users)
            yield Stage(
                services, sandboxes, clock, connections, users, made, slugs, workdir, ledger
            )
        finally:
            await services.aclose()
            services.close()
