"""``--sandbox``: every installed provider's sandbox is mounted and the provider pointed at it,
the built-ins fully (client, secret, redirect URI), others by the sandbox convention."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from meetbridge.hookspecs import hookimpl
from meetbridge.plugins import build_plugin_host
from meetbridge.providers import AuthKind, Capability, ProviderInfo
from meetbridge.settings import Settings
from meetbridge.testing.server import serve_in_thread
from meetbridge.web.sandbox import build_sandboxes, mount_sandboxes, sandbox_settings

BASE = "http://127.0.0.1:8123"


# -- a third-party plugin whose sandbox follows the convention (this module is it) ----------
class SandboxState:
    def __init__(self) -> None:
        self.opened: list[str] = []


def create_app(state: SandboxState | None = None) -> FastAPI:
    state = state or SandboxState()
    app = FastAPI()

    @app.get("/room/{name}")
    async def room(name: str) -> PlainTextResponse:
        state.opened.append(name)
        return PlainTextResponse(f"room {name}")

    return app


def sandbox_endpoints(base_url: str) -> dict[str, str]:
    return {"api_base_url": base_url.rstrip("/") + "/", "token_url": base_url + "/token"}


class Webex:
    @hookimpl
    def describe_provider(self) -> ProviderInfo:
        return ProviderInfo(
            name="webex",
            label="Webex",
            auth_kind=AuthKind.OAUTH2,
            capabilities=frozenset({Capability.CONNECT}),
            sandbox_app=f"{__name__}:create_app",
        )


def test_the_built_ins_are_pointed_at_their_mounted_sandboxes_with_their_credentials() -> None:
    host = build_plugin_host(env={})
    mounts = {m.provider: m for m in build_sandboxes(host, BASE)}
    settings = sandbox_settings(Settings(base_url=BASE), list(mounts.values()))
    zoom = settings.provider(host.provider("zoom"))
    assert zoom.endpoint("token_url") == f"{BASE}/sandbox/zoom/oauth/token"
    assert zoom.client_id == "sandbox-zoom-client" and zoom.webhook_secret.reveal()
    assert (
        f"{BASE}/connect/zoom/callback" in mounts["zoom"].state.apps[zoom.client_id].redirect_uris
    )
    google = settings.provider(host.provider("google_meet"))
    assert google.endpoint("authorize_url") == f"{BASE}/sandbox/google_meet/o/oauth2/v2/auth"
    assert (
        f"{BASE}/connect/google_meet/callback"
        in mounts["google_meet"].state.clients[google.client_id].redirect_uris
    )
    teams = settings.provider(host.provider("teams"))
    assert teams.endpoint("api_base_url") == f"{BASE}/sandbox/teams/v1.0"
    assert (
        f"{BASE}/connect/teams/callback"
        in mounts["teams"].state.clients[teams.client_id].redirect_uris
    )
    assert mounts["zoom"].accounts and mounts["teams"].accounts


async def test_other_plugins_sandboxes_are_mounted_by_the_convention() -> None:
    host = build_plugin_host(env={"MEETBRIDGE_LOAD_PLUGINS": "webex"}, plugins=[("webex", Webex())])
    [mount] = build_sandboxes(host, BASE)
    assert mount.path == "/sandbox/webex" and isinstance(mount.state, SandboxState)
    assert "register http://127.0.0.1:8123/connect/webex/callback" in mount.notes[0]
    existing = Settings(providers={"webex": {"client_id": "mine"}})
    webex = sandbox_settings(existing, [mount]).provider(host.provider("webex"))
    assert webex.client_id == "mine"  # what the operator set stays
    assert webex.endpoint("token_url") == f"{BASE}/sandbox/webex/token"
    app = FastAPI()
    mount_sandboxes(app, [mount])
    with serve_in_thread(app) as url:
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"{url}/sandbox/webex/room/abc")
    assert answer.text == "room abc" and mount.state.opened == ["abc"]
