"""``POST /webhooks/{provider}``: requests providers send us (Zoom's deauthorization...).

The raw body goes to the provider's plugin first, untouched (signatures are computed over the
exact bytes); nothing else happens for a request it does not verify. The answer is sent at
once (Zoom wants it within 3 seconds) and the verified events are applied after answering, in
a background task: handling is idempotent, so a provider retrying is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse, Response

from meetbridge.plugins import OperationNotSupported, UnknownProvider
from meetbridge.providers import ProviderError, WebhookEvent
from meetbridge.web.context import WebContext, web
from meetbridge.web.errors import error_json

router = APIRouter(include_in_schema=False)
log = logging.getLogger("meetbridge.web.webhooks")
MAX_BODY = 1_000_000


async def _apply(ctx: WebContext, provider: str, events: tuple[WebhookEvent, ...]) -> None:
    try:
        applied = await ctx.connections.apply_webhook_events(provider, events)
        log.info("%s webhook: %s event(s) applied", provider, applied)
    except Exception:  # the provider already has its answer; the log is where this goes
        log.exception("%s webhook: applying events failed", provider)


def _refusal(status: int, body: object) -> Response:
    """A plugin's or the host's refusal (``{"error": "bad signature"}``...) in the one error
    shape every answer under ``/webhooks/`` has."""
    said = body.get("error") if isinstance(body, Mapping) else None
    message = str(said) if said else "The request was not accepted."
    code = "replayed_delivery" if status == 409 else "rejected"
    return error_json(status, code, message)


@router.post("/webhooks/{provider}")
async def provider_webhook(
    request: Request, provider: str, background: BackgroundTasks
) -> Response:
    ctx = web(request)
    try:
        ctx.services.plugins.provider(provider)
    except UnknownProvider:
        return error_json(404, "unknown_provider", f"No provider {provider!r} is installed.")
    body = await request.body()
    if len(body) > MAX_BODY:
        return error_json(413, "too_large", "The request body is too large.")
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        result = await ctx.connections.handle_webhook(provider, headers, body)
    except OperationNotSupported:
        return error_json(404, "no_webhooks", f"{provider} sends no webhooks here.")
    except ProviderError as exc:
        return error_json(400, "rejected", exc.message)
    if result.status_code >= 400:
        return _refusal(result.status_code, result.body)
    if result.events and 200 <= result.status_code < 300:
        background.add_task(_apply, ctx, provider, result.events)
    if result.body is None or result.status_code == 204:
        return Response(status_code=result.status_code)
    return JSONResponse(dict(result.body), status_code=result.status_code)
