"""The sandbox's Microsoft Graph v1.0: token and permission checks, ``/me``, ``/me/calendar``.

Online meetings live in :mod:`.online_meetings`, events in :mod:`.events`.

Faithful where meetbridge can be caught out:

- tokens are checked (401 ``InvalidAuthenticationToken``) and so are the granted scopes
  (403); ``/me/calendar`` needs a Calendars permission, which meetbridge does not ask for;
- personal accounts get 400 ``AuthenticationError`` from onlineMeetings, and an event created
  with ``isOnlineMeeting: true`` comes back 201 without any join link;
- ``createOrGet`` is an OData action: only its documented parameters are accepted, a known
  ``externalId`` returns the existing meeting unchanged with 200, a new one 201;
- PATCH needs ``startDateTime`` and ``endDateTime`` together; times must carry an offset;
- DELETE is 204, then 404 ``itemNotFound``;
- the monthly meetings quota per user (2,000 by default) and an optional per-second limit
  answer 429 with ``Retry-After`` in seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from meetbridge_teams.sandbox import errors
from meetbridge_teams.sandbox.state import Account, IssuedToken, SandboxState

router = APIRouter()

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


class GraphFailure(Exception):
    """Raised by handlers; the app's exception handler answers with ``response``."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def answer_failure(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GraphFailure)
    return exc.response


def state_of(request: Request) -> SandboxState:
    return request.app.state.sandbox


def fail(
    status: int, code: str, message: str, state: SandboxState, headers: dict[str, str] | None = None
) -> GraphFailure:
    return GraphFailure(errors.graph_error(status, code, message, state, headers))


def caller(request: Request, *needed: str) -> tuple[Account, IssuedToken]:
    """The account behind the bearer token, with one of ``needed`` scopes granted."""
    state = state_of(request)
    with state.lock:
        state.graph_calls += 1
    header = request.headers.get("authorization", "")
    bearer = header[7:].strip() if header.lower().startswith("bearer ") else ""
    challenge = {
        "WWW-Authenticate": (
            'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
            f'authorize", client_id="{GRAPH_APP_ID}"'
        )
    }
    if not bearer:
        raise fail(401, "InvalidAuthenticationToken", "Access token is empty.", state, challenge)
    token = state.valid_access_token(bearer)
    if token is None:
        message = (
            "Access token has expired or is not yet valid."
            if bearer in state.access_tokens
            else "IDX14100: JWT is not well formed, there are no dots (.)."
        )
        raise fail(401, "InvalidAuthenticationToken", message, state, challenge)
    account = state.accounts[token.account_id]
    granted = {s.lower() for s in token.scopes}
    if needed and not granted & {n.lower() for n in needed}:
        code, message = (
            ("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
            if any("calendar" in n.lower() for n in needed)
            else (
                "Forbidden",
                f"The application needs one of these permissions: {', '.join(needed)}.",
            )
        )
        raise fail(403, code, message, state)
    if state.over_qps(account.id):
        raise fail(
            429,
            "TooManyRequests",
            "Too many requests; retry after the indicated time.",
            state,
            {"Retry-After": "1"},
        )
    return account, token


def meetings_caller(request: Request, *needed: str) -> tuple[Account, IssuedToken]:
    account, token = caller(request, *needed)
    if account.personal:
        raise fail(
            400, "AuthenticationError", "Error authenticating with resource", state_of(request)
        )
    return account, token


async def read_json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise fail(
            400,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure"
            " Content-Type header is set and payload is of valid JSON format.",
            state_of(request),
        ) from None
    if not isinstance(body, dict):
        raise fail(
            400, "BadRequest", "The request payload must be a JSON object.", state_of(request)
        )
    return body


def instant(value: Any, state: SandboxState) -> datetime:
    """An Edm.DateTimeOffset: an offset (or Z) is required, as OData requires."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise fail(
            400,
            "BadRequest",
            f"Cannot convert the literal '{value}' to the expected type 'Edm.DateTimeOffset'.",
            state,
        )
    return parsed.astimezone(UTC)


def check_times(start: datetime, end: datetime, state: SandboxState) -> None:
    if end <= start:
        raise fail(
            400,
            "BadRequest",
            "The meeting's endDateTime must be later than its startDateTime.",
            state,
        )


def quota(account: Account, token: IssuedToken, state: SandboxState) -> None:
    if state.monthly_count(account.id, token.client_id) >= state.monthly_meeting_limit:
        status, body, headers = errors.monthly_limit(state)
        raise GraphFailure(JSONResponse(body, status_code=status, headers=headers))


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + request.scope.get("root_path", "")


@router.get("/v1.0/me")
async def me(request: Request) -> Response:
    account, _ = caller(request, "User.Read", "User.ReadWrite", "User.ReadBasic.All")
    given, _, surname = account.display_name.partition(" ")
    return JSONResponse(
        {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
            "businessPhones": [],
            "displayName": account.display_name,
            "givenName": given,
            "jobTitle": None,
            "mail": account.mail,
            "mobilePhone": None,
            "officeLocation": None,
            "preferredLanguage": "en-US",
            "surname": surname,
            "userPrincipalName": account.user_principal_name,
            "id": account.id,
        }
    )


@router.get("/v1.0/me/calendar")
async def calendar(request: Request) -> Response:
    account, _ = caller(request, "Calendars.Read", "Calendars.ReadWrite")
    providers = ["skypeForConsumer"] if account.personal else ["teamsForBusiness"]
    return JSONResponse(
        {
            "id": "AAMkAGI2TG93AAA=",
            "name": "Calendar",
            "color": "auto",
            "hexColor": "",
            "isDefaultCalendar": True,
            "changeKey": "nfZyf7VcrEKLNoU37KWlkQAAA0x0+w==",
            "canShare": True,
            "canViewPrivateItems": True,
            "canEdit": True,
            "allowedOnlineMeetingProviders": providers,
            "defaultOnlineMeetingProvider": providers[0],
            "isTallyingResponses": True,
            "isRemovable": False,
            "owner": {
                "name": account.display_name,
                "address": account.mail or account.user_principal_name,
            },
        }
    )
