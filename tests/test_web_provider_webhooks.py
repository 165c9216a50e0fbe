"""``POST /webhooks/{provider}``: verified before anything, answered at once, acted on after."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time

import httpx
from sqlalchemy import select

from meetbridge.models import Connection, ConnectionStatus, WebhookReceipt
from tests.web_support import ZOOM_LICENSED

pytest_plugins = ["tests.web_fixtures"]


async def post(
    stack, headers: dict[str, str], body: bytes, provider: str = "zoom"
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        return await client.post(f"/webhooks/{provider}", content=body, headers=headers)


async def connection(stack) -> Connection:
    with stack.services.sessions() as session:
        return session.scalars(select(Connection)).one()


async def test_zoom_url_validation_is_answered_with_the_signed_token(stack) -> None:
    state = stack.sandboxes["zoom"].state
    headers, body = state.signed_webhook(
        "endpoint.url_validation", {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}
    )
    answer = await post(stack, headers, body)
    assert answer.status_code == 200
    expected = hmac.new(state.webhook_secret.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256)
    assert answer.json() == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": expected.hexdigest(),
    }


async def test_deauthorization_is_answered_fast_then_the_connection_is_forgotten(stack) -> None:
    ann = await stack.signed_in("ann")
    await stack.connect(ann, "zoom", ZOOM_LICENSED)
    headers, body = stack.sandboxes["zoom"].state.deauthorize(ZOOM_LICENSED)
    started = time.monotonic()
    answer = await post(stack, headers, body)
    assert answer.status_code in (200, 204) and time.monotonic() - started < 3
    for _ in range(100):  # applied in a background task after the answer
        conn = await connection(stack)
        if conn.status == ConnectionStatus.REVOKED:
            break
        await asyncio.sleep(0.02)
    assert conn.status == ConnectionStatus.REVOKED
    assert conn.token_ciphertext is None and conn.email == "" and conn.external_account_id == ""
    page = await ann.get("/profile/integrations")
    assert "removed from the account at the provider" in page.text
    replay = await post(stack, headers, body)  # the same delivery again
    assert replay.status_code == 409


async def test_forged_or_stale_deliveries_change_nothing(stack) -> None:
    ann = await stack.signed_in("ann")
    await stack.connect(ann, "zoom", ZOOM_LICENSED)
    state = stack.sandboxes["zoom"].state
    headers, body = state.deauthorize(ZOOM_LICENSED)
    forged = dict(headers, **{"x-zm-signature": "v0=" + "0" * 64})
    assert (await post(stack, forged, body)).status_code == 401
    tampered = body.replace(b"app_deauthorized", b"app_deauthorizeD")
    assert (await post(stack, headers, tampered)).status_code == 401
    old = int(time.time()) - 3600
    stale_headers, stale_body = state.signed_webhook(
        "app_deauthorized", json.loads(body)["payload"], timestamp=old
    )
    assert 400 <= (await post(stack, stale_headers, stale_body)).status_code < 500
    await asyncio.sleep(0.2)
    conn = await connection(stack)
    assert conn.status == ConnectionStatus.ACTIVE and conn.token_ciphertext is not None
    assert stack.count(WebhookReceipt) == 0


async def test_unknown_providers_and_providers_without_webhooks_are_404(stack) -> None:
    answer = await post(stack, {"content-type": "application/json"}, b"{}", provider="webex")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "unknown_provider"
    teams = await post(stack, {"content-type": "application/json"}, b"{}", provider="teams")
    assert teams.status_code == 404 and teams.json()["error"]["code"] == "no_webhooks"
