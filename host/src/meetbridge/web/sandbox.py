"""``serve --sandbox`` (and ``meetbridge demo``): the providers' sandboxes inside the app.

Each installed provider that ships a sandbox (``ProviderInfo.sandbox_app``) is mounted at
``/sandbox/{provider}``, and the provider's settings are pointed at it: the sandbox's
endpoints (each plugin's ``sandbox_endpoints(base)``), its default client id and secret, and
the redirect URI of the actual base URL registered in the sandbox's state. The built-in three
are set up fully. Any other plugin's sandbox is set up by the convention every sandbox follows
(docs/plugins/sandbox.md: ``create_app(state)``, ``SandboxState``, ``sandbox_endpoints``): it
is mounted and its endpoints are pointed at it; OAuth client credentials and the redirect URI
of a third-party OAuth sandbox are left to the operator (the console says so).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from meetbridge.plugins import PluginHost
from meetbridge.providers import Capability, ProviderInfo
from meetbridge.settings import ProviderSettings, Settings


@dataclass
class SandboxMount:
    provider: str
    label: str
    path: str  # "/sandbox/zoom"
    app: Any
    state: Any
    accounts: tuple[str, ...] = ()  # sign-in emails people can use on its consent page
    settings: ProviderSettings | None = None  # the whole provider section, for the built-ins
    endpoints: dict[str, str] = field(default_factory=dict)  # only these, for other plugins
    notes: list[str] = field(default_factory=list)


Setup = Callable[[str, str], tuple[Any, Any, ProviderSettings, tuple[str, ...]]]


def _zoom(base: str, callback: str) -> tuple[Any, Any, ProviderSettings, tuple[str, ...]]:
    from meetbridge_zoom import sandbox as zs

    state = zs.SandboxState(redirect_uris=(*zs.DEFAULT_REDIRECT_URIS, callback))
    settings = ProviderSettings(
        client_id=zs.DEFAULT_CLIENT_ID,
        client_secret=zs.DEFAULT_CLIENT_SECRET,
        webhook_secret=zs.DEFAULT_WEBHOOK_SECRET,
        options={
            "account_level_client_id": zs.DEFAULT_ADMIN_CLIENT_ID,
            "account_level_client_secret": zs.DEFAULT_ADMIN_CLIENT_SECRET,
        },
        **zs.sandbox_endpoints(base),
    )
    accounts = tuple(u.email for u in state.users.values())
    return zs.create_app(state), state, settings, accounts


def _google(base: str, callback: str) -> tuple[Any, Any, ProviderSettings, tuple[str, ...]]:
    from meetbridge_google_meet import sandbox as gs
    from meetbridge_google_meet.sandbox.state import DEFAULT_REDIRECT_URIS

    state = gs.SandboxState(redirect_uris=(*DEFAULT_REDIRECT_URIS, callback))
    settings = ProviderSettings(
        client_id=gs.SANDBOX_CLIENT_ID,
        client_secret=gs.SANDBOX_CLIENT_SECRET,
        **gs.sandbox_endpoints(base),
    )
    accounts = tuple(sorted(a.email for a in state.accounts.values()))
    return gs.create_app(state), state, settings, accounts


def _teams(base: str, callback: str) -> tuple[Any, Any, ProviderSettings, tuple[str, ...]]:
    from meetbridge_teams import sandbox as ts

    state = ts.SandboxState()
    state.register_client(
        ts.DEFAULT_CLIENT_ID, ts.DEFAULT_CLIENT_SECRET, [*ts.DEFAULT_REDIRECT_URIS, callback]
    )
    settings = ProviderSettings(
        client_id=ts.DEFAULT_CLIENT_ID,
        client_secret=ts.DEFAULT_CLIENT_SECRET,
        **ts.sandbox_endpoints(base),
    )
    accounts = tuple(a.user_principal_name for a in state.accounts.values())
    return ts.create_app(state), state, settings, accounts


KNOWN: dict[str, Setup] = {"zoom": _zoom, "google_meet": _google, "teams": _teams}


def build_sandboxes(plugins: PluginHost, base_url: str) -> list[SandboxMount]:
    """A mount per installed provider with a sandbox, for an app served at ``base_url``."""
    base_url = base_url.rstrip("/")
    mounts = []
    for name, info in sorted(plugins.providers().items()):
        if not info.sandbox_app:
            continue
        path = f"/sandbox/{name}"
        callback = f"{base_url}/connect/{name}/callback"
        if name in KNOWN:
            app, state, settings, accounts = KNOWN[name](base_url + path, callback)
            mounts.append(SandboxMount(name, info.label, path, app, state, accounts, settings))
            continue
        mounts.append(_by_convention(info, base_url + path, callback))
    return mounts


def _by_convention(info: ProviderInfo, base: str, callback: str) -> SandboxMount:
    module_name, _, attr = info.sandbox_app.partition(":")
    module = importlib.import_module(module_name)
    state_class = getattr(module, "SandboxState", None)
    state = state_class() if state_class is not None else None
    factory = getattr(module, attr)
    app = factory(state) if state is not None else factory()
    endpoints = getattr(module, "sandbox_endpoints", None)
    path = base[base.index("/sandbox/") :]
    mount = SandboxMount(
        info.name,
        info.label,
        path,
        app,
        state,
        endpoints=dict(endpoints(base)) if endpoints else {},
    )
    if info.supports(Capability.CONNECT):
        mount.notes.append(
            f"{info.label}: set its sandbox's client id and secret in MEETBRIDGE_PROVIDERS__"
            f"{info.name.upper()}__..., and register {callback} in its sandbox."
        )
    return mount


def sandbox_settings(settings: Settings, mounts: list[SandboxMount]) -> Settings:
    """``settings`` with every automatically configured provider pointed at its sandbox."""
    providers = dict(settings.providers)
    for mount in mounts:
        if mount.settings is not None:
            providers[mount.provider] = mount.settings
        elif mount.endpoints:
            section = providers.get(mount.provider, ProviderSettings())
            providers[mount.provider] = section.model_copy(update=mount.endpoints)
    return settings.model_copy(update={"providers": providers})


def mount_sandboxes(app: FastAPI, mounts: list[SandboxMount]) -> None:
    for mount in mounts:
        # Unnamed: the sandboxes look up their own routes by name (request.url_for).
        app.mount(mount.path, mount.app)


# -- answering the sandboxes' consent pages (the demo and the tests do it over HTTP) -----------

# provider -> (the field naming the account, the Allow button, the Deny button, extra fields)
CONSENT_FORMS: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "zoom": ("user", "Allow", "Deny", {}),
    "google_meet": (
        "account",
        "Continue",
        "Cancel",
        # Google's granular consent: the calendar permission is a box the person ticks.
        {"scope": ["https://www.googleapis.com/auth/calendar.events"]},
    ),
    "teams": ("login", "Accept", "Cancel", {}),
}


async def answer_consent(
    browser: Any, page: Any, provider: str, account: str, *, allow: bool = True
) -> Any:
    """On a sandbox consent ``page``, sign in as ``account`` and Allow (or Deny); returns the
    provider's redirect back to meetbridge, not yet followed."""
    field_name, allow_button, deny_button, extra = CONSENT_FORMS[provider]
    data = {field_name: account, **(extra if allow else {})}
    return await browser.submit(
        page, data=data, button=allow_button if allow else deny_button, follow=False
    )
