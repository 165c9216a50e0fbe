"""Starting a provider's sandbox over real HTTP, found through its ``ProviderInfo``.

A plugin names its sandbox in ``ProviderInfo.sandbox_app`` (``"package.sandbox:create_app"``).
By convention (docs/plugins/sandbox.md) that module also offers ``SandboxState`` (the world the
sandbox keeps, which tests seed, inspect and arm faults on) and ``sandbox_endpoints(base_url)``
(the endpoint settings that point the plugin at a sandbox served at ``base_url``).
"""

from __future__ import annotations

import importlib
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from meetbridge.plugins import PluginHost
from meetbridge.testing.server import serve_in_thread


class NoSandbox(LookupError):
    """The provider's plugin ships no sandbox (``ProviderInfo.sandbox_app`` is empty)."""


@dataclass(frozen=True)
class RunningSandbox:
    """A sandbox served on 127.0.0.1 for one test."""

    provider: str
    url: str
    state: Any  # the module's SandboxState, or None when it has none
    endpoints: dict[str, str] = field(default_factory=dict)


class SandboxStarter:
    """``start("zoom")`` serves the Zoom sandbox until :meth:`close` (the fixture does it)."""

    def __init__(self, host: PluginHost) -> None:
        self.host = host
        self._stack = ExitStack()

    def start(self, provider: str, state: Any = None) -> RunningSandbox:
        info = self.host.provider(provider)
        if not info.sandbox_app:
            raise NoSandbox(
                f"The {provider!r} plugin ships no sandbox (ProviderInfo.sandbox_app is empty);"
                " see docs/plugins/sandbox.md."
            )
        module_name, _, attribute = info.sandbox_app.partition(":")
        module = importlib.import_module(module_name)
        factory = getattr(module, attribute or "create_app")
        if state is None and hasattr(module, "SandboxState"):
            state = module.SandboxState()
        app = factory(state) if state is not None else factory()
        url = self._stack.enter_context(serve_in_thread(app))
        endpoints = (
            dict(module.sandbox_endpoints(url)) if hasattr(module, "sandbox_endpoints") else {}
        )
        return RunningSandbox(provider, url, state, endpoints)

    def close(self) -> None:
        self._stack.close()
