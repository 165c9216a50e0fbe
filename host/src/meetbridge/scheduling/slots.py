"""Slot computation, as pure functions.

Availability is weekly wall-clock windows in each host's own timezone. Each window is turned
into real UTC instants for every date of the requested range, which is where DST matters: on
the spring-forward day a 09:00-17:00 window is still 09:00-17:00 local (7 real hours before
the change would be wrong), and a window spanning 02:00 covers the hour that does not exist
only once. ``datetime.combine(date, time, zone)`` with fold=0 gives exactly those semantics.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Window:
    weekday: int  # 0 = Monday
    start: time
    end: time  # time(0) as end means midnight at the end of the day


@dataclass(frozen=True)
class Interval:
    start: datetime  # aware UTC
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class Slot:
    start: datetime  # aware UTC
    end: datetime
    free_hosts: tuple[int, ...]


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant the host's clock shows ``at`` on ``day``.

    A repeated wall time (autumn) is its first occurrence. A wall time the clocks skip
    (spring) is the moment of the jump: a window 02:00-02:30 on that night never exists, and
    one 01:30-03:30 lasts an hour. (Read naively with fold=0, a skipped time lands an hour
    late, which offered 03:00-03:30 for a 02:00-02:30 window.)
    """
    naive = datetime.combine(day, at)
    instant = naive.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        return instant
    # Skipped: fold=1 reads it with the offset after the jump, an instant before the jump;
    # fold=0 one after. Bisect (whole seconds) for the first instant with the new offset.
    after = instant.astimezone(zone).utcoffset()
    lo = int(naive.replace(tzinfo=zone, fold=1).timestamp())
    hi = int(instant.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(zone).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def window_intervals(
    windows: Iterable[Window], zone: ZoneInfo, first: date, last: date
) -> list[Interval]:
    """Concrete UTC intervals of weekly ``windows`` for local dates ``first``..``last``."""
    out: list[Interval] = []
    by_day: dict[int, list[Window]] = {}
    for w in windows:
        by_day.setdefault(w.weekday, []).append(w)
    day = first
    while day <= last:
        for w in by_day.get(day.weekday(), ()):
            start = local_instant(day, w.start, zone)
            end_day = day + timedelta(days=1) if w.end == time(0) else day
            end = local_instant(end_day, w.end, zone)
            if end > start:
                out.append(Interval(start, end))
        day += timedelta(days=1)
    return out


def host_slots(
    *,
    windows: Sequence[Window],
    zone: ZoneInfo,
    busy: Sequence[Interval],
    range_start: datetime,
    range_end: datetime,
    duration: timedelta,
    step: timedelta,
    buffer: timedelta,
    earliest: datetime,
) -> set[datetime]:
    """Start instants at which one host can take a meeting of ``duration``."""
    # Local dates that can touch the UTC range (a day of slack either side for offsets).
    first = (range_start.astimezone(zone) - timedelta(days=1)).date()
    last = (range_end.astimezone(zone) + timedelta(days=1)).date()
    blocked = merge_intervals(Interval(b.start - buffer, b.end + buffer) for b in busy)
    blocked_starts = [b.start for b in blocked]
    starts: set[datetime] = set()
    for window in window_intervals(windows, zone, first, last):
        # Slots are aligned on the window's local start, stepping in real time.
        cursor = window.start
        while cursor + duration <= window.end:
            if (
                range_start <= cursor < range_end
                and cursor >= earliest
                and not _hits(blocked, blocked_starts, cursor, cursor + duration)
            ):
                starts.add(cursor)
            cursor += step
    return starts


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint intervals covering the same time (overlapping or touching ones joined).

    A candidate overlaps the union exactly when it overlaps one of the originals, so busy
    time can be searched by bisection instead of compared with every booking: slot
    computation stays linear in the number of candidate starts (docs/performance.md).
    """
    merged: list[Interval] = []
    for interval in sorted(intervals, key=lambda i: i.start):
        if merged and interval.start <= merged[-1].end:
            if interval.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, interval.end)
        else:
            merged.append(interval)
    return merged


def _hits(
    blocked: Sequence[Interval], starts: Sequence[datetime], lo: datetime, hi: datetime
) -> bool:
    """Whether [lo, hi) overlaps one of ``blocked`` (sorted, disjoint; ``starts`` theirs)."""
    # The last blocked interval starting before ``hi`` is the only one that can reach ``lo``.
    i = bisect_left(starts, hi) - 1
    return i >= 0 and blocked[i].end > lo


def combine(
    per_host: Mapping[int, set[datetime]],
    *,
    hosts: Sequence[int],
    collective: bool,
    duration: timedelta,
) -> list[Slot]:
    """Round-robin and one-person: any listed host free. Collective: every host free."""
    all_starts: set[datetime] = set().union(*per_host.values()) if per_host else set()
    slots: list[Slot] = []
    for start in sorted(all_starts):
        free = tuple(h for h in hosts if start in per_host.get(h, set()))
        if (collective and len(free) == len(hosts)) or (not collective and free):
            slots.append(Slot(start, start + duration, free))
    return slots
