"""``/api/v1/webhook-subscriptions``: where the platform receives signed events."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from meetbridge.web import platform_webhooks
from meetbridge.web.api.auth import ApiCaller
from meetbridge.web.api.schemas import ErrorResponse, RowId, SubscriptionIn, SubscriptionOut
from meetbridge.web.context import web
from meetbridge.web.errors import ApiError

ERRORS = {
    400: {"model": ErrorResponse},
    401: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}
router = APIRouter(tags=["webhooks"], responses=ERRORS)


@router.get("/webhook-subscriptions", response_model=list[SubscriptionOut])
async def list_subscriptions(request: Request, caller: ApiCaller) -> list[SubscriptionOut]:
    with web(request).services.sessions() as session:
        rows = platform_webhooks.list_subscriptions(session, caller.organization_id)
    return [
        SubscriptionOut(
            id=r.id,
            url=r.url,
            events=list(r.events),
            description=r.description,
            active=r.active,
            created_at=r.created_at,
        )
        for r in rows
    ]


@router.post("/webhook-subscriptions", response_model=SubscriptionOut, status_code=201)
async def create_subscription(
    request: Request, body: SubscriptionIn, caller: ApiCaller
) -> SubscriptionOut:
    """Subscribe a URL; the answer carries the signing secret, once."""
    services = web(request).services
    assert services.vault is not None
    try:
        with services.sessions() as session, session.begin():
            sub, secret = platform_webhooks.create_subscription(
                session,
                services.vault,
                organization_id=caller.organization_id,
                url=body.url,
                events=body.events,
                description=body.description,
                created_by=caller.actor,
                production=services.settings.env == "production",
            )
            out = SubscriptionOut(
                id=sub.id,
                url=sub.url,
                events=list(sub.events),
                description=sub.description,
                active=sub.active,
                created_at=sub.created_at,
                secret=secret,
            )
    except ValueError as exc:
        raise ApiError(422, "invalid_subscription", str(exc)) from None
    return out


@router.delete("/webhook-subscriptions/{subscription_id}", status_code=204)
async def delete_subscription(
    request: Request, subscription_id: RowId, caller: ApiCaller
) -> Response:
    try:
        with web(request).services.sessions() as session, session.begin():
            platform_webhooks.delete_subscription(session, caller.organization_id, subscription_id)
    except LookupError as exc:
        raise ApiError(404, "subscription_not_found", str(exc)) from None
    return Response(status_code=204)
