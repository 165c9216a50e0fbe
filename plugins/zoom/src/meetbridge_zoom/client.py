"""Calls to Zoom's REST API for one connection, and Zoom's errors as meetbridge errors.

Every call waits its turn in the account's rate limiter, asks the host's credentials for a
current access token, and on Zoom's 401 code 124 ("Invalid access token" / "Access token is
expired") asks once for a refreshed token and retries once. Zoom's error bodies are
``{"code": int, "message": str}``; the mapping below is the one place they are interpreted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from meetbridge.providers import (
    Credentials,
    GrantRevoked,
    InsufficientScope,
    MeetingGone,
    ProviderContext,
    ProviderError,
    ProviderUnavailable,
    UnsupportedAccount,
    WrongCredential,
)
from meetbridge_zoom import limits
from meetbridge_zoom.info import LABEL, NAME
from meetbridge_zoom.transport import json_body, send

if TYPE_CHECKING:
    import httpx

INVALID_TOKEN = 124
MEETING_NOT_FOUND = 3001
NOT_MEETING_HOST = 3003
HOSTING_NOT_ALLOWED = 3161
USER_NOT_FOUND = 1001
MISSING_SCOPE_CODES = frozenset({4700, 4711})


def user_path(host_user: str | None) -> str:
    """``me`` for the connection's own user, else the member's id or email (account-level)."""
    return quote(host_user, safe="@") if host_user else "me"


def meeting_path(external_id: str) -> str:
    return f"/meetings/{quote(str(external_id), safe='')}"


class ZoomClient:
    """Zoom API calls made with one connection's credentials."""

    def __init__(self, context: ProviderContext, credentials: Credentials) -> None:
        self.context = context
        self.credentials = credentials
        self.base_url = context.endpoint("api_base_url")
        self.account_key = credentials.external_account_id or credentials.email or "?"

    async def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        category: str = limits.LIGHT,
        daily_key: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send an API request and return its successful response, or raise a mapped error.

        ``daily_key`` names the host user whose daily create+update allowance the call uses.
        """
        if daily_key is not None:
            limits.DAILY_BLOCKS.check(daily_key, self.context.clock())
        await limits.ACCOUNT_LIMITS.wait_turn(self.context, self.account_key, category)
        token = await self.credentials.access_token()
        response = await self._send(method, path, token, what, kwargs)
        if _is_invalid_token(response):
            token = await self.credentials.refreshed_access_token(token)
            response = await self._send(method, path, token, what, kwargs)
            if _is_invalid_token(response):
                raise GrantRevoked(
                    f"{LABEL} keeps rejecting this connection's token even after refreshing it;"
                    " reconnect Zoom.",
                    provider=NAME,
                    provider_code=str(INVALID_TOKEN),
                )
        if response.is_success:
            return response
        raise self._error(response, what, daily_key)

    async def _send(
        self, method: str, path: str, token: str, what: str, kwargs: dict[str, Any]
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        return await send(
            self.context, method, self.base_url + path, what=what, headers=headers, **kwargs
        )

    def _error(self, response: httpx.Response, what: str, daily_key: str | None) -> ProviderError:
        body = json_body(response)
        code = body.get("code")
        message = str(body.get("message") or response.reason_phrase or "").strip()[:300]
        status = response.status_code
        detail = f"{LABEL} said: {message}" if message else f"{LABEL} answered HTTP {status}"
        provider_code = str(code if code is not None else status)
        if status == 429:
            error = limits.rate_limit_error(response, message, self.context.clock())
            if daily_key is not None and isinstance(error, limits.DailyLimitReached):
                limits.DAILY_BLOCKS.block(daily_key, error.resets_at)
            return error
        if code in MISSING_SCOPE_CODES or "does not contain scopes" in message:
            return InsufficientScope(
                f"The {LABEL} connection is not allowed to {what}: {message}. Add the missing"
                " scopes to the Zoom app (see docs/providers/zoom.md) and reconnect.",
                provider=NAME,
                provider_code=provider_code,
            )
        if code == MEETING_NOT_FOUND or (status == 404 and code is None):
            return MeetingGone(
                f"{LABEL} no longer has this meeting ({detail}).",
                provider=NAME,
                provider_code=provider_code,
            )
        if code == NOT_MEETING_HOST:
            return WrongCredential(
                f"This {LABEL} connection is not the meeting's host, so it cannot {what}; use the"
                " connection that created the meeting.",
                provider=NAME,
                provider_code=provider_code,
            )
        if code in {USER_NOT_FOUND, HOSTING_NOT_ALLOWED}:
            return UnsupportedAccount(
                f"{LABEL} cannot {what} for this user ({detail}). Check that the person is an"
                " active member of the connected Zoom account and may host meetings.",
                provider=NAME,
                provider_code=provider_code,
            )
        if status >= 500:
            retry_after = response.headers.get("retry-after", "")
            return ProviderUnavailable(
                f"{LABEL} had a problem and could not {what} ({detail}); it will be tried again.",
                provider=NAME,
                provider_code=provider_code,
                retry_after=float(retry_after) if retry_after.isdigit() else None,
            )
        return ProviderError(
            f"{LABEL} refused to {what} ({detail}).", provider=NAME, provider_code=provider_code
        )

    async def get_json(self, path: str, *, what: str, **kwargs: Any) -> dict[str, Any]:
        return json_body(await self.request("GET", path, what=what, **kwargs))


def _is_invalid_token(response: httpx.Response) -> bool:
    if response.status_code != 401:
        return False
    code = json_body(response).get("code")
    # A 401 without Zoom's body (a proxy, an outage page) is treated the same way: the one
    # refresh-and-retry is cheap and the second 401 then fails clearly.
    return code in (None, INVALID_TOKEN)
