"""The sandbox fault kit (meetbridge.testing.sandbox_faults), over real HTTP.

A tiny Starlette "provider" (a list of items behind a bearer token) is served by uvicorn in a
thread, with the kit's middleware in front, exactly as a plugin author would wire their own
sandbox: each generic kind, the provider's error factory, times and method matching, arming
from many threads while the server consumes, and paths matched below a mount point.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from meetbridge.testing.sandbox_faults import (
    GENERIC_KINDS,
    ConnectionDropped,
    FaultMiddleware,
    FiredFault,
    SandboxFaults,
    bearer_token,
    form_fields,
    json_answer,
    query_fields,
)
from meetbridge.testing.server import serve_in_thread

DROPPED = (httpx.RemoteProtocolError, httpx.ReadError)
KINDS = GENERIC_KINDS | {"5xx", "rate_limit"}


@dataclass
class Provider:
    """The fake provider's memory."""

    faults: SandboxFaults = field(default_factory=lambda: SandboxFaults(KINDS, hang_seconds=0.5))
    tokens: set[str] = field(default_factory=lambda: {"good"})
    items: list[str] = field(default_factory=list)
    revoked: list[tuple[str, bytes]] = field(default_factory=list)


def error_response(kind: str, path: str) -> Any:
    if kind == "5xx":
        return json_answer(500, {"error": "internal", "path": path})
    return json_answer(429, {"error": "slow down"}, {"Retry-After": "7"})


def build_app(provider: Provider) -> Starlette:
    async def items(request: Request) -> JSONResponse:
        if bearer_token(request.scope) not in provider.tokens:
            return JSONResponse({"error": "invalid_token"}, 401)
        if request.method == "POST":
            provider.items.append((await request.body()).decode())
            return JSONResponse({"id": len(provider.items)}, 201)
        return JSONResponse({"items": provider.items})

    def revoke(scope: Any, body: bytes) -> None:  # the grant of the token a form names
        provider.revoked.append((bearer_token(scope), body))
        for token in form_fields(body).get("token", []):
            provider.tokens.discard(token)

    return Starlette(
        routes=[Route("/v1/items", items, methods=["GET", "POST"])],
        middleware=[
            Middleware(
                FaultMiddleware,
                faults=provider.faults,
                error_response=error_response,
                revoke_grant=revoke,
            )
        ],
    )


@pytest.fixture
def provider() -> Provider:
    return Provider()


@pytest.fixture
def url(provider: Provider) -> Iterator[str]:
    with serve_in_thread(build_app(provider)) as base:
        yield f"{base}/v1/items"


@pytest.fixture
async def http() -> Any:
    async with httpx.AsyncClient(headers={"Authorization": "Bearer good"}, timeout=5) as client:
        yield client


async def test_without_faults_requests_pass_through(http, url, provider) -> None:
    assert (await http.post(url, content=b"one")).status_code == 201
    assert (await http.get(url)).json() == {"items": ["one"]}
    assert provider.faults.fired == []


async def test_error_kinds_are_answered_by_the_provider_factory(http, url, provider) -> None:
    provider.faults.fail_next("/v1/items", "5xx")
    provider.faults.fail_next("/v1/items", "rate_limit")
    failed = await http.post(url, content=b"one")
    assert failed.status_code == 500 and failed.json() == {"error": "internal", "path": "/v1/items"}
    assert failed.headers["content-type"] == "application/json"
    throttled = await http.post(url, content=b"two")
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "7"
    assert provider.items == []  # answered without acting
    assert provider.faults.fired == [("5xx", "/v1/items"), ("rate_limit", "/v1/items")]
    assert provider.faults.fired[0] == FiredFault(kind="5xx", path="/v1/items")


async def test_reset_before_drops_the_connection_without_acting(http, url, provider) -> None:
    provider.faults.fail_next("/v1/items", "reset_before")
    with pytest.raises(DROPPED):
        await http.post(url, content=b"one")
    assert provider.items == []
    assert (await http.post(url, content=b"two")).status_code == 201  # one time only


async def test_reset_after_acting_acts_then_drops(http, url, provider) -> None:
    provider.faults.fail_next("/v1/items", "reset_after_acting")
    with pytest.raises(DROPPED):
        await http.post(url, content=b"one")
    assert provider.items == ["one"]


async def test_timeout_after_acting_acts_then_holds_the_answer(http, url, provider) -> None:
    provider.faults.fail_next("/v1/items", "timeout_after_acting")
    with pytest.raises(httpx.ReadTimeout):
        await http.post(url, content=b"one", timeout=0.2)
    assert provider.items == ["one"]
    provider.faults.fail_next("/v1/items", "timeout_after_acting")
    started = time.monotonic()
    late = await http.post(url, content=b"two")
    assert late.status_code == 201 and late.json() == {"id": 2}  # the real answer, late
    assert time.monotonic() - started >= 0.5


async def test_hang_seconds_can_come_from_elsewhere(http) -> None:
    faults = SandboxFaults()
    hang = {"seconds": 0.3}

    async def ok(request: Request) -> JSONResponse:
        return JSONResponse({})

    app = Starlette(
        routes=[Route("/", ok)],
        middleware=[
            Middleware(FaultMiddleware, faults=faults, hang_seconds=lambda: hang["seconds"])
        ],
    )
    with serve_in_thread(app) as base:
        faults.fail_next("/", "timeout_after_acting")
        started = time.monotonic()
        assert (await http.get(f"{base}/")).status_code == 200
        assert 0.3 <= time.monotonic() - started < faults.hang_seconds


async def test_revoke_grant_revokes_first_then_the_app_sees_the_request(
    http, url, provider
) -> None:
    provider.faults.fail_next("/v1/items", "revoke_grant")
    answer = await http.post(url, content=b"token=good")
    assert provider.revoked == [("good", b"token=good")]  # the callback saw token and body
    assert answer.status_code == 401  # revoked first: the request fails as it naturally would
    provider.tokens.add("good")
    provider.faults.fail_next("/v1/items", "revoke_grant")
    answer = await http.post(url, content=b"token=someone-else")
    assert answer.status_code == 201
    assert provider.items == ["token=someone-else"]  # the app read the body the kit replayed


async def test_times_and_method_matching(http, url, provider) -> None:
    provider.faults.fail_next("/v1/items", "5xx", times=2, method="post")
    assert (await http.get(url)).status_code == 200  # another method: untouched
    assert (await http.post(url, content=b"a")).status_code == 500
    assert (await http.post(url, content=b"b")).status_code == 500
    assert (await http.post(url, content=b"c")).status_code == 201
    assert provider.faults.armed == []
    assert [kind for kind, _ in provider.faults.fired] == ["5xx", "5xx"]


async def test_prefixes_match_and_faults_fire_in_the_order_armed(http, url, provider) -> None:
    provider.faults.fail_next("/v2", "5xx")  # another prefix: never matches
    provider.faults.fail_next("/v1/", "rate_limit")
    provider.faults.fail_next("/v1/items", "5xx")
    assert (await http.get(url)).status_code == 429
    assert (await http.get(url)).status_code == 500
    assert (await http.get(url)).status_code == 200
    assert [f.path_prefix for f in provider.faults.armed] == ["/v2"]
    provider.faults.clear()
    assert provider.faults.armed == []
    assert len(provider.faults.fired) == 2  # clear() keeps the record


def test_unknown_kinds_are_refused() -> None:
    faults = SandboxFaults(KINDS)
    with pytest.raises(ValueError, match="unknown fault kind 'meteor'"):
        faults.fail_next("/", "meteor")
    with pytest.raises(ValueError, match="unknown fault kind"):
        SandboxFaults().fail_next("/", "5xx")  # by default only the generic kinds


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Switch threads as often as possible, so that unlocked code would interleave."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("busy_switching")
def test_arming_and_taking_from_many_threads_consume_each_fault_once() -> None:
    per_thread, threads = 500, 8

    def run(*targets: Any) -> None:
        running = [threading.Thread(target=target) for target in targets]
        for thread in running:
            thread.start()
        for thread in running:
            thread.join()

    for _ in range(5):  # races are a matter of luck: give them several chances
        faults = SandboxFaults(KINDS)
        results: list[list[str | None]] = [[] for _ in range(threads)]

        def arm(faults: SandboxFaults = faults) -> None:
            for _ in range(per_thread):
                faults.fail_next("/v1/items", "5xx")

        def take(out: list[str | None], faults: SandboxFaults = faults) -> None:
            out.extend(faults.take("GET", "/v1/items") for _ in range(per_thread + 10))

        run(*[arm] * threads)
        assert len(faults.armed) == per_thread * threads
        run(*[functools.partial(take, out) for out in results])
        taken = [kind for out in results for kind in out if kind is not None]
        assert len(taken) == len(faults.fired) == per_thread * threads
        assert faults.armed == []


async def test_arming_from_threads_while_the_server_consumes(http, url, provider) -> None:
    armed_per_thread, threads = 25, 4

    def arm() -> None:
        for _ in range(armed_per_thread):
            provider.faults.fail_next("/v1/items", "5xx", method="GET")
            time.sleep(0.001)

    armers = [threading.Thread(target=arm) for _ in range(threads)]
    for thread in armers:
        thread.start()
    statuses: list[int] = []
    while any(t.is_alive() for t in armers) or provider.faults.armed:
        batch = await asyncio.gather(*(http.get(url) for _ in range(10)))
        statuses += [r.status_code for r in batch]
    for thread in armers:
        thread.join()
    assert statuses.count(500) == armed_per_thread * threads == len(provider.faults.fired)
    assert set(statuses) <= {200, 500}


async def test_paths_are_matched_below_the_mount_point(http, provider) -> None:
    parent = Starlette(routes=[Mount("/sandbox/demo", app=build_app(provider))])
    with serve_in_thread(parent) as base:
        url = f"{base}/sandbox/demo/v1/items"
        provider.faults.fail_next("/sandbox", "5xx")  # the mount prefix is not part of it
        provider.faults.fail_next("/v1/items", "rate_limit")
        assert (await http.get(url)).status_code == 429
        assert provider.faults.fired == [("rate_limit", "/v1/items")]
        assert (await http.get(url)).status_code == 200
        provider.faults.fail_next("/v1/items", "reset_after_acting", method="POST")
        with pytest.raises(DROPPED):
            await http.post(url, content=b"mounted")
        assert provider.items == ["mounted"]


async def test_the_faults_can_be_looked_up_on_every_request(http) -> None:
    holder = {"faults": SandboxFaults(KINDS)}

    async def ok(request: Request) -> JSONResponse:
        return JSONResponse({})

    app = Starlette(
        routes=[Route("/", ok)],
        middleware=[
            Middleware(FaultMiddleware, lambda: holder["faults"], error_response=error_response)
        ],
    )
    with serve_in_thread(app) as base:
        holder["faults"] = replaced = SandboxFaults(KINDS)
        replaced.fail_next("/", "5xx")
        assert (await http.get(f"{base}/")).status_code == 500


async def test_deliberate_drops_are_not_logged_as_crashes(http, url, provider) -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("uvicorn.error")
    handler = Keep()
    logger.addHandler(handler)  # after uvicorn configured its logging
    try:
        provider.faults.fail_next("/v1/items", "reset_before")
        with pytest.raises(DROPPED):
            await http.get(url)
        await asyncio.sleep(0.1)
        assert not [r for r in records if r.exc_info and r.exc_info[0] is ConnectionDropped]
        logger.error("something else", exc_info=RuntimeError("real crash"))
        assert [r.getMessage() for r in records] == ["something else"]  # others still log
    finally:
        logger.removeHandler(handler)


def test_request_helpers() -> None:
    scope = {
        "headers": [(b"content-type", b"x"), (b"authorization", b"bearer  tok ")],
        "query_string": b"token=q&x=1",
    }
    assert bearer_token(scope) == "tok"
    assert bearer_token({"headers": [(b"authorization", b"Basic abc")]}) == ""
    assert form_fields(b"refresh_token=r&token=t") == {"refresh_token": ["r"], "token": ["t"]}
    assert query_fields(scope) == {"token": ["q"], "x": ["1"]}


def _docs_example() -> dict[str, Any]:
    text = (Path(__file__).resolve().parents[1] / "docs" / "plugins" / "sandbox.md").read_text()
    [code] = re.findall(
        r"<!-- example: a sandbox's faults with the kit -->\n```python\n(.*?)```", text, re.S
    )
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/plugins/sandbox.md", "exec"), namespace)  # noqa: S102 - our own doc
    return namespace


async def test_the_example_in_the_plugin_guide_works(http) -> None:
    example = _docs_example()
    state = example["SandboxState"]()
    state.tokens["good"] = "alice"
    app = example["create_app"](state)
    made: list[str] = []

    @app.post("/v1/meetings", status_code=201)
    async def create(request: Request) -> dict[str, Any]:
        if bearer_token(request.scope) not in state.tokens:
            return JSONResponse({"error": "invalid_token"}, 401)
        made.append("meeting")
        return {"id": len(made)}

    with serve_in_thread(app) as base:
        url = f"{base}/v1/meetings"
        state.faults.fail_next("/v1/meetings", "503_retry_after")
        unavailable = await http.post(url)
        assert unavailable.status_code == 503 and unavailable.headers["retry-after"] == "2"
        state.faults.fail_next("/v1/meetings", "reset_after_acting", method="POST")
        with pytest.raises(DROPPED):
            await http.post(url)
        assert made == ["meeting"]
        state.faults.fail_next("/v1/meetings", "revoke_grant")
        assert (await http.post(url)).status_code == 401
        assert state.tokens == {}
        assert [kind for kind, _ in state.faults.fired] == [
            "503_retry_after",
            "reset_after_acting",
            "revoke_grant",
        ]
