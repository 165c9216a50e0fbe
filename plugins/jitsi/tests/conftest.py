"""Fixtures for the Jitsi plugin tests.

Each test module skips itself when meetbridge-jitsi is not installed (for instance in an
environment synced before the plugin joined it): ``uv pip install -e plugins/jitsi --no-deps``.
"""

from __future__ import annotations

from typing import Any

import pytest

from meetbridge.plugins import PluginHost, build_plugin_host
from meetbridge.providers import ProviderContext
from meetbridge.settings import Settings


@pytest.fixture
def jitsi_host() -> PluginHost:
    return build_plugin_host(env={})


@pytest.fixture
def jitsi_context(jitsi_host: PluginHost) -> Any:
    """``jitsi_context(api_base_url=..., room_prefix=...)``: a context as the host builds it."""

    def build(*, api_base_url: str = "", **options: Any) -> ProviderContext:
        section: dict[str, Any] = {"options": options}
        if api_base_url:
            section["api_base_url"] = api_base_url
        settings = Settings(providers={"jitsi": section})
        return ProviderContext(settings=settings.provider(jitsi_host.provider("jitsi")), http=None)

    return build
