"""What every provider call costs in the HTTP stack, counted (not timed).

httpcore asks, on each connection-pool lock it sets up, whether ``sniffio`` can be imported;
a failed import is not cached, so without sniffio installed every request searched all of
``sys.path`` (about seven file-system look-ups per request, ~0.7 ms of CPU here; see
docs/performance.md). meetbridge depends on sniffio for that reason; this test pins it by
counting path searches during real requests to a server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import importlib.machinery

import httpx
import pytest

from meetbridge.services import Services
from meetbridge.settings import Settings

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


async def _serve_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionResetError):
        pass
    writer.close()


def test_requests_through_the_services_client_never_search_the_import_path(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    searches: list[str] = []
    find_spec = importlib.machinery.PathFinder.find_spec

    def counting_find_spec(cls, name, path=None, target=None):  # type: ignore[no-untyped-def]
        searches.append(name)
        return find_spec(name, path, target)

    async def scenario() -> list[int]:
        server = await asyncio.start_server(_serve_ok, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        services = Services(Settings(data_dir=tmp_path))
        try:
            client: httpx.AsyncClient = services.http
            await client.get(url)  # the first request may import what it needs once
            monkeypatch.setattr(
                importlib.machinery.PathFinder, "find_spec", classmethod(counting_find_spec)
            )
            statuses = [(await client.get(url)).status_code for _ in range(20)]
            monkeypatch.undo()
            return statuses
        finally:
            await services.aclose()
            services.close()
            server.close()
            await server.wait_closed()

    statuses = asyncio.run(scenario())
    assert statuses == [200] * 20
    assert searches == [], f"requests searched sys.path for {sorted(set(searches))}"
