"""API key authentication: ``Authorization: Bearer mb_<prefix>_<secret>``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from meetbridge.web.api_keys import authenticate_api_key
from meetbridge.web.context import web
from meetbridge.web.errors import ApiError

bearer = HTTPBearer(
    auto_error=False, description="An API key created by an admin (Admin > API keys)."
)


@dataclass(frozen=True)
class Caller:
    """The platform calling: the organisation its key acts for."""

    organization_id: int
    key_id: int
    key_name: str

    @property
    def actor(self) -> str:
        return f"api:{self.key_name}"


def api_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "unauthorized", "Send an API key: Authorization: Bearer <key>.")
    with web(request).services.sessions() as session, session.begin():
        key = authenticate_api_key(session, credentials.credentials)
        if key is None:
            raise ApiError(
                401, "invalid_api_key", "This API key is not valid (unknown or revoked)."
            )
        return Caller(key.organization_id, key.id, key.name)


# What an API handler declares to be called only with a valid key: ``caller: ApiCaller``.
ApiCaller = Annotated[Caller, Depends(api_caller)]
