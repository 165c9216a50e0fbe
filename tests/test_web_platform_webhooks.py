"""Signed webhooks to the platform: queued with the change that causes them (through the
outbox), delivered with an HMAC signature the platform can verify."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from meetbridge.models import Connection, ConnectionStatus, OutboundMessage, WebhookSubscription
from meetbridge.notifications.delivery import DeliveryError, send_now
from meetbridge.testing.server import serve_in_thread
from meetbridge.web import platform_events, platform_webhooks
from meetbridge.web.platform_webhooks import sign, verify_signature
from tests.web_support import ZOOM_LICENSED

pytest_plugins = ["tests.web_fixtures"]


class Platform:
    """The receiving end: records deliveries; answers ``status``."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 204

    async def events(self, request: Request) -> Response:
        self.received.append(
            ({k.lower(): v for k, v in request.headers.items()}, await request.body())
        )
        return Response(status_code=self.status)

    def of_type(self, kind: str) -> list[dict]:
        return [json.loads(b) for h, b in self.received if h["meetbridge-event"] == kind]


@pytest.fixture
def platform() -> Iterator[tuple[Platform, str]]:
    receiver = Platform()
    app = Starlette(routes=[Route("/events", receiver.events, methods=["POST"])])
    with serve_in_thread(app) as url:
        yield receiver, f"{url}/events"


async def subscribe(stack, url: str, events: list[str] | None = None) -> str:
    answer = await stack.api().post(
        "/webhook-subscriptions", json={"url": url, "events": events or []}
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["secret"]


def webhook_rows(stack) -> list[OutboundMessage]:
    with stack.services.sessions() as session:
        return list(
            session.scalars(select(OutboundMessage).where(OutboundMessage.channel == "webhook"))
        )


async def test_a_provisioned_meeting_is_delivered_signed_to_the_platform(stack, platform) -> None:
    receiver, url = platform
    secret = await subscribe(stack, url)
    ann = await stack.signed_in("ann")
    await stack.connect(ann, "zoom", ZOOM_LICENSED)
    slug = stack.meeting_type(location="zoom")
    start = await stack.first_slot(slug)
    made = await stack.api().post(
        "/bookings",
        json={
            "meeting_type": slug,
            "start": start.isoformat(),
            "name": "Casey",
            "email": "casey@client.test",
            "timezone": "UTC",
        },
    )
    uid = made.json()["uid"]
    assert [m.kind for m in webhook_rows(stack)] == ["conferencing.provisioned"]
    stack.on_server(send_now(stack.services))
    [(headers, body)] = receiver.received
    assert verify_signature(
        secret, headers["meetbridge-timestamp"], body, headers["meetbridge-signature"]
    )
    event = json.loads(body)
    assert event["type"] == headers["meetbridge-event"] == "conferencing.provisioned"
    assert event["id"] == headers["meetbridge-delivery"]
    assert event["data"]["booking"]["uid"] == uid and event["data"]["provider"] == "zoom"
    assert event["data"]["join_url"] == made.json()["conferencing"]["join_url"]
    assert "zak=" not in body.decode() and "/s/" not in body.decode()
    assert [m.status for m in webhook_rows(stack)] == ["sent"]


async def test_disconnect_and_broken_connections_are_told_to_the_platform(stack, platform) -> None:
    receiver, url = platform
    await subscribe(stack, url, ["connection.revoked", "connection.needs_reconnect"])
    ann = await stack.signed_in("ann")
    await stack.connect(ann, "zoom", ZOOM_LICENSED)
    await stack.connect(ann, "google_meet", "alice@example.com")
    with stack.services.sessions() as session, session.begin():
        google = session.scalars(
            select(Connection).where(Connection.provider == "google_meet")
        ).one()
        google.status = ConnectionStatus.NEEDS_RECONNECT
        google.last_error = "Token has been expired or revoked."
    zoom_id = (await stack.api().get("/connections", params={"provider": "zoom"})).json()[0]["id"]
    confirm = await ann.get(f"/profile/integrations/{zoom_id}/disconnect")
    await ann.submit(confirm, action=f"/profile/integrations/{zoom_id}/disconnect")
    stack.on_server(send_now(stack.services))
    [broken] = receiver.of_type("connection.needs_reconnect")
    assert broken["data"]["connection"]["provider"] == "google_meet"
    assert broken["data"]["reason"] == "Token has been expired or revoked."
    [revoked] = receiver.of_type("connection.revoked")
    assert revoked["data"]["connection"] == {
        "id": zoom_id,
        "provider": "zoom",
        "owner": "ann@acme.test",
        "status": "revoked",
    }


async def test_a_booking_no_provider_can_host_is_a_conferencing_failed_event(
    stack, platform
) -> None:
    receiver, url = platform
    await subscribe(stack, url, ["conferencing.failed"])
    slug = stack.meeting_type(location="zoom")  # nobody connected anything
    start = await stack.first_slot(slug)
    made = await stack.api().post(
        "/bookings",
        json={
            "meeting_type": slug,
            "start": start.isoformat(),
            "name": "Casey",
            "email": "casey@client.test",
            "timezone": "UTC",
        },
    )
    assert made.json()["conferencing"]["status"] == "none"
    stack.on_server(send_now(stack.services))
    [failed] = receiver.of_type("conferencing.failed")
    assert failed["data"]["reason"] == "no_video_connection"
    assert "ann@acme.test has not connected zoom" in failed["data"]["message"]


def test_the_final_failure_of_a_booking_is_an_event_and_a_rollback_is_none(
    meetbridge_services,
) -> None:
    from tests.world import build_world

    world = build_world(meetbridge_services.settings)
    try:
        services = world.services
        platform_events.install_event_capture(services.sessions)
        assert services.vault is not None
        with services.sessions() as session, session.begin():
            platform_webhooks.create_subscription(
                session,
                services.vault,
                organization_id=world.org_id,
                url="https://platform.example/hook",
                events=["conferencing.failed"],
            )
        slug = world.meeting_type(location="in_person", location_value="HQ")
        import asyncio

        booking = asyncio.run(world.book(slug))
        from meetbridge.models import Meeting

        with services.sessions() as session, session.begin():
            session.add(
                Meeting(
                    booking_id=booking.booking_id,
                    provider="zoom",
                    status="failed",
                    last_error="Zoom said no.",
                )
            )
        with services.sessions() as session, session.begin():  # what mark_failed queues
            session.add(
                OutboundMessage(
                    channel="email",
                    kind="conferencing_failed",
                    recipient="ann@acme.test",
                    booking_id=booking.booking_id,
                )
            )
        with services.sessions() as session:
            session.begin()
            session.add(Connection(organization_id=world.org_id, provider="zoom"))
            session.flush()
            conn = session.scalars(select(Connection)).one()
            conn.status = ConnectionStatus.REVOKED
            session.rollback()  # nothing committed: nothing told
        rows = [m for m in world.outbox() if m.channel == "webhook"]
        assert [m.kind for m in rows] == ["conferencing.failed"]
        event = rows[0].payload["event"]
        assert (
            event["data"]["reason"] == "provider_error"
            and event["data"]["message"] == "Zoom said no."
        )
    finally:
        world.services.close()


def test_signatures_fail_on_any_change_wrong_secret_or_old_timestamp() -> None:
    now = int(time.time())
    body = b'{"type":"conferencing.provisioned"}'
    good = sign("whsec_a", now, body)
    assert verify_signature("whsec_a", str(now), body, good)
    assert not verify_signature("whsec_a", str(now), body + b" ", good)
    assert not verify_signature("whsec_b", str(now), body, good)
    assert not verify_signature("whsec_a", str(now + 1), body, good)
    old = now - 3600
    assert not verify_signature("whsec_a", str(old), body, sign("whsec_a", old, body))
    assert not verify_signature("whsec_a", "yesterday", body, good)


async def test_a_refusing_platform_is_retried_and_gone_pauses_the_subscription(
    stack, platform
) -> None:
    receiver, url = platform
    secret = await subscribe(stack, url)
    with stack.services.sessions() as session:
        sub = session.scalars(select(WebhookSubscription)).one()
        assert secret.encode() not in sub.secret_ciphertext  # stored encrypted
    message = SimpleNamespace(
        recipient=url,
        payload={
            "subscription_id": sub.id,
            "event": {"id": "evt_1", "type": "connection.revoked", "created_at": "now", "data": {}},
        },
    )
    ann = await stack.signed_in("ann")  # any request, so the server loop is known
    del ann
    receiver.status = 500
    with pytest.raises(DeliveryError) as failed:
        stack.on_server(platform_webhooks.deliver(stack.services, message))
    assert failed.value.retryable and "HTTP 500" in failed.value.message
    receiver.status = 410
    with pytest.raises(DeliveryError) as gone:
        stack.on_server(platform_webhooks.deliver(stack.services, message))
    assert not gone.value.retryable
    with stack.services.sessions() as session:
        assert session.get(WebhookSubscription, sub.id).active is False
    stack.on_server(platform_webhooks.deliver(stack.services, message))  # paused: dropped
    assert len(receiver.received) == 2
