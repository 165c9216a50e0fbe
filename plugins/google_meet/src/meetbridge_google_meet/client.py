"""A small Google Calendar API client: authentication, throttling and error mapping.

Every call asks the host's :class:`~meetbridge.providers.Credentials` for an access token
(which refreshes it shortly before expiry). A 401 gets one forced refresh and one retry.
Throttling answers (403/429 ``rateLimitExceeded``/``userRateLimitExceeded``) are retried
inline a few times with exponential backoff, since Google rejected the request and trying
again cannot duplicate anything; then the host is told to retry later.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from meetbridge.providers import Credentials, GrantRevoked, ProviderContext
from meetbridge_google_meet.errors import (
    GoogleApiError,
    map_api_error,
    map_transport_error,
    retry_after_seconds,
)
from meetbridge_google_meet.info import NAME
from meetbridge_google_meet.options import GoogleOptions

if TYPE_CHECKING:
    import httpx

PRIMARY_CALENDAR = "primary"


class CalendarClient:
    """Calendar API calls for one connection (one person's calendars)."""

    def __init__(
        self, context: ProviderContext, credentials: Credentials, options: GoogleOptions
    ) -> None:
        self.context = context
        self.credentials = credentials
        self.options = options
        self.base_url = context.endpoint("api_base_url")

    # -- events ----------------------------------------------------------------------------
    def _events_path(self, calendar_id: str, event_id: str | None = None) -> str:
        path = f"/calendars/{quote(calendar_id, safe='')}/events"
        return path if event_id is None else f"{path}/{quote(event_id, safe='')}"

    async def insert_event(
        self, calendar_id: str, body: Mapping[str, Any], *, accept: Collection[int] = ()
    ) -> httpx.Response:
        """``events.insert`` with ``conferenceDataVersion=1`` (without it Google silently
        drops the Meet request and makes an event with no link)."""
        return await self.request(
            "POST",
            self._events_path(calendar_id),
            action="create the meeting",
            params={"conferenceDataVersion": "1", "sendUpdates": self.options.send_updates},
            json=body,
            accept=accept,
        )

    async def get_event(
        self, calendar_id: str, event_id: str, *, accept: Collection[int] = ()
    ) -> httpx.Response:
        return await self.request(
            "GET",
            self._events_path(calendar_id, event_id),
            action="read the meeting",
            accept=accept,
        )

    async def patch_event(
        self,
        calendar_id: str,
        event_id: str,
        body: Mapping[str, Any],
        *,
        accept: Collection[int] = (),
    ) -> httpx.Response:
        """``events.patch``; ``conferenceDataVersion=1`` keeps the conference intact."""
        return await self.request(
            "PATCH",
            self._events_path(calendar_id, event_id),
            action="update the meeting",
            params={"conferenceDataVersion": "1", "sendUpdates": self.options.send_updates},
            json=body,
            accept=accept,
        )

    async def delete_event(
        self, calendar_id: str, event_id: str, *, accept: Collection[int] = ()
    ) -> httpx.Response:
        return await self.request(
            "DELETE",
            self._events_path(calendar_id, event_id),
            action="delete the meeting",
            params={"sendUpdates": self.options.send_updates},
            accept=accept,
        )

    # -- the one request path -------------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        action: str,
        params: Mapping[str, str] | None = None,
        json: Mapping[str, Any] | None = None,
        accept: Collection[int] = (),
    ) -> httpx.Response:
        """Send one API call; return a 2xx answer or one whose status is in ``accept``.

        Anything else is raised as a meetbridge error (see :mod:`.errors`).
        """
        token = await self.credentials.access_token()
        refreshed = False
        throttled = 0
        while True:
            response = await self._send(
                method, path, token, action=action, params=params, json=json
            )
            if response.status_code == 401:
                if refreshed:
                    raise GrantRevoked(
                        f"Google rejected meetbridge's access even with a freshly refreshed token,"
                        f" so it could not {action}. Reconnect Google Meet.",
                        provider=NAME,
                        provider_code=GoogleApiError.from_response(response).reason or "authError",
                    )
                token = await self.credentials.refreshed_access_token(token)
                refreshed = True
                continue
            if response.is_success or response.status_code in accept:
                return response
            error = GoogleApiError.from_response(response)
            if error.is_rate_limit and throttled < self.options.rate_limit_retries:
                wait = self._backoff(response, throttled)
                if wait is not None:
                    throttled += 1
                    await asyncio.sleep(wait)
                    continue
            raise map_api_error(response, action=action, now=self.context.clock())

    def _backoff(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying a throttled call, or None to give up now."""
        hinted = retry_after_seconds(response, self.context.clock())
        if hinted is not None:
            return hinted if hinted <= self.options.rate_limit_max_wait_seconds else None
        base = self.options.rate_limit_backoff_seconds * (2**attempt)
        # Jitter spreads out clients that were throttled together.
        return min(base * random.uniform(1.0, 1.25), self.options.rate_limit_max_wait_seconds)

    async def _send(
        self,
        method: str,
        path: str,
        token: str,
        *,
        action: str,
        params: Mapping[str, str] | None,
        json: Mapping[str, Any] | None,
    ) -> httpx.Response:
        import httpx  # here, not at module level: importing it is slow

        extra: dict[str, Any] = {}
        if self.options.timeout_seconds is not None:
            extra["timeout"] = self.options.timeout_seconds
        try:
            return await self.context.http.request(
                method,
                f"{self.base_url}{path}",
                params=params,
                json=json,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                **extra,
            )
        except httpx.HTTPError as exc:
            raise map_transport_error(exc, action=action, mutating=method != "GET") from exc
