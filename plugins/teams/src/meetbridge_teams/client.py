"""A small Microsoft Graph client: bearer tokens, one retry on a rejected token, error mapping.

Graph errors come as ``{"error": {"code", "message", "innerError": {...}}}``. They are mapped to
the meetbridge errors the host acts on; the provider's own code is kept in ``provider_code``.
Access tokens never appear in a message: they live only in the Authorization header.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
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
    RateLimited,
    UnsupportedAccount,
)

if TYPE_CHECKING:
    import httpx

PROVIDER = "teams"
MONTHLY_MEETING_LIMIT = 2000
# A throttling answer asking us to wait longer than this is not a burst limit: it is the
# monthly meetings quota (Microsoft documents the limit, not the exact answer it gives).
_QUOTA_RETRY_AFTER = timedelta(hours=6).total_seconds()

PERSONAL_ACCOUNT_MESSAGE = (
    "Microsoft refused to create a Teams meeting for this account (AuthenticationError). This"
    " happens with personal Microsoft accounts (outlook.com, hotmail.com, live.com), which"
    " cannot host Teams meetings, and with work accounts that have no Teams licence. Connect a"
    " work or school account with Microsoft Teams, or choose Zoom or Google Meet instead."
)


class MonthlyMeetingLimitReached(RateLimited):
    """The per-user monthly quota of meetings created through Graph (2,000) is used up.

    A ``RateLimited`` because waiting does help, but only after ``resets_at`` (weeks, maybe):
    ``retry_after`` says how long, so the host can decide to fall back rather than wait.
    """

    def __init__(self, message: str, *, resets_at: datetime, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.resets_at = resets_at


def graph_error(response: httpx.Response) -> tuple[str, str]:
    """``(code, message)`` of a Graph error body, parsed defensively."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    error = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(error, Mapping):
        return str(error.get("code") or ""), str(error.get("message") or "")[:300]
    return "", ""


def retry_after_seconds(response: httpx.Response, now: datetime) -> float | None:
    """The ``Retry-After`` header as seconds (Graph sends seconds; an HTTP date is accepted)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _next_month(now: datetime) -> datetime:
    now = now.astimezone(UTC)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def _is_monthly_quota(message: str, retry_after: float | None) -> bool:
    long_wait = retry_after is not None and retry_after > _QUOTA_RETRY_AFTER
    return "month" in message.lower() or long_wait


def map_error(
    response: httpx.Response, *, now: datetime, permission: str, email_hint: str = ""
) -> ProviderError:
    """The meetbridge error for a Graph error response (never called for 2xx)."""
    status = response.status_code
    code, message = graph_error(response)
    label = f"{status} {code}".strip()
    detail = f"{code}: {message}" if message else (code or f"HTTP {status}")
    if status == 400 and code == "AuthenticationError":
        return UnsupportedAccount(PERSONAL_ACCOUNT_MESSAGE, provider=PROVIDER, provider_code=code)
    if status == 401:
        return GrantRevoked(
            f"Microsoft Graph rejected the Teams connection's token ({detail}). Reconnect"
            " Microsoft Teams.",
            provider=PROVIDER,
            provider_code=label,
        )
    if status == 403:
        return InsufficientScope(
            f"Microsoft Graph refused the request ({detail}). meetbridge needs the delegated"
            f" permission {permission}: reconnect Microsoft Teams and accept it, or ask an"
            " administrator of your Microsoft 365 organisation to grant admin consent for it.",
            provider=PROVIDER,
            provider_code=label,
        )
    if status == 404:
        return MeetingGone(
            "The Teams meeting no longer exists at Microsoft.",
            provider=PROVIDER,
            provider_code=code or "itemNotFound",
        )
    retry_after = retry_after_seconds(response, now)
    if status == 429:
        if _is_monthly_quota(message, retry_after):
            resets_at = (
                now + timedelta(seconds=retry_after)
                if retry_after is not None
                else _next_month(now)
            )
            who = f" {email_hint}" if email_hint else " This account"
            return MonthlyMeetingLimitReached(
                f"Microsoft allows {MONTHLY_MEETING_LIMIT:,} Teams meetings per user per month"
                f" to be created through Microsoft Graph, and{who.rstrip()} has reached that"
                f" limit. It resets around {resets_at:%Y-%m-%d %H:%M} UTC; until then use"
                " another provider for this host's meetings.",
                resets_at=resets_at,
                provider=PROVIDER,
                provider_code=label,
                retry_after=(resets_at - now).total_seconds(),
            )
        return RateLimited(
            f"Microsoft Graph is throttling requests ({detail}); trying again later.",
            provider=PROVIDER,
            provider_code=label,
            retry_after=retry_after,
        )
    if status >= 500:
        return ProviderUnavailable(
            f"Microsoft Graph is unavailable (HTTP {status} {code}).".replace(" )", ")"),
            provider=PROVIDER,
            provider_code=label,
            retry_after=retry_after,
        )
    return ProviderError(
        f"Microsoft Graph refused the request (HTTP {status}, {detail}).",
        provider=PROVIDER,
        provider_code=label,
    )


def meeting_path(meeting_id: str) -> str:
    """``/me/onlineMeetings/{id}`` with the id escaped (Graph ids are base64 and may hold '/')."""
    return f"/me/onlineMeetings/{quote(meeting_id, safe='')}"


class GraphClient:
    """Calls Graph for one connection, asking the host's credentials for tokens."""

    def __init__(self, context: ProviderContext, credentials: Credentials) -> None:
        self.context = context
        self.credentials = credentials
        self.base_url = context.endpoint("api_base_url")

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        permission: str = "OnlineMeetings.ReadWrite",
    ) -> httpx.Response:
        """Send one request; on 401 refresh once and retry once; raise mapped errors.

        Returns the response for any 2xx status. A 404 raises ``MeetingGone``; callers that
        treat "not found" as success catch it.
        """
        token = await self.credentials.access_token()
        response = await self._send(method, path, json, token)
        if response.status_code == 401:
            token = await self.credentials.refreshed_access_token(token)
            response = await self._send(method, path, json, token)
        if 200 <= response.status_code < 300:
            return response
        raise map_error(
            response,
            now=self.context.clock(),
            permission=permission,
            email_hint=getattr(self.credentials, "email", "") or "",
        )

    async def _send(
        self, method: str, path: str, json: Mapping[str, Any] | None, token: str
    ) -> httpx.Response:
        import httpx  # here, not at module level: importing it is slow

        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            return await self.context.http.request(
                method, self.base_url + path, json=json, headers=headers
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached Microsoft: safe to retry, nothing to look for.
            raise ProviderUnavailable(
                f"Microsoft Graph could not be reached ({type(exc).__name__}).",
                provider=PROVIDER,
                provider_code=type(exc).__name__,
            ) from None
        except httpx.TransportError as exc:
            # The request was sent; Microsoft may have acted on it without our hearing back.
            raise ProviderUnavailable(
                f"Microsoft Graph did not answer ({type(exc).__name__}); the {method} may or"
                " may not have been carried out.",
                provider=PROVIDER,
                provider_code=type(exc).__name__,
                ambiguous=method.upper() != "GET",
            ) from None
