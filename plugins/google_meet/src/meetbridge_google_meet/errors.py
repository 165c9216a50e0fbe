"""Google's error answers, turned into the errors meetbridge understands.

Calendar API errors look like
``{"error": {"errors": [{"domain", "reason", "message"}], "code", "message"}}``; the OAuth
endpoints answer ``{"error": "invalid_grant", "error_description": "..."}``. Messages say what
happened and what to do; they never contain a token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from meetbridge.providers import (
    DailyLimitReached,
    InsufficientScope,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    UnsupportedAccount,
    WrongCredential,
)
from meetbridge_google_meet.info import NAME

if TYPE_CHECKING:
    import httpx

RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
# Per-minute quotas use a sliding window: a minute from now the window has moved on.
DEFAULT_RATE_LIMIT_RETRY_AFTER = 60.0
# "Calendar usage limits exceeded" protects against abuse and lifts after hours, not seconds.
CALENDAR_USAGE_LIMIT_RETRY_AFTER = 3600.0
# Google's daily project quotas reset at midnight Pacific time.
QUOTA_TIMEZONE = ZoneInfo("America/Los_Angeles")


@dataclass(frozen=True)
class GoogleApiError:
    """The parts of a Calendar API error answer that decide what to do."""

    status: int
    reason: str = ""
    domain: str = ""
    message: str = ""

    @classmethod
    def from_response(cls, response: httpx.Response) -> GoogleApiError:
        """Parse defensively: proxies and load balancers answer with HTML or nothing."""
        body = _json(response)
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return cls(status=response.status_code, message=response.reason_phrase or "")
        items = error.get("errors")
        first = items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}
        return cls(
            status=response.status_code,
            reason=str(first.get("reason") or error.get("status") or ""),
            domain=str(first.get("domain") or ""),
            message=str(error.get("message") or first.get("message") or ""),
        )

    @property
    def is_rate_limit(self) -> bool:
        if self.reason in RATE_LIMIT_REASONS:
            return self.status in (403, 429)
        # A 429 is a throttle whatever its body says.
        return self.status == 429


@dataclass(frozen=True)
class OAuthError:
    """An OAuth endpoint's ``{"error", "error_description"}`` answer."""

    status: int
    error: str
    description: str

    @classmethod
    def from_response(cls, response: httpx.Response) -> OAuthError:
        body = _json(response)
        if not isinstance(body, dict):
            body = {}
        error = body.get("error")
        if isinstance(error, dict):  # some Google endpoints answer in the API shape
            return cls(
                response.status_code,
                str(error.get("status") or ""),
                str(error.get("message") or ""),
            )
        return cls(
            status=response.status_code,
            error=str(error or ""),
            description=str(body.get("error_description") or response.reason_phrase or ""),
        )


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def retry_after_seconds(response: httpx.Response, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now``: either delta-seconds or an HTTP date."""
    raw = response.headers.get("retry-after", "").strip()
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def next_quota_reset(now: datetime) -> datetime:
    """The next midnight in Pacific time, when Google's daily quotas start again."""
    local = now.astimezone(QUOTA_TIMEZONE)
    midnight = datetime.combine(
        local.date() + timedelta(days=1), datetime.min.time(), tzinfo=QUOTA_TIMEZONE
    )
    return midnight.astimezone(now.tzinfo)


def map_api_error(response: httpx.Response, *, action: str, now: datetime) -> ProviderError:
    """The meetbridge error for a Calendar API answer that the caller did not handle.

    ``action`` completes "Google Calendar could not ..." (e.g. "create the meeting").
    """
    err = GoogleApiError.from_response(response)
    code = err.reason or str(err.status)
    said = f" Google said: {err.message}" if err.message else ""
    if err.is_rate_limit:
        wait = retry_after_seconds(response, now)
        return RateLimited(
            f"Google Calendar is throttling requests ({err.reason or err.status}), so it could"
            f" not {action} now; meetbridge retries automatically.{said}",
            provider=NAME,
            provider_code=code,
            retry_after=wait if wait is not None else DEFAULT_RATE_LIMIT_RETRY_AFTER,
        )
    if err.status == 403 and err.reason == "dailyLimitExceeded":
        resets_at = next_quota_reset(now)
        return DailyLimitReached(
            f"meetbridge's daily Google Calendar API quota is used up, so it could not {action}."
            " It resets at midnight Pacific time; an operator can raise it in the Google Cloud"
            f" console (APIs & Services > Quotas).{said}",
            resets_at=resets_at,
            provider=NAME,
            provider_code=code,
            retry_after=(resets_at - now).total_seconds(),
        )
    if err.status == 403 and err.reason == "quotaExceeded":
        return RateLimited(
            f"This Google account has hit Google Calendar's usage limits, so meetbridge could not"
            f" {action}. Google lifts them after a few hours; meetbridge retries later.{said}",
            provider=NAME,
            provider_code=code,
            retry_after=CALENDAR_USAGE_LIMIT_RETRY_AFTER,
        )
    if err.status == 403 and err.reason == "insufficientPermissions":
        return InsufficientScope(
            f"Google Calendar refused to {action}: this connection was not granted permission to"
            " manage calendar events. Disconnect Google Meet in meetbridge and connect again,"
            " and on Google's consent screen tick the box that allows meetbridge to view and"
            " edit events on your calendars.",
            provider=NAME,
            provider_code=code,
        )
    if err.status == 403 and err.reason == "domainPolicy":
        return UnsupportedAccount(
            f"The Google Workspace administrator of this account does not allow meetbridge to use"
            f" Google Calendar, so it could not {action}. Ask the administrator to allow the app"
            f" (Admin console > Security > API controls), or use another account.{said}",
            provider=NAME,
            provider_code=code,
        )
    if err.status == 403 and err.reason in {
        "forbidden",
        "forbiddenForNonOrganizer",
        "requiredAccessLevel",
    }:
        return WrongCredential(
            f"The connected Google account may not change this event, so meetbridge could not"
            f" {action}; it belongs to another organizer's calendar.{said}",
            provider=NAME,
            provider_code=code,
        )
    if err.status >= 500:
        wait = retry_after_seconds(response, now)
        return ProviderUnavailable(
            f"Google Calendar had a problem ({err.status}) and could not {action}; meetbridge"
            f" retries automatically.{said}",
            provider=NAME,
            provider_code=code,
            retry_after=wait,
        )
    return ProviderError(
        f"Google Calendar could not {action} ({err.status} {err.reason or 'error'}).{said}",
        provider=NAME,
        provider_code=code,
    )


def map_transport_error(exc: httpx.HTTPError, *, action: str, mutating: bool) -> ProviderError:
    """The meetbridge error for a request that got no answer.

    A timeout or a dropped connection after the request was sent is *ambiguous* for a
    mutating call: Google may have carried it out. The client-chosen event id makes the
    retry safe (it gets 409 and picks the event up), and ``ambiguous`` tells the host so.
    """
    import httpx  # here, not at module level: importing it is slow

    # Failures where the request never left this machine: retrying cannot duplicate anything.
    not_sent = (
        httpx.ConnectError,
        httpx.ConnectTimeout,
        httpx.PoolTimeout,
        httpx.UnsupportedProtocol,
    )
    sent = not isinstance(exc, not_sent)
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    if sent and mutating:
        detail = (
            " Google may have done it anyway; the retry checks for that before doing"
            " anything twice."
        )
    elif sent:
        detail = ""
    else:
        detail = " Google could not be reached."
    return ProviderUnavailable(
        f"The request to Google Calendar to {action} {kind} ({type(exc).__name__});"
        f" meetbridge retries automatically.{detail}",
        provider=NAME,
        provider_code=type(exc).__name__,
        ambiguous=sent and mutating,
    )
