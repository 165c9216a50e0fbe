"""How the plugin presents itself to the host: description, hooks, preflight, options."""

from __future__ import annotations

import httpx
import pytest
from google_meet_testkit import provider_context

from meetbridge.plugins import OperationNotSupported, PluginHost
from meetbridge.providers import Capability, ConnectedAccount, ProviderError, Secret, TokenSet
from meetbridge_google_meet.options import GoogleOptions, OptionsError


def test_the_provider_is_registered_through_its_entry_point(host: PluginHost) -> None:
    info = host.provider("google_meet")
    assert info.label == "Google Meet"
    assert info.scopes == ("openid", "email", "https://www.googleapis.com/auth/calendar.events")
    assert info.endpoints == {
        "authorize_url": "https://accounts.google.com/o/oauth2/v2/auth",
        "token_url": "https://oauth2.googleapis.com/token",
        "revoke_url": "https://oauth2.googleapis.com/revoke",
        "userinfo_url": "https://openidconnect.googleapis.com/v1/userinfo",
        "api_base_url": "https://www.googleapis.com/calendar/v3",
    }
    assert info.capabilities == {
        Capability.CONNECT,
        Capability.REFRESH,
        Capability.REVOKE,
        Capability.IDEMPOTENT_CREATE,
        Capability.DIAL_IN,
        Capability.PREFLIGHT,
    }
    assert not info.supports(Capability.ACCOUNT_LEVEL)
    assert info.sandbox_app == "meetbridge_google_meet.sandbox:create_app"
    record = next(r for r in host.records() if "google_meet" in r.providers)
    assert record.distribution == "meetbridge-google-meet"


@pytest.mark.parametrize("hook", ["get_host_join_url", "handle_webhook", "list_rooms"])
def test_hooks_google_has_no_use_for_are_not_implemented(host: PluginHost, hook: str) -> None:
    assert not host.implements(hook, "google_meet")


async def test_asking_for_a_host_join_url_is_a_clear_not_supported(
    host: PluginHost, clock: object
) -> None:
    async with httpx.AsyncClient() as http:
        ctx = provider_context(host, http, clock)
        with pytest.raises(OperationNotSupported, match="google_meet"):
            await host.call(
                "get_host_join_url", "google_meet", context=ctx, meeting=None, credentials=None
            )


def _account(account_type: str) -> ConnectedAccount:
    return ConnectedAccount(
        tokens=TokenSet(access_token=Secret("a")),
        external_account_id="1",
        email="x@example.com",
        account_type=account_type,
    )


@pytest.mark.parametrize(
    ("account_type", "minutes", "warned"),
    [
        ("personal", 90, True),
        ("personal", 60, False),
        ("personal", None, False),
        ("workspace", 240, False),
    ],
)
async def test_preflight_warns_free_accounts_about_the_60_minute_group_call_limit(
    host: PluginHost, clock: object, account_type: str, minutes: int | None, warned: bool
) -> None:
    async with httpx.AsyncClient() as http:
        ctx = provider_context(host, http, clock)
        warnings = await host.call(
            "preflight",
            "google_meet",
            context=ctx,
            account=_account(account_type),
            duration_minutes=minutes,
        )
    assert [w.code for w in warnings] == (["google_meet_personal_60_minutes"] if warned else [])
    if warned:
        assert "Google Workspace" in warnings[0].message


def test_options_defaults_suit_production() -> None:
    options = GoogleOptions.from_settings({}, "client-1")
    assert options.send_updates == "none"
    assert options.invite_attendees is False
    assert options.event_id_namespace == "client-1"
    assert options.conference_poll_attempts * options.conference_poll_interval_seconds == 5.0


@pytest.mark.parametrize(
    "raw",
    [{"send_updates": "sometimes"}, {"conference_poll_attempts": "many"}],
)
def test_bad_options_are_provider_errors_naming_the_option(raw: dict[str, object]) -> None:
    with pytest.raises(OptionsError) as caught:
        GoogleOptions.from_settings(raw)
    assert isinstance(caught.value, ProviderError)
    assert "providers.google_meet.options" in caught.value.message


def test_environment_strings_are_read_as_flags() -> None:
    assert GoogleOptions.from_settings({"invite_attendees": "true"}).invite_attendees is True
    assert GoogleOptions.from_settings({"invite_attendees": "0"}).invite_attendees is False
