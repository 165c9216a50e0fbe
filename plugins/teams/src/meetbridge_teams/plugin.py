"""The Microsoft Teams provider plugin: how meetbridge talks to Microsoft Teams."""

from __future__ import annotations

from meetbridge.hookspecs import hookimpl
from meetbridge.providers import AuthKind, Capability, NotAvailableYet, ProviderInfo

NAME = "teams"

INFO = ProviderInfo(
    name=NAME,
    label="Microsoft Teams",
    auth_kind=AuthKind.OAUTH2,
    capabilities=frozenset({Capability.CONNECT, Capability.REFRESH}),
)


@hookimpl
def describe_provider() -> ProviderInfo:
    return INFO


def _not_yet(operation: str) -> NotAvailableYet:
    return NotAvailableYet(
        f"The Microsoft Teams plugin cannot {operation} yet; choose another location for now.",
        provider=NAME,
    )


@hookimpl
def authorization_url() -> None:
    raise _not_yet("connect accounts")


@hookimpl
def create_meeting() -> None:
    raise _not_yet("create meetings")
