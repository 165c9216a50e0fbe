"""Property tests of slot computation (Hypothesis), DST days included.

The properties read each offered slot back on the host's own wall clock, independently of how
:func:`meetbridge.scheduling.slots.host_slots` builds it: a slot starts and ends inside one of
that weekday's windows, keeps clear of busy time plus the buffer, respects the notice, stays in
the asked range, and the first aligned slot of an unobstructed window is always offered.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from meetbridge.scheduling.slots import Interval, Window, combine, host_slots, window_intervals

# Zones with and without DST, north and south, half-hour and 45-minute offsets.
ZONES = [
    "America/New_York",
    "Europe/Paris",
    "Europe/London",
    "Australia/Sydney",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "Asia/Tokyo",
    "UTC",
]
# Days around the 2026 DST changes of those zones (and an ordinary week).
DST_DAYS = [
    date(2026, 3, 8),  # US spring forward
    date(2026, 3, 29),  # EU spring forward
    date(2026, 4, 5),  # Sydney and Chatham fall back
    date(2026, 9, 27),  # Chatham spring forward
    date(2026, 10, 4),  # Sydney spring forward
    date(2026, 10, 25),  # EU fall back
    date(2026, 11, 1),  # US fall back
    date(2026, 6, 15),  # no change anywhere
]
MIDNIGHT = time(0)
PROFILE = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


# The zone changes on those days (a third of the examples pair a zone with its own change).
TRANSITIONS = [
    ("America/New_York", date(2026, 3, 8)),
    ("America/New_York", date(2026, 11, 1)),
    ("Europe/Paris", date(2026, 3, 29)),
    ("Europe/London", date(2026, 10, 25)),
    ("Australia/Sydney", date(2026, 4, 5)),
    ("Australia/Sydney", date(2026, 10, 4)),
    ("Pacific/Chatham", date(2026, 9, 27)),
]


@st.composite
def windows(draw: st.DrawFn, day: date) -> list[Window]:
    """A few weekly windows on a quarter-hour grid; an end of 00:00 means midnight. Half of
    them are short night windows around 01:00-04:00, where the clocks change."""
    out = []
    for _ in range(draw(st.integers(1, 5))):
        weekday = draw(st.one_of(st.just(day.weekday()), st.integers(0, 6)))
        if draw(st.booleans()):
            start_q = draw(st.integers(0, 95))
            end_q = draw(st.integers(start_q + 1, 96))
        else:
            start_q = draw(st.integers(4, 15))
            end_q = draw(st.integers(start_q + 1, 17))
        start = time(start_q // 4, (start_q % 4) * 15)
        end = MIDNIGHT if end_q == 96 else time(end_q // 4, (end_q % 4) * 15)
        out.append(Window(weekday, start, end))
    return out


@st.composite
def scenarios(draw: st.DrawFn) -> dict:
    zone_name, day = draw(
        st.one_of(
            st.sampled_from(TRANSITIONS),
            st.tuples(st.sampled_from(ZONES), st.sampled_from(DST_DAYS)),
        )
    )
    zone = ZoneInfo(zone_name)
    day += timedelta(days=draw(st.integers(-1, 1)))
    range_start = datetime.combine(day, time(0), UTC) + timedelta(
        minutes=15 * draw(st.integers(-48, 48))
    )
    range_end = range_start + timedelta(hours=draw(st.integers(1, 72)))
    duration = timedelta(minutes=draw(st.sampled_from([15, 20, 30, 45, 60, 90])))
    step = draw(st.sampled_from([None, timedelta(minutes=15), timedelta(minutes=30)])) or duration
    busy = []
    for _ in range(draw(st.integers(0, 4))):
        b_start = range_start + timedelta(minutes=15 * draw(st.integers(-8, 300)))
        busy.append(Interval(b_start, b_start + timedelta(minutes=draw(st.sampled_from([30, 60])))))
    return {
        "windows": draw(windows(day)),
        "zone": zone,
        "busy": busy,
        "range_start": range_start,
        "range_end": range_end,
        "duration": duration,
        "step": step,
        "buffer": timedelta(minutes=draw(st.sampled_from([0, 5, 15, 30]))),
        "earliest": range_start + timedelta(minutes=draw(st.sampled_from([0, 0, 60, 600]))),
    }


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def wall_reached(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The first instant at which the host's clock on local ``day`` shows ``at`` or later.

    An existing wall time gives its first occurrence; a wall time skipped by a spring-forward
    gives the moment of the jump. Found by search, independently of the code under test.
    """
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=zone).astimezone(UTC)
    if _wall(first, zone) == naive:
        return first
    lo, hi = first - timedelta(hours=3), first  # the clock jumped over ``at`` in between
    while hi - lo > timedelta(minutes=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(second=0, microsecond=0)
        if _wall(mid, zone) >= naive:
            hi = mid
        else:
            lo = mid
    return hi


def in_gap(day: date, at: time, zone: ZoneInfo) -> bool:
    """Whether ``at`` on ``day`` does not exist on the wall clock (skipped by DST)."""
    naive = datetime.combine(day, at)
    return _wall(naive.replace(tzinfo=zone).astimezone(UTC), zone) != naive


def _inside_a_window(start: datetime, end: datetime, zone: ZoneInfo, ws: list[Window]) -> bool:
    """[start, end) lies within one window of the weekday the host's clock shows at ``start``:
    it opens no earlier than the clock reaches the window's start, and ends no later than the
    clock reaches the window's end (00:00 as an end: the next midnight)."""
    day = start.astimezone(zone).date()
    for w in ws:
        if w.weekday != day.weekday():
            continue
        closes = (
            wall_reached(day + timedelta(days=1), MIDNIGHT, zone)
            if w.end == MIDNIGHT
            else wall_reached(day, w.end, zone)
        )
        if wall_reached(day, w.start, zone) <= start and end <= closes:
            return True
    return False


def _edges_exist(case: dict) -> bool:
    """No window edge falls strictly inside a DST gap on the days covered (that case is the
    known defect pinned by ``test_a_window_inside_the_spring_forward_gap_offers_no_slot``)."""
    zone = case["zone"]
    day = (case["range_start"].astimezone(zone) - timedelta(days=1)).date()
    last = (case["range_end"].astimezone(zone) + timedelta(days=1)).date()
    while day <= last:
        for w in case["windows"]:
            if w.weekday == day.weekday() and (
                in_gap(day, w.start, zone) or (w.end != MIDNIGHT and in_gap(day, w.end, zone))
            ):
                return False
        day += timedelta(days=1)
    return True


@PROFILE
@given(scenarios())
def test_every_slot_lies_in_a_window_on_the_hosts_wall_clock(case: dict) -> None:
    assume(_edges_exist(case))
    for start in host_slots(**case):
        end = start + case["duration"]
        assert _inside_a_window(start, end, case["zone"], case["windows"]), (
            f"{start.astimezone(case['zone'])} - {end.astimezone(case['zone'])}"
        )


@PROFILE
@given(scenarios())
def test_no_slot_touches_busy_time_plus_buffer_or_breaks_notice_or_range(case: dict) -> None:
    buffer, duration = case["buffer"], case["duration"]
    for start in host_slots(**case):
        assert case["range_start"] <= start < case["range_end"]
        assert start >= case["earliest"]
        assert start.tzinfo is not None and start.utcoffset() == timedelta(0)
        for busy in case["busy"]:
            clear = start + duration <= busy.start - buffer or start >= busy.end + buffer
            assert clear, f"slot {start} overlaps busy {busy} with buffer {buffer}"


@PROFILE
@given(scenarios())
def test_slots_step_from_the_start_of_their_window(case: dict) -> None:
    zone = case["zone"]
    first = (case["range_start"].astimezone(zone) - timedelta(days=1)).date()
    last = (case["range_end"].astimezone(zone) + timedelta(days=1)).date()
    real_windows = window_intervals(case["windows"], zone, first, last)
    step = case["step"]
    for start in host_slots(**case):
        assert any(
            w.start <= start
            and start + case["duration"] <= w.end
            and (start - w.start) % step == timedelta(0)
            for w in real_windows
        )


@PROFILE
@given(scenarios())
def test_an_unobstructed_window_offers_its_first_slot(case: dict) -> None:
    """Completeness: slots are not silently dropped (the wall-clock reading of each window)."""
    zone = case["zone"]
    first = (case["range_start"].astimezone(zone) - timedelta(days=1)).date()
    last = (case["range_end"].astimezone(zone) + timedelta(days=1)).date()
    offered = host_slots(**case)
    pad = case["buffer"]
    for w in window_intervals(case["windows"], zone, first, last):
        candidate = Interval(w.start, w.start + case["duration"])
        blocked = any(
            candidate.overlaps(Interval(b.start - pad, b.end + pad)) for b in case["busy"]
        )
        if (
            candidate.end <= w.end
            and case["range_start"] <= w.start < case["range_end"]
            and w.start >= case["earliest"]
            and not blocked
        ):
            assert w.start in offered


@PROFILE
@given(
    st.dictionaries(
        st.integers(1, 4),
        st.sets(
            st.integers(0, 20).map(
                lambda q: datetime(2026, 3, 8, tzinfo=UTC) + q * timedelta(minutes=30)
            )
        ),
    ),
    st.booleans(),
)
def test_combined_slots_name_only_hosts_free_at_that_time(
    per_host: dict[int, set[datetime]], collective: bool
) -> None:
    hosts = [1, 2, 3, 4]
    slots = combine(per_host, hosts=hosts, collective=collective, duration=timedelta(minutes=30))
    offered = {s.start for s in slots}
    for slot in slots:
        assert slot.free_hosts and all(
            slot.start in per_host.get(h, set()) for h in slot.free_hosts
        )
        if collective:
            assert slot.free_hosts == tuple(hosts)
    # Nothing a round-robin booker could take is missing.
    if not collective:
        assert offered == set().union(*per_host.values()) if per_host else offered == set()


NEW_YORK = ZoneInfo("America/New_York")
SPRING_NIGHT = datetime(2026, 3, 8, 5, tzinfo=UTC)  # Sunday 00:00 in New York


def _night_slots(window: Window) -> list[datetime]:
    return sorted(
        host_slots(
            windows=[window],
            zone=NEW_YORK,
            busy=[],
            range_start=SPRING_NIGHT,
            range_end=SPRING_NIGHT + timedelta(hours=8),
            duration=timedelta(minutes=30),
            step=timedelta(minutes=30),
            buffer=timedelta(0),
            earliest=SPRING_NIGHT,
        )
    )


def test_a_window_inside_the_spring_forward_gap_offers_no_slot() -> None:
    # 02:00-02:30 does not exist in New York that night: the host is never available.
    assert _night_slots(Window(6, time(2), time(2, 30))) == []


def test_a_window_ending_where_the_clock_jumps_keeps_its_real_length() -> None:
    # 01:00-02:00 EST is one real hour; at 02:00 the clock shows 03:00 EDT.
    slots = _night_slots(Window(6, time(1), time(2)))
    assert [s.astimezone(NEW_YORK).strftime("%H:%M") for s in slots] == ["01:00", "01:30"]
