"""Choosing hosts for a booking: round-robin (fair), collective (everyone), one person."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from meetbridge.models import Assignment


@dataclass(frozen=True)
class Candidate:
    user_id: int
    position: int
    priority: int
    last_booked_at: datetime | None  # latest booking of this type assigned to them
    video_ok: bool = True  # has a working connection for the type's provider


def round_robin_order(candidates: Sequence[Candidate], *, skip_broken_video: bool) -> list[int]:
    """Least recently booked first (never booked before anyone), so bookings spread evenly;
    among hosts equal on that, higher priority first, then the order they were listed in."""
    pool = [c for c in candidates if c.video_ok] if skip_broken_video else list(candidates)
    if skip_broken_video and not pool:
        pool = list(candidates)  # better a booking without video than no booking at all

    def key(c: Candidate) -> tuple[int, float, int, int]:
        never = c.last_booked_at is None
        stamp = c.last_booked_at.timestamp() if c.last_booked_at else 0.0
        return (0 if never else 1, stamp, -c.priority, c.position)

    return [c.user_id for c in sorted(pool, key=key)]


def choose_hosts(
    mode: Assignment,
    hosts_in_order: Sequence[int],
    free: Sequence[int],
    candidates: Mapping[int, Candidate],
    *,
    skip_broken_video: bool = False,
) -> list[int]:
    """The hosts of a booking at a slot where ``free`` hosts are available ([] = none)."""
    if mode == Assignment.COLLECTIVE:
        return list(hosts_in_order) if set(hosts_in_order) <= set(free) else []
    if mode == Assignment.ONE_PERSON:
        return [hosts_in_order[0]] if hosts_in_order and hosts_in_order[0] in free else []
    available = [candidates[h] for h in hosts_in_order if h in free]
    order = round_robin_order(available, skip_broken_video=skip_broken_video)
    return order[:1]
