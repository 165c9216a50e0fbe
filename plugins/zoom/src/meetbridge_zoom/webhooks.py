"""Zoom webhook deliveries: verify, answer URL validation, and read the events.

Zoom signs each request with the app's *secret token*: ``x-zm-signature`` is
``"v0=" + hex(HMAC-SHA256(secret, "v0:{x-zm-request-timestamp}:{raw body}"))``. The raw bytes
are signed, so they are verified before any JSON parsing. A delivery older or newer than five
minutes is refused, and ``replay_key`` lets the host refuse the same delivery twice (it keeps
the keys in its database, so the check holds across processes).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from meetbridge.providers import ProviderContext, Secret, WebhookEvent, WebhookResult

TIMESTAMP_HEADER = "x-zm-request-timestamp"
SIGNATURE_HEADER = "x-zm-signature"
MAX_SKEW_SECONDS = 300

_MEETING_EVENTS = {"meeting.deleted": "meeting_deleted", "meeting.updated": "meeting_updated"}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``x-zm-signature`` value Zoom sends for ``body`` at ``timestamp``."""
    message = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def encrypted_token(secret: str, plain_token: str) -> str:
    """The ``encryptedToken`` answering an ``endpoint.url_validation`` challenge."""
    return hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()


def _refuse(status: int, error: str) -> WebhookResult:
    return WebhookResult(status_code=status, body={"error": error})


def secret_tokens(context: ProviderContext) -> list[str]:
    """The apps' secret tokens: the main app's, and the admin-managed app's if configured."""
    tokens = [context.settings.webhook_secret.reveal()]
    extra = context.settings.options.get("account_level_webhook_secret") or ""
    tokens.append(extra.reveal() if isinstance(extra, Secret) else str(extra))
    return [token for token in tokens if token]


def handle(context: ProviderContext, headers: Mapping[str, str], body: bytes) -> WebhookResult:
    """Verify a delivery and return the answer plus the events to act on after answering."""
    keys = secret_tokens(context)
    if not keys:
        return _refuse(
            503, "Zoom webhooks are not configured: set MEETBRIDGE_PROVIDERS__ZOOM__WEBHOOK_SECRET."
        )
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = lowered.get(TIMESTAMP_HEADER, "").strip()
    signature = lowered.get(SIGNATURE_HEADER, "").strip()
    if not timestamp or not signature:
        return _refuse(401, "missing Zoom signature headers")
    try:
        sent_at = int(timestamp)
    except ValueError:
        return _refuse(401, "malformed Zoom request timestamp")
    # Each app signs with its own secret token; the one that matches answers validation.
    secret = next(
        (
            k
            for k in keys
            if hmac.compare_digest(sign(k, timestamp, body).encode(), signature.encode())
        ),
        None,
    )
    if secret is None:
        return _refuse(401, "signature does not match")
    now = context.clock().timestamp()
    if abs(now - sent_at) > MAX_SKEW_SECONDS:
        return _refuse(401, "stale delivery (timestamp more than five minutes away)")
    try:
        message = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _refuse(400, "body is not JSON")
    if not isinstance(message, dict):
        return _refuse(400, "body is not a JSON object")
    replay_key = f"{timestamp}:{signature}"
    event = str(message.get("event") or "")
    payload = message.get("payload") if isinstance(message.get("payload"), dict) else {}
    if event == "endpoint.url_validation":
        plain = str(payload.get("plainToken") or "")
        if not plain:
            return _refuse(400, "url_validation without plainToken")
        answer = {"plainToken": plain, "encryptedToken": encrypted_token(secret, plain)}
        return WebhookResult(status_code=200, body=answer, replay_key=replay_key)
    events = _events(event, payload, message)
    return WebhookResult(status_code=200, events=events, replay_key=replay_key)


def _events(
    event: str, payload: dict[str, Any], message: dict[str, Any]
) -> tuple[WebhookEvent, ...]:
    if event == "app_deauthorized":
        user_id = str(payload.get("user_id") or "")
        when = str(payload.get("deauthorization_time") or "")
        if not user_id:
            return ()
        return (
            WebhookEvent(
                kind="deauthorized",
                external_account_id=user_id,
                organization_id=str(payload.get("account_id") or ""),
                occurred_at=_parse_time(when),
                dedupe_key=f"app_deauthorized:{user_id}:{when}",
                data={"client_id": str(payload.get("client_id") or "")},
            ),
        )
    if event in _MEETING_EVENTS:
        meeting = payload.get("object") if isinstance(payload.get("object"), dict) else {}
        meeting_id = str(meeting.get("id") or "")
        if not meeting_id:
            return ()
        event_ts = str(message.get("event_ts") or "")
        return (
            WebhookEvent(
                kind=_MEETING_EVENTS[event],
                external_account_id=str(meeting.get("host_id") or ""),
                organization_id=str(payload.get("account_id") or ""),
                meeting_external_id=meeting_id,
                occurred_at=_parse_millis(event_ts),
                dedupe_key=f"{event}:{meeting_id}:{event_ts}",
                data={"uuid": str(meeting.get("uuid") or "")},
            ),
        )
    return ()


def _parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_millis(value: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None
