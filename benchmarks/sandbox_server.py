"""The Zoom sandbox, served by uvicorn on 127.0.0.1 in its own process, for the benchmarks.

Run by :class:`common.SandboxProcess` (``python benchmarks/sandbox_server.py --members 20``);
prints ``PORT <n>`` once it listens. A separate process keeps the sandbox's own CPU work off
the benchmarked process's GIL and event loop, so meetbridge and the bare-httpx baseline face
the same provider.

The sandbox app is wrapped, not edited, by :class:`BenchWrapper`, a small ASGI middleware:

- every request to the sandbox gets a fixed added latency, half before the sandbox sees it
  and half before its answer leaves (a round trip to a provider that answers in ``latency``);
- ``/_bench/...`` is a control API the benchmark uses without latency: ``GET /_bench/stats``
  (refreshes, 429s, create timestamps), ``POST /_bench/config`` (latency, QPS limits, daily
  cap), ``POST /_bench/expire`` (expire every access token now), ``POST /_bench/reset``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
import time
from typing import Any

import uvicorn

from meetbridge.testing.server import free_port
from meetbridge_zoom.sandbox import SandboxState, create_app

ACCOUNT_ID = "SbxAcct1Q2uLZwqf0wM0bA"  # the seeded Pro account "Acme Tutoring"
REDIRECT_URI = "http://127.0.0.1:8000/connect/zoom/callback"


def member_email(index: int) -> str:
    return f"bench-host-{index}@example.com"


def seed_members(state: SandboxState, count: int) -> None:
    """``count`` licensed members of the seeded Pro account (they share its rate limits)."""
    for i in range(count):
        state.add_user(
            f"BenchHost{i:04d}xxxxxxxxxxxx"[:22], member_email(i), "Bench", f"Host{i}", ACCOUNT_ID
        )


class BenchWrapper:
    """ASGI middleware: fixed latency around the sandbox, and the ``/_bench`` control API."""

    def __init__(self, app: Any, state: SandboxState, latency: float) -> None:
        self.app = app
        self.state = state
        self.latency = latency
        self.create_times: list[float] = []  # monotonic arrival of each 201 create
        self.requests = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith("/_bench/"):
            await self._control(scope, receive, send)
            return
        self.requests += 1
        half = self.latency / 2
        if half:
            await asyncio.sleep(half)
        arrived = time.monotonic()
        is_create = scope["method"] == "POST" and scope["path"].endswith("/meetings")

        async def delayed_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                if is_create and message["status"] == 201:
                    self.create_times.append(arrived)
                if half:
                    await asyncio.sleep(half)
            await send(message)

        await self.app(scope, receive, delayed_send)

    async def _control(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        action = scope["path"].removeprefix("/_bench/")
        state = self.state
        answer: dict[str, Any] = {"ok": True}
        if action == "stats":
            answer = {
                "refresh_calls": state.refresh_calls,
                "token_calls": state.token_calls,
                "rate_limited": state.rate_limited,
                "requests": self.requests,
                "create_times": self.create_times,
                "meetings": len(state.meetings),
                # This process's CPU seconds so far: the provider's share of the machine.
                "cpu_s": time.process_time(),
            }
        elif action == "config":
            options = json.loads(body or b"{}")
            if "latency_ms" in options:
                self.latency = float(options["latency_ms"]) / 1000
            if "qps_enabled" in options:
                state.qps_enabled = bool(options["qps_enabled"])
            if "daily_cap" in options:
                state.daily_cap = int(options["daily_cap"])
            if "medium_qps" in options:
                state.plan_qps["pro"]["medium"] = int(options["medium_qps"])
        elif action == "expire":
            state.expire_access_tokens()
        elif action == "reset":
            with state.lock:
                state.refresh_calls = state.token_calls = state.rate_limited = 0
                state.qps_windows.clear()
                state.daily_counts.clear()
                state.requests.clear()
            self.create_times = []
            self.requests = 0
        else:
            answer = {"error": f"unknown control {action!r}"}
        raw = json.dumps(answer).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200 if "error" not in answer else 404,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": raw})


def exit_with_parent(server: uvicorn.Server, poll_seconds: float = 0.5) -> None:
    """Stop serving when the benchmark that started us is gone (killed, crashed)."""
    parent = os.getppid()

    def watch() -> None:
        while not server.should_exit:
            if os.getppid() != parent:
                server.should_exit = True
                return
            time.sleep(poll_seconds)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args(argv)
    state = SandboxState(redirect_uris=[REDIRECT_URI])
    seed_members(state, args.members)
    app = BenchWrapper(create_app(state), state, args.latency_ms / 1000)
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",  # benchmark traffic stays on this machine
        port=port,
        log_level="warning",
        lifespan="off",
        access_log=False,
        backlog=4096,
    )
    server = uvicorn.Server(config)
    exit_with_parent(server)
    print(f"PORT {port}", flush=True)
    server.run()
    sys.exit(0)


if __name__ == "__main__":
    main()
