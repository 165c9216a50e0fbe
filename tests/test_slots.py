"""Slots: weekly windows in the host's zone, DST days, buffers, notice, busy hosts."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from meetbridge.scheduling.availability import AvailabilityError, parse_windows
from meetbridge.scheduling.slots import Interval, Window, combine, host_slots
from tests.world import NOW, TUE_9, TUE_10, World

NY = ZoneInfo("America/New_York")


def _slots(
    windows: list[Window],
    day_start: datetime,
    days: int = 1,
    *,
    busy=(),
    duration: int = 30,
    buffer: int = 0,
    earliest: datetime | None = None,
) -> list[datetime]:
    return sorted(
        host_slots(
            windows=windows,
            zone=NY,
            busy=list(busy),
            range_start=day_start,
            range_end=day_start + timedelta(days=days),
            duration=timedelta(minutes=duration),
            step=timedelta(minutes=duration),
            buffer=timedelta(minutes=buffer),
            earliest=earliest or day_start,
        )
    )


def _local(dt: datetime) -> str:
    return dt.astimezone(NY).strftime("%H:%M")


def test_office_hours_follow_local_time_across_spring_forward() -> None:
    weekdays = [Window(d, time(9), time(17)) for d in range(5)]
    friday = _slots(weekdays, datetime(2026, 3, 6, 5, tzinfo=UTC))
    monday = _slots(weekdays, datetime(2026, 3, 9, 4, tzinfo=UTC))
    assert friday[0] == datetime(2026, 3, 6, 14, tzinfo=UTC)  # 09:00 EST
    assert monday[0] == datetime(2026, 3, 9, 13, tzinfo=UTC)  # 09:00 EDT
    assert [_local(s) for s in friday] == [_local(s) for s in monday]
    assert len(friday) == len(monday) == 16


def test_spring_forward_night_window_has_one_hour_less() -> None:
    # Sunday 2026-03-08: 02:00-03:00 does not exist in New York.
    sunday_night = [Window(6, time(0), time(6))]
    slots = _slots(sunday_night, datetime(2026, 3, 8, 5, tzinfo=UTC))
    assert len(slots) == 10  # 5 real hours
    assert "02:30" not in [_local(s) for s in slots]
    assert all(b - a == timedelta(minutes=30) for a, b in itertools.pairwise(slots))


def test_fall_back_night_window_has_one_hour_more() -> None:
    # Sunday 2026-11-01: 01:00-02:00 happens twice in New York.
    sunday_night = [Window(6, time(0), time(6))]
    slots = _slots(sunday_night, datetime(2026, 11, 1, 4, tzinfo=UTC))
    assert len(slots) == 14  # 7 real hours
    assert [_local(s) for s in slots].count("01:30") == 2
    assert len(set(slots)) == len(slots)


def test_booker_in_another_zone_sees_the_same_instants() -> None:
    slots = _slots([Window(1, time(9), time(10))], datetime(2026, 12, 1, 5, tzinfo=UTC))
    paris = [s.astimezone(ZoneInfo("Europe/Paris")).strftime("%H:%M") for s in slots]
    assert paris == ["15:00", "15:30"]


def test_busy_time_and_buffer_remove_slots() -> None:
    window = [Window(1, time(9), time(12))]
    day = datetime(2026, 12, 1, 5, tzinfo=UTC)
    busy = [
        Interval(datetime(2026, 12, 1, 15, tzinfo=UTC), datetime(2026, 12, 1, 15, 30, tzinfo=UTC))
    ]
    plain = [_local(s) for s in _slots(window, day, busy=busy)]
    assert "10:00" not in plain and "09:30" in plain and "10:30" in plain
    buffered = [_local(s) for s in _slots(window, day, busy=busy, buffer=15)]
    assert "09:30" not in buffered and "10:30" not in buffered and "11:00" in buffered


def test_minimum_notice() -> None:
    window = [Window(1, time(9), time(12))]
    day = datetime(2026, 12, 1, 5, tzinfo=UTC)
    slots = _slots(window, day, earliest=datetime(2026, 12, 1, 15, 10, tzinfo=UTC))
    assert _local(slots[0]) == "10:30"


def test_collective_needs_everyone_and_round_robin_anyone() -> None:
    t1, t2 = datetime(2026, 12, 1, 14, tzinfo=UTC), datetime(2026, 12, 1, 15, tzinfo=UTC)
    per_host = {1: {t1, t2}, 2: {t2}}
    d = timedelta(minutes=30)
    assert [s.start for s in combine(per_host, hosts=[1, 2], collective=True, duration=d)] == [t2]
    rr = combine(per_host, hosts=[1, 2], collective=False, duration=d)
    assert [(s.start, s.free_hosts) for s in rr] == [(t1, (1,)), (t2, (1, 2))]


def test_parse_windows() -> None:
    assert parse_windows("mon-wed 09:00-12:00; sat 10:00-11:00") == [
        Window(0, time(9), time(12)),
        Window(1, time(9), time(12)),
        Window(2, time(9), time(12)),
        Window(5, time(10), time(11)),
    ]
    with pytest.raises(AvailabilityError, match="end must be after"):
        parse_windows("mon 12:00-09:00")
    with pytest.raises(AvailabilityError, match="Cannot read"):
        parse_windows("someday 9-5")


def test_service_lists_slots_of_a_meeting_type(world: World) -> None:
    slug = world.meeting_type(duration_minutes=60)
    slots = world.bookings.slots(slug, NOW, NOW + timedelta(days=2))
    assert slots[0].start == datetime(2026, 11, 30, 14, tzinfo=UTC)  # Monday 09:00 EST
    assert len(slots) == 16  # Monday and Tuesday, 8 one-hour slots each
    assert TUE_9 in [s.start for s in slots] and TUE_10 in [s.start for s in slots]


def test_naive_range_is_refused(world: World) -> None:
    from meetbridge.scheduling.bookings import BookingError

    slug = world.meeting_type()
    with pytest.raises(BookingError, match="UTC offset"):
        world.bookings.slots(slug, datetime(2026, 12, 1), datetime(2026, 12, 2))
