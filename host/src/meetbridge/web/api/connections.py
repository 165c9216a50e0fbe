"""``/api/v1/connections`` (list, status) and ``/api/v1/connect-links``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from meetbridge.conferencing.integrations import view
from meetbridge.models import Connection, User
from meetbridge.plugins import UnknownProvider
from meetbridge.web.api.auth import ApiCaller
from meetbridge.web.api.schemas import (
    ConnectionOut,
    ConnectLinkIn,
    ConnectLinkOut,
    ErrorResponse,
    RowId,
)
from meetbridge.web.connect_links import ConnectLinkError, issue_link
from meetbridge.web.context import web
from meetbridge.web.errors import ApiError

ERRORS = {
    400: {"model": ErrorResponse},
    401: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}
router = APIRouter(tags=["connections"], responses=ERRORS)


def _out(conn: Connection, owner: str) -> ConnectionOut:
    v = view(conn, owner_email=owner)
    return ConnectionOut(
        id=v.id,
        provider=v.provider,
        owner=v.owner_email,
        status=v.status,
        account_email=v.email,
        account_type=v.account_type,
        connected_at=v.connected_at,
        last_error=v.last_error,
        warnings=list(v.warnings),
    )


@router.get("/connections", response_model=list[ConnectionOut])
async def list_connections(
    request: Request,
    caller: ApiCaller,
    provider: Annotated[str | None, Query()] = None,
    user_email: Annotated[str | None, Query(description="Only this member's connections.")] = None,
) -> list[ConnectionOut]:
    """Every connection of the organisation with its status (active, needs_reconnect, revoked)."""
    with web(request).services.sessions() as session:
        stmt = (
            select(Connection, User.email)
            .outerjoin(User, User.id == Connection.owner_user_id)
            .where(Connection.organization_id == caller.organization_id)
            .order_by(Connection.id)
        )
        if provider:
            stmt = stmt.where(Connection.provider == provider)
        if user_email:
            stmt = stmt.where(User.email == user_email.strip().lower())
        return [_out(conn, email or "organisation") for conn, email in session.execute(stmt)]


@router.get("/connections/{connection_id}", response_model=ConnectionOut)
async def get_connection(
    request: Request, connection_id: RowId, caller: ApiCaller
) -> ConnectionOut:
    with web(request).services.sessions() as session:
        conn = session.get(Connection, connection_id)
        if conn is None or conn.organization_id != caller.organization_id:
            raise ApiError(404, "connection_not_found", f"No connection {connection_id}.")
        owner = session.get(User, conn.owner_user_id) if conn.owner_user_id else None
        return _out(conn, owner.email if owner else "organisation")


@router.post("/connect-links", response_model=ConnectLinkOut, status_code=201)
async def create_connect_link(
    request: Request, body: ConnectLinkIn, caller: ApiCaller
) -> ConnectLinkOut:
    """A single-use link (30 minutes) to send a member to; they consent at the provider and
    come back to ``return_url`` with ``status=connected`` or ``error=access_denied``."""
    try:
        link = issue_link(
            web(request).services,
            caller.organization_id,
            user_email=body.user_email,
            provider=body.provider,
            return_url=body.return_url,
            account_level=body.account_level,
        )
    except UnknownProvider as exc:
        raise ApiError(422, "unknown_provider", str(exc)) from None
    except ConnectLinkError as exc:
        raise ApiError(422, "invalid_connect_link", str(exc)) from None
    return ConnectLinkOut(url=link.url, expires_at=link.expires_at)
