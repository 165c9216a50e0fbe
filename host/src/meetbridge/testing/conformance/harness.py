"""What a provider plugin supplies so the conformance suite can test it: a harness.

A harness knows the one thing the suite cannot know: how to reach the plugin's sandbox (or
test double) and look inside it. The suite drives the plugin through a real plugin host, as
meetbridge does; the harness builds the context pointed at the sandbox, plays the person on
the consent page, reports which meetings the provider now holds, and arms faults.

Only :meth:`ProviderHarness.context` is required of every harness. A provider with the
``connect`` capability must also implement :meth:`~ProviderHarness.consent`, and one that keeps
meetings (every provider with an API) :meth:`~ProviderHarness.live_meetings`: without them the
core contract cannot be checked, so the suite fails and says which method to write. Faults and
killing a grant are optional; the contracts that need them are skipped, with a reason, when the
harness cannot do them.
"""

from __future__ import annotations

import abc
import socket
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from meetbridge.plugins import PluginHost, build_plugin_host
from meetbridge.providers import ConnectedAccount, ProviderContext

# The operations a fault can be armed for, and the faults (see ProviderHarness.fail_next).
OPERATIONS = ("create", "update", "delete", "refresh", "revoke")
FAULTS = ("5xx", "reset_after_acting", "rate_limit")


class HarnessLacks(Exception):
    """A harness method the suite needed is not implemented by this harness."""

    def __init__(self, method: str, what: str) -> None:
        super().__init__(f"the harness does not implement {method}() ({what})")
        self.method = method
        self.what = what


@dataclass(frozen=True)
class ObservedMeeting:
    """A meeting as the provider (its sandbox) holds it, read by the harness, not the plugin."""

    external_id: str
    start: datetime  # an aware instant
    duration_minutes: int
    topic: str = ""


class ProviderHarness(abc.ABC):
    """Subclass this for your provider and return it from a ``provider_harness`` fixture.

    ``http`` is an ``httpx.AsyncClient`` the suite opens for each test, inside that test's
    event loop, before it calls anything else; build contexts with it.
    """

    #: The provider's name, as the plugin's ``describe_provider`` gives it.
    provider: str = ""
    #: The redirect URI registered at the sandbox for the connect flow.
    redirect_uri: str = ""
    #: False for providers that keep nothing at the provider (Jitsi: a meeting is a URL);
    #: the contracts that look at the provider's side are then skipped.
    keeps_meetings: bool = True
    #: Set by the suite for each test.
    http: httpx.AsyncClient | None = None

    # -- required ------------------------------------------------------------------------------
    @abc.abstractmethod
    def context(self, **options: Any) -> ProviderContext:
        """A context whose endpoints point at the sandbox; ``options`` go to settings.options."""

    # -- the host and time -----------------------------------------------------------------------
    def plugin_host(self) -> PluginHost:
        """The plugin host the suite calls hooks through: built once per harness from the
        installed entry points. Override to register a plugin object that is not installed:
        ``build_plugin_host(env={"MEETBRIDGE_LOAD_PLUGINS": ""}, plugins=[("webex", module)])``.
        """
        host = self.__dict__.get("_plugin_host")
        if host is None:
            host = self.__dict__["_plugin_host"] = build_plugin_host(env={})
        return host

    def clock(self) -> datetime:
        """Now, for the sandbox, the plugin and the credentials (override with a fake clock)."""
        return datetime.now(UTC)

    # -- the person at the provider --------------------------------------------------------------
    async def consent(
        self, authorization_url: str, *, allow: bool = True, account_level: bool = False
    ) -> Mapping[str, str]:
        """Open ``authorization_url`` over HTTP and answer the consent page as a person would
        (an admin when ``account_level``); return the query of the redirect back to
        meetbridge (``code`` and ``state``, or ``error`` when ``allow`` is false)."""
        raise HarnessLacks("consent", "needed for providers with the connect capability")

    def kill_grant(self, account: ConnectedAccount) -> None:
        """Make the provider forget the grant behind ``account`` (revoked, expired...)."""
        raise HarnessLacks("kill_grant", "needed for the dead-grant contracts")

    # -- the provider's side -----------------------------------------------------------------------
    async def live_meetings(self) -> list[ObservedMeeting]:
        """Every meeting the provider holds now (not deleted), read from the sandbox."""
        raise HarnessLacks("live_meetings", "needed for providers that keep meetings")

    async def find_meeting(self, external_id: str) -> ObservedMeeting | None:
        """The live meeting with this id, or None."""
        return next((m for m in await self.live_meetings() if m.external_id == external_id), None)

    def fail_next(self, operation: str, fault: str, *, times: int = 1) -> None:
        """Make the next ``times`` requests of ``operation`` fail with ``fault``.

        Operations: ``create``, ``update``, ``delete`` (meeting calls), ``refresh`` (the
        token endpoint), ``revoke``. Faults: ``5xx`` (a 500 without acting),
        ``reset_after_acting`` (the provider acts, then the connection drops before the
        answer), ``rate_limit`` (the provider throttles). Raise :class:`HarnessLacks` for a
        pair the sandbox cannot do.
        """
        raise HarnessLacks("fail_next", f"needed to inject {fault!r} on {operation!r}")

    # -- helpers -------------------------------------------------------------------------------
    def unreachable_context(self) -> ProviderContext:
        """A context like :meth:`context` whose every endpoint is a closed local port."""
        context = self.context()
        dead = closed_port_netloc()
        settings = context.settings
        endpoints = {key: _with_netloc(url, dead) for key, url in settings.endpoints.items()}
        return replace(context, settings=replace(settings, endpoints=endpoints))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} for {self.provider or '?'}>"


def closed_port_netloc() -> str:
    """``127.0.0.1:PORT`` for a port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"127.0.0.1:{port}"


def _with_netloc(url: str, netloc: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("http", netloc, parts.path, parts.query, parts.fragment))
