"""Zoom webhook deliveries: signature, timestamp window, replay keys, URL validation, events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from zoom_harness import FakeClock, zoom_settings

from meetbridge.plugins import build_plugin_host
from meetbridge.providers import ProviderContext
from meetbridge_zoom import webhooks
from meetbridge_zoom.sandbox import DEFAULT_WEBHOOK_SECRET, SandboxState

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def sandbox(clock) -> SandboxState:
    return SandboxState(clock=clock)  # used only to produce signed deliveries


@pytest.fixture
def deliver(clock):
    host = build_plugin_host(env={})

    async def deliver(headers, body, **settings_overrides):
        settings = zoom_settings({})
        if settings_overrides:
            settings.providers["zoom"] = settings.providers["zoom"].model_copy(
                update=settings_overrides
            )
        context = ProviderContext(
            settings=settings.provider(host.provider("zoom")), http=None, clock=clock
        )
        return await host.call(
            "handle_webhook", "zoom", context=context, headers=headers, body=body
        )

    return deliver


def test_the_published_url_validation_vector():
    assert webhooks.encrypted_token("secretValueTest", "qgg8vlvZRS6UYooatFL8Aw") == (
        "70c1f2e2e6ca2d39297490d1f9142c7d701415ea8e6151f6562a08fa657a40ff"
    )


async def test_url_validation_is_answered_with_the_encrypted_token(sandbox, deliver):
    headers, body = sandbox.signed_webhook(
        "endpoint.url_validation",
        {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"},
        secret="secretValueTest",
    )
    result = await deliver(headers, body, webhook_secret=SecretStr("secretValueTest"))
    assert result.status_code == 200 and result.events == ()
    assert result.body == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": "70c1f2e2e6ca2d39297490d1f9142c7d701415ea8e6151f6562a08fa657a40ff",
    }


async def test_app_deauthorized_becomes_a_deauthorized_event(sandbox, deliver):
    headers, body = sandbox.deauthorize("lena.licensed@example.com")
    result = await deliver(headers, body)
    assert result.status_code == 200
    (event,) = result.events
    assert event.kind == "deauthorized"
    assert event.external_account_id == "L1censedLenaTO8WbOqwIQ"
    assert event.organization_id == "SbxAcct1Q2uLZwqf0wM0bA"
    assert event.dedupe_key == ("app_deauthorized:L1censedLenaTO8WbOqwIQ:2026-03-02T15:00:00.000Z")
    assert event.occurred_at == NOW
    assert result.replay_key == (f"{headers['x-zm-request-timestamp']}:{headers['x-zm-signature']}")


async def test_zooms_retry_of_the_same_event_has_a_new_replay_key_but_the_same_dedupe_key(
    sandbox, deliver, clock
):
    headers, body = sandbox.deauthorize("lena.licensed@example.com")
    first = await deliver(headers, body)
    clock.advance(minutes=5)  # Zoom retries the same event later, signed anew
    retry_headers, retry_body = sandbox.signed_webhook(
        "app_deauthorized", json.loads(body)["payload"]
    )
    retry = await deliver(retry_headers, retry_body)
    assert retry.replay_key != first.replay_key
    assert retry.events[0].dedupe_key == first.events[0].dedupe_key


async def test_a_replayed_delivery_carries_the_same_replay_key(sandbox, deliver):
    headers, body = sandbox.deauthorize("lena.licensed@example.com")
    first, second = await deliver(headers, body), await deliver(headers, body)
    # The host stores replay keys and refuses the second one (test_zoom_host_webhooks.py).
    assert first.replay_key and first.replay_key == second.replay_key


@pytest.mark.parametrize(
    "tamper",
    ["wrong secret", "changed body", "no signature", "no timestamp", "bad timestamp"],
)
async def test_forged_deliveries_are_refused_without_events(sandbox, deliver, tamper):
    if tamper == "wrong secret":
        headers, body = sandbox.signed_webhook(
            "app_deauthorized", {"user_id": "u"}, secret="not-the-secret"
        )
    else:
        headers, body = sandbox.deauthorize("lena.licensed@example.com")
    if tamper == "changed body":
        body = body.replace(b"L1censedLenaTO8WbOqwIQ", b"Adm1nAdaQgePTO8WbOqwIQ")
    elif tamper == "no signature":
        del headers["x-zm-signature"]
    elif tamper == "no timestamp":
        del headers["x-zm-request-timestamp"]
    elif tamper == "bad timestamp":
        headers["x-zm-request-timestamp"] = "yesterday"
    result = await deliver(headers, body)
    assert result.status_code == 401 and result.events == () and not result.replay_key


@pytest.mark.parametrize(
    ("skew", "accepted"), [(-301, False), (-299, True), (299, True), (301, False)]
)
async def test_deliveries_more_than_five_minutes_off_are_stale(sandbox, deliver, skew, accepted):
    headers, body = sandbox.signed_webhook(
        "app_deauthorized",
        {"user_id": "u1", "account_id": "a1", "deauthorization_time": "2026-03-02T15:00:00Z"},
        timestamp=int(NOW.timestamp()) + skew,
    )
    result = await deliver(headers, body)
    assert (result.status_code == 200) is accepted
    assert bool(result.events) is accepted


async def test_a_signed_but_malformed_body_is_a_400_without_events(sandbox, deliver):
    headers, _ = sandbox.signed_webhook("x", {})
    body = b"{not json"
    ts = headers["x-zm-request-timestamp"]
    headers["x-zm-signature"] = webhooks.sign(DEFAULT_WEBHOOK_SECRET, ts, body)
    result = await deliver(headers, body)
    assert result.status_code == 400 and result.events == ()


@pytest.mark.parametrize(
    ("event", "kind"),
    [("meeting.deleted", "meeting_deleted"), ("meeting.updated", "meeting_updated")],
)
async def test_meeting_changes_made_in_zoom_become_events(sandbox, deliver, event, kind):
    payload = {
        "account_id": "a1",
        "operator": "lena.licensed@example.com",
        "object": {"id": 85123456789012, "uuid": "u==", "host_id": "h1"},
    }
    headers, body = sandbox.signed_webhook(event, payload)
    result = await deliver(headers, body)
    (found,) = result.events
    assert found.kind == kind and found.meeting_external_id == "85123456789012"
    assert found.dedupe_key.startswith(f"{event}:85123456789012:")


async def test_other_events_are_acknowledged_and_ignored(sandbox, deliver):
    headers, body = sandbox.signed_webhook("meeting.started", {"object": {"id": 1}})
    result = await deliver(headers, body)
    assert result.status_code == 200 and result.events == ()


async def test_without_a_configured_secret_nothing_is_trusted(sandbox, deliver):
    headers, body = sandbox.deauthorize("lena.licensed@example.com")
    result = await deliver(headers, body, webhook_secret=SecretStr(""))
    assert result.status_code == 503 and result.events == ()
    assert "WEBHOOK_SECRET" in result.body["error"]


async def test_the_admin_managed_apps_deliveries_verify_with_its_own_secret_token(sandbox, deliver):
    payload = {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}
    headers, body = sandbox.signed_webhook(
        "endpoint.url_validation", payload, secret="secretValueTest"
    )
    options = {"account_level_webhook_secret": "secretValueTest"}
    result = await deliver(headers, body, options=options)
    assert result.status_code == 200
    assert result.body["encryptedToken"] == (
        "70c1f2e2e6ca2d39297490d1f9142c7d701415ea8e6151f6562a08fa657a40ff"
    )
    assert (await deliver(headers, body)).status_code == 401  # not without that secret


async def test_a_non_ascii_signature_is_refused_not_a_crash(sandbox, deliver):
    headers, body = sandbox.deauthorize("lena.licensed@example.com")
    headers["x-zm-signature"] = "v0=é"
    assert (await deliver(headers, body)).status_code == 401
