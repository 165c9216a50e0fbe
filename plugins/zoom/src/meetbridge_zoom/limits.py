"""Zoom's rate limits: staying under them, and reading the 429s when we do not.

Zoom limits calls per *account* and per second by plan and by "rate limit label" (creating a
meeting is "Medium", reading, updating and deleting one is "Light"), and caps each host user at
100 meeting create+update calls per UTC day. A burst of bookings must not provoke 429s, so
every call first waits its turn in a sliding-window limiter shared by the whole process for
that Zoom account. When Zoom says the daily cap is reached, further creates and updates for
that host are refused locally until 00:00 UTC instead of hammering Zoom.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from meetbridge.providers import DailyLimitReached, ProviderContext, RateLimited
from meetbridge_zoom.info import LABEL, NAME

if TYPE_CHECKING:
    import httpx

MEDIUM = "medium"
LIGHT = "light"

# Requests per second per account, by plan (Zoom's published table).
PLAN_RATE_LIMITS: dict[str, dict[str, float]] = {
    "free": {MEDIUM: 2, LIGHT: 4},
    "pro": {MEDIUM: 20, LIGHT: 30},
    "business": {MEDIUM: 60, LIGHT: 80},
}
DEFAULT_PLAN = "pro"
# Requests reach Zoom a little later than they leave us, unevenly; a window slightly longer
# than Zoom's second keeps that jitter from pushing two windows' worth into one of Zoom's.
# Sustained, the limiter starts ``limit`` calls per WINDOW_SECONDS, evenly spaced (see
# SlidingWindowLimiter): 1.03 s is 97 % of Zoom's rate, and a call may leave up to 30 ms
# later than its turn before two of them can land in one of Zoom's seconds.
WINDOW_SECONDS = 1.03
DEFAULT_QPS_RETRY_SECONDS = 1.0
# How late a paced turn may be and still count as on time (see SlidingWindowLimiter.acquire):
# less than the window's margin over Zoom's second, the lateness Zoom tolerates.
CATCH_UP_SECONDS = 0.025


class SlidingWindowLimiter:
    """At most ``limit`` calls start within any ``window`` seconds; callers wait in turn.

    Calls start evenly spaced, ``window / limit`` apart, except a small burst (a quarter of
    the limit) when the window was quiet. Before, a whole window's worth started at once
    whenever the window freed up: such a burst leaves over the next tens of milliseconds
    (the event loop sends one request after another, between other work), and its stragglers
    then shared one of Zoom's seconds with the next burst, which Zoom answered with 429s.
    """

    def __init__(
        self,
        limit: int,
        window: float = WINDOW_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = max(1, int(limit))
        self.window = window
        self.spacing = window / self.limit
        self.burst = max(1, self.limit // 4)
        self._monotonic = monotonic
        self._starts: deque[float] = deque()
        self._last = float("-inf")
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:  # FIFO: the lock hands over in arrival order
            while True:
                now = self._monotonic()
                while self._starts and now - self._starts[0] >= self.window:
                    self._starts.popleft()
                # When this call may start: once the window has room, and (past a burst)
                # one spacing after the previous turn; "now" when nothing holds it back.
                turn = now if len(self._starts) < self.burst else float("-inf")
                if len(self._starts) >= self.limit:
                    turn = max(turn, self._starts[0] + self.window)
                if len(self._starts) >= self.burst:
                    turn = max(turn, self._last + self.spacing)
                if turn <= now:
                    # A turn taken a little late (the event loop was busy with other bookings)
                    # counts as taken when due, so the lateness is not passed on to every turn
                    # after it; much later, it counts as taken now, so the calls after it keep
                    # their distance from it (else a late call and the one a window after it
                    # could land in the same one of Zoom's seconds).
                    self._last = max(turn, now - CATCH_UP_SECONDS)
                    # The window counts when the call really starts: only the pacing forgives
                    # lateness, so no ``window`` ever holds more than ``limit`` real starts.
                    self._starts.append(now)
                    return
                await asyncio.sleep(turn - now)


def configured_rates(options: Mapping[str, Any]) -> dict[str, float]:
    """Per-second rates from the settings options, defaulting to the Pro plan.

    ``options["zoom_plan"]``: "free", "pro" or "business"; ``options["rate_limits"]``:
    ``{"medium": 20, "light": 30}`` to set them outright (either key may be left out).
    """
    plan = str(options.get("zoom_plan") or DEFAULT_PLAN).lower()
    rates = dict(PLAN_RATE_LIMITS.get(plan, PLAN_RATE_LIMITS[DEFAULT_PLAN]))
    for category, value in dict(options.get("rate_limits") or {}).items():
        if str(category).lower() in rates:
            rates[str(category).lower()] = float(value)
    return rates


class AccountLimits:
    """Limiters keyed by (Zoom account, category), one set per event loop.

    An ``asyncio.Lock`` belongs to the loop it was first used on, so each loop gets its own
    limiters; a process normally runs one loop, so in practice they are process-wide.
    """

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], Any]] = (
            weakref.WeakKeyDictionary()
        )
        # Zoom user id -> Zoom account id, learned at connect, so the users of one account
        # share that account's budget.
        self.account_of_user: dict[str, str] = {}

    def limiter(self, account_key: str, category: str, rate: float) -> SlidingWindowLimiter:
        limiters = self._by_loop.setdefault(asyncio.get_running_loop(), {})
        key = (self.account_of_user.get(account_key, account_key), category)
        current = limiters.get(key)
        if current is None or current.limit != max(1, int(rate)):
            current = limiters[key] = SlidingWindowLimiter(int(rate))
        return current

    async def wait_turn(self, context: ProviderContext, account_key: str, category: str) -> None:
        rate = configured_rates(context.settings.options).get(category)
        if rate is None or rate <= 0:
            return
        await self.limiter(account_key, category, rate).acquire()


class DailyBlocks:
    """Host users whose daily create+update cap Zoom said is used up, until when."""

    def __init__(self) -> None:
        self._until: dict[str, datetime] = {}

    def block(self, host_key: str, until: datetime) -> None:
        self._until[host_key] = until

    def check(self, host_key: str, now: datetime) -> None:
        """Raise ``DailyLimitReached`` without calling Zoom while ``host_key`` is blocked."""
        until = self._until.get(host_key)
        if until is None:
            return
        if now >= until:
            del self._until[host_key]
            return
        raise daily_limit_error(until, now)


ACCOUNT_LIMITS = AccountLimits()
DAILY_BLOCKS = DailyBlocks()


def reset() -> None:
    """Forget every limiter, learned account and daily block (tests start clean)."""
    ACCOUNT_LIMITS.__init__()  # type: ignore[misc]
    DAILY_BLOCKS.__init__()  # type: ignore[misc]


def next_utc_midnight(now: datetime) -> datetime:
    day = now.astimezone(UTC).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def daily_limit_error(resets_at: datetime, now: datetime) -> DailyLimitReached:
    return DailyLimitReached(
        f"This host has used {LABEL}'s daily allowance of 100 meeting creates and updates;"
        f" the meeting will be made after {resets_at:%Y-%m-%d %H:%M} UTC, when it resets.",
        resets_at=resets_at,
        retry_after=max(1.0, (resets_at - now).total_seconds()),
        provider=NAME,
        provider_code="daily_limit",
    )


def _retry_after(value: str | None, now: datetime) -> tuple[float | None, datetime | None]:
    """Parse ``Retry-After``: seconds, an ISO datetime or an HTTP date. Never raises."""
    if not value:
        return None, None
    value = value.strip()
    try:
        return max(0.0, float(value)), None
    except ValueError:
        pass
    when: datetime | None = None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None, None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds()), when.astimezone(UTC)


def is_daily_limit(response: httpx.Response, message: str) -> bool:
    kind = response.headers.get("x-ratelimit-type", "").strip().lower()
    return kind.startswith("daily") or "daily rate limit" in message.lower()


def rate_limit_error(response: httpx.Response, message: str, now: datetime) -> RateLimited:
    """Turn a 429 into ``RateLimited`` or ``DailyLimitReached``, whatever headers it has."""
    seconds, when = _retry_after(response.headers.get("retry-after"), now)
    if is_daily_limit(response, message):
        # The cap resets at 00:00 UTC whatever the header says; a later hint is respected.
        resets_at = next_utc_midnight(now)
        if when is not None and when > resets_at:
            resets_at = when
        return daily_limit_error(resets_at, now)
    category = response.headers.get("x-ratelimit-category", "")
    return RateLimited(
        f"{LABEL} asked us to slow down{f' ({category} requests)' if category else ''};"
        " the call will be tried again shortly.",
        retry_after=seconds if seconds is not None else DEFAULT_QPS_RETRY_SECONDS,
        provider=NAME,
        provider_code="rate_limit_qps",
    )
