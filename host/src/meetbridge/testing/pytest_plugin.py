"""The ``meetbridge`` pytest plugin (registered through the ``pytest11`` entry point).

Fixtures for hosts and plugins alike:

``meetbridge_settings``  settings on a temporary data dir with a fresh key
``meetbridge_database_url``  a migrated database (SQLite per test, or PostgreSQL, see
    :mod:`meetbridge.testing.database`)
``meetbridge_services``  :class:`~meetbridge.services.Services` on that database
``plugin_host``  a fresh plugin host built from the installed entry points
``register_plugin``  register an extra plugin object for one test
``provider_sandbox``  ``provider_sandbox("zoom")`` serves that provider's sandbox over HTTP
    for one test (see :mod:`meetbridge.testing.conformance.sandboxes`)
``provider_harness``  the harness the provider conformance suite runs against; a plugin's
    tests define their own (see :mod:`meetbridge.testing.conformance`)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from meetbridge.testing import database


@pytest.fixture(scope="session")
def _meetbridge_db_template(tmp_path_factory: pytest.TempPathFactory) -> Any:
    url = database.configured_url()
    if database.is_postgres(url):
        pg = database.PostgresDatabase(url or "")
        yield pg
        pg.drop()
    else:
        yield database.SQLiteTemplate(tmp_path_factory.mktemp("meetbridge-template"))


@pytest.fixture
def meetbridge_database_url(_meetbridge_db_template: Any, tmp_path: Path) -> Iterator[str]:
    template = _meetbridge_db_template
    if isinstance(template, database.PostgresDatabase):
        template.truncate()
        yield template.url
    else:
        yield template.fresh(tmp_path)


@pytest.fixture
def meetbridge_settings(
    tmp_path: Path, meetbridge_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Any:
    from meetbridge.settings import Settings
    from meetbridge.vault import generate_key

    for name in ("MEETBRIDGE_CONFIG", "MEETBRIDGE_SECRET_KEYS", "MEETBRIDGE_ENV"):
        monkeypatch.delenv(name, raising=False)
    return Settings(
        data_dir=tmp_path / "data",
        database_url=meetbridge_database_url,
        secret_keys=[generate_key()],
    )


@pytest.fixture
def plugin_host() -> Any:
    from meetbridge.plugins import build_plugin_host

    return build_plugin_host(env={})


@pytest.fixture
def meetbridge_services(meetbridge_settings: Any, plugin_host: Any) -> Iterator[Any]:
    from meetbridge.services import Services

    services = Services(settings=meetbridge_settings, plugins=plugin_host)
    yield services
    services.close()


@pytest.fixture
def register_plugin(plugin_host: Any) -> Iterator[Any]:
    """``register_plugin(obj, name)``: register a plugin for this test only."""
    from meetbridge.plugins import _register

    registered: list[object] = []

    def register(plugin: object, name: str | None = None) -> object:
        _register(plugin_host, name or getattr(plugin, "__name__", repr(plugin)), plugin, None)
        registered.append(plugin)
        return plugin

    yield register
    for plugin in registered:
        if plugin_host.pm.is_registered(plugin):
            plugin_host.pm.unregister(plugin)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "meetbridge_conformance: a contract of the meetbridge provider conformance suite",
    )


@pytest.fixture
def provider_sandbox(plugin_host: Any) -> Iterator[Any]:
    """``provider_sandbox(name, state=None)``: serve that provider's sandbox for this test."""
    from meetbridge.testing.conformance.sandboxes import SandboxStarter

    starter = SandboxStarter(plugin_host)
    yield starter.start
    starter.close()


@pytest.fixture
def provider_harness() -> Any:
    """Overridden by a plugin's tests: the ProviderHarness the conformance suite runs against."""
    pytest.fail(
        "The provider conformance suite needs a `provider_harness` fixture returning your"
        " ProviderHarness subclass; define it in your test module or conftest.py (see"
        " docs/plugins/testing.md).",
        pytrace=False,
    )
