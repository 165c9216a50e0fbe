"""Run by test_refresh_across_processes: one OS process racing others on one connection.

Usage: python -m tests.refresh_race_process DATABASE_URL KEY CONNECTION_ID CALLS
"""

from __future__ import annotations

import asyncio
import sys

from meetbridge.conferencing.connections import ConnectionService
from meetbridge.models import Connection
from meetbridge.plugins import build_plugin_host
from meetbridge.services import Services
from meetbridge.settings import Settings
from tests.fakes import FakeProvider


async def main(url: str, key: str, connection_id: int, calls: int) -> None:
    fake = FakeProvider("fakevideo")
    fake.refresh_delay = 0.2  # hold the lock long enough for the other processes to queue
    settings = Settings(database_url=url, secret_keys=[key])
    services = Services(
        settings=settings, plugins=build_plugin_host(env={}, plugins=[("fakevideo", fake)])
    )
    with services.sessions() as session:
        conn = session.get(Connection, connection_id)
    creds = ConnectionService(services).credentials(conn)
    tokens = await asyncio.gather(*(creds.access_token() for _ in range(calls)))
    print(fake.refresh_calls, len(set(tokens)))
    services.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
