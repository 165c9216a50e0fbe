"""Rate limits and plans: 429s parsed defensively, the daily cap respected, bursts kept under
the plan's per-second limit, the Basic plan's 40 minutes, and Zoom Rooms."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx
import pytest
from zoom_harness import ADMIN, BASIC, LICENSED, meeting_request

from meetbridge.providers import (
    DailyLimitReached,
    InsufficientScope,
    MeetingRef,
    RateLimited,
    Room,
)
from meetbridge_zoom import limits

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
MIDNIGHT = datetime(2026, 3, 3, 0, 0, tzinfo=UTC)


def response_429(headers: dict[str, str] | None = None, message: str = "") -> httpx.Response:
    return httpx.Response(429, headers=headers or {}, json={"code": 429, "message": message})


@pytest.mark.parametrize(
    ("headers", "message", "retry_after"),
    [
        ({}, "", 1.0),  # no headers at all
        ({"Retry-After": "4"}, "", 4.0),
        ({"X-RateLimit-Type": "QPS", "Retry-After": "2026-03-02T15:00:09Z"}, "", 9.0),
        ({"Retry-After": "Mon, 02 Mar 2026 15:00:03 GMT"}, "", 3.0),
        ({"Retry-After": "soon-ish"}, "", 1.0),
    ],
)
def test_qps_429s_are_rate_limited_whatever_headers_they_carry(headers, message, retry_after):
    error = limits.rate_limit_error(response_429(headers, message), message, NOW)
    assert type(error) is RateLimited and error.retryable
    assert error.retry_after == pytest.approx(retry_after)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"X-RateLimit-Type": "Daily-limit", "Retry-After": "2026-03-03T00:00:00Z"}, ""),
        ({"X-RateLimit-Type": "Daily-limit"}, ""),
        ({}, "You have exceeded the daily rate limit (100) of Meeting Create/Update API requests"),
    ],
)
def test_daily_429s_defer_to_midnight_utc(headers, message):
    error = limits.rate_limit_error(response_429(headers, message), message, NOW)
    assert isinstance(error, DailyLimitReached)
    assert error.resets_at == MIDNIGHT
    assert error.retry_after == (MIDNIGHT - NOW).total_seconds()


async def test_the_sliding_window_limiter_spaces_a_burst():
    limiter = limits.SlidingWindowLimiter(3, window=0.2)
    started = time.monotonic()
    await asyncio.gather(*(limiter.acquire() for _ in range(7)))
    # 3 now, 3 after one window, 1 after two windows.
    assert time.monotonic() - started >= 0.39


async def test_users_of_one_zoom_account_share_its_budget():
    registry = limits.AccountLimits()
    registry.account_of_user.update({"user-a": "acct-1", "user-b": "acct-1"})
    assert registry.limiter("user-a", "medium", 20) is registry.limiter("user-b", "medium", 20)
    assert registry.limiter("user-c", "medium", 20) is not registry.limiter("user-a", "medium", 20)


def test_plan_rates_default_to_pro_and_can_be_configured():
    assert limits.configured_rates({}) == {"medium": 20, "light": 30}
    assert limits.configured_rates({"zoom_plan": "free"}) == {"medium": 2, "light": 4}
    assert limits.configured_rates({"zoom_plan": "business", "rate_limits": {"medium": 10}}) == {
        "medium": 10,
        "light": 80,
    }


# -- against the sandbox ---------------------------------------------------------------------


async def test_a_burst_of_creates_stays_under_the_plans_limit(zoom):
    creds = zoom.credentials(await zoom.connect(LICENSED))
    started = time.monotonic()
    results = await asyncio.gather(
        *(
            zoom.call(
                "create_meeting",
                request=meeting_request(idempotency_key=f"b-{i}"),
                credentials=creds,
            )
            for i in range(30)
        ),
        return_exceptions=True,
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(r, RateLimited) and r.retry_after for r in refused), refused
    assert zoom.state.rate_limited == len(refused)
    # The limiter runs at 97 % of Zoom's rate: on a loaded machine a request that leaves a few
    # milliseconds late can still share one of Zoom's seconds with a later one (the host
    # retries that 429 after its Retry-After). Without the limiter a third of the burst is
    # refused (the next test).
    assert len(refused) <= 1
    assert len({m.external_id for m in made}) == len(made) >= 29
    assert time.monotonic() - started >= 1.0  # Pro: 20 creates per second, so a second wait


async def test_without_the_limiter_the_same_burst_provokes_429s(zoom):
    unlimited = {"rate_limits": {"medium": 10_000}}
    creds = zoom.credentials(await zoom.connect(LICENSED))
    context = zoom.context(**unlimited)
    results = await asyncio.gather(
        *(
            zoom.call(
                "create_meeting",
                context=context,
                request=meeting_request(idempotency_key=f"b-{i}"),
                credentials=creds,
            )
            for i in range(30)
        ),
        return_exceptions=True,
    )
    throttled = [r for r in results if isinstance(r, RateLimited)]
    assert throttled and zoom.state.rate_limited == len(throttled)
    assert all(r.retry_after and r.retry_after > 0 for r in throttled)


async def test_a_qps_429_from_zoom_is_rate_limited(zoom):
    creds = zoom.credentials(await zoom.connect(LICENSED))
    zoom.state.faults.fail_next("/v2/users/me/meetings", "rate_limit_qps")
    with pytest.raises(RateLimited) as failure:
        await zoom.call("create_meeting", request=meeting_request(), credentials=creds)
    assert not isinstance(failure.value, DailyLimitReached)
    assert failure.value.retry_after == 1.0


async def test_the_daily_cap_defers_to_midnight_and_is_not_hammered(zoom):
    zoom.state.daily_cap = 2
    creds = zoom.credentials(await zoom.connect(LICENSED))
    first = await zoom.call(
        "create_meeting", request=meeting_request(idempotency_key="d-1"), credentials=creds
    )
    await zoom.call(
        "update_meeting",
        meeting=MeetingRef(first.external_id),
        request=meeting_request(idempotency_key="d-1"),
        credentials=creds,
    )
    with pytest.raises(DailyLimitReached) as failure:  # create + update count together
        await zoom.call(
            "create_meeting", request=meeting_request(idempotency_key="d-2"), credentials=creds
        )
    assert failure.value.resets_at == MIDNIGHT
    posts = zoom.state.count_requests("POST", "/v2/users/me/meetings")

    with pytest.raises(DailyLimitReached):
        await zoom.call(
            "create_meeting", request=meeting_request(idempotency_key="d-3"), credentials=creds
        )
    assert zoom.state.count_requests("POST", "/v2/users/me/meetings") == posts  # not asked

    zoom.clock.now = MIDNIGHT
    again = await zoom.call(
        "create_meeting", request=meeting_request(idempotency_key="d-3"), credentials=creds
    )
    assert again.external_id


async def test_a_daily_429_fault_is_daily_limit_reached(zoom):
    creds = zoom.credentials(await zoom.connect(LICENSED))
    zoom.state.faults.fail_next("/v2/users/me/meetings", "rate_limit_daily")
    with pytest.raises(DailyLimitReached) as failure:
        await zoom.call("create_meeting", request=meeting_request(), credentials=creds)
    assert failure.value.resets_at == MIDNIGHT


# -- plans and rooms ---------------------------------------------------------------------------


async def test_free_plan_hosts_are_warned_about_the_40_minute_limit(zoom):
    basic = await zoom.connect(BASIC)
    licensed = await zoom.connect(LICENSED)
    assert basic.account_type == "basic" and licensed.account_type == "licensed"

    warnings = await zoom.call("preflight", account=basic, duration_minutes=60)
    assert [w.code for w in warnings] == ["zoom_basic_40_minutes"]
    assert "40 minutes" in warnings[0].message and "60" in warnings[0].message
    assert await zoom.call("preflight", account=basic, duration_minutes=40) == []
    assert await zoom.call("preflight", account=licensed, duration_minutes=90) == []
    on_connect = await zoom.call("preflight", account=basic, duration_minutes=None)
    assert [w.code for w in on_connect] == ["zoom_basic_plan"]


async def test_rooms_are_listed_for_an_account_level_connection(zoom):
    admin = zoom.credentials(await zoom.connect(ADMIN, account_level=True))
    rooms = await zoom.call("list_rooms", credentials=admin)
    assert rooms == [
        Room("RmBoardroom0000000001", "Boardroom", "Available"),
        Room("RmHuddle000000000002", "Huddle Room", "Offline"),
    ]


async def test_rooms_need_the_admin_scope(zoom):
    member = zoom.credentials(await zoom.connect(LICENSED))
    with pytest.raises(InsufficientScope) as failure:
        await zoom.call("list_rooms", credentials=member)
    assert "zoom_rooms:read:list_rooms:admin" in failure.value.message


async def test_the_limiter_paces_calls_evenly_after_a_small_burst():
    # 8 per 0.2 s: a burst of 2 (a quarter), then one every 25 ms, never 8 at once.
    limiter = limits.SlidingWindowLimiter(8, window=0.2)
    started = time.monotonic()
    stamps: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        stamps.append(time.monotonic() - started)

    await asyncio.gather(*(one() for _ in range(6)))
    assert stamps[1] < 0.01  # the burst
    # Then one turn every 25 ms after it, never early (a late turn may be made up).
    for k, stamp in enumerate(stamps[2:], start=1):
        assert stamp >= k * 0.025 - 0.002, stamps


def _block_the_event_loop(seconds: float) -> None:
    time.sleep(seconds)  # what a busy booking does to the other tasks on the loop


async def test_late_turns_never_put_more_than_the_limit_into_one_window():
    # The pacing forgives a turn taken late (the event loop was busy), but the window must
    # count real starts: a start booked earlier than it happened let the next window open
    # early, and a limit's worth plus one reached Zoom within its second.
    limiter = limits.SlidingWindowLimiter(4, window=0.2)
    stamps: list[float] = []
    for n in range(14):
        await limiter.acquire()
        stamps.append(time.monotonic())
        if n % 3 == 0:
            _block_the_event_loop(0.07)  # past the next turn (50 ms): it is taken late
    for first, later in zip(stamps, stamps[4:], strict=False):
        assert later - first >= 0.2 - 0.001, [round(s - stamps[0], 3) for s in stamps]
