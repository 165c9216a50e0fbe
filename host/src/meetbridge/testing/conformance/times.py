"""Contract: the meeting starts at the booked instant, also on the days the clocks change.

The host hands the provider an aware UTC instant plus the organisation's zone (for display).
The classic bug is sending a wall time in one zone that the provider reads in another, which
puts meetings off by the UTC offset, and on daylight-saving days off by an hour for some
bookings only. America/New_York springs forward on 2026-03-08 (02:00 EST becomes 03:00 EDT)
and falls back on 2026-11-01 (02:00 EDT becomes 01:00 EST, so 01:30 happens twice).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from meetbridge.testing.conformance.kit import Kit, contract, same_instant

NEW_YORK = "America/New_York"
_NY = ZoneInfo(NEW_YORK)

# (label, UTC instant, minutes): each is checked to land on exactly that instant.
SPRING_FORWARD = (
    ("01:30 EST, just before the change", datetime(2026, 3, 8, 6, 30, tzinfo=UTC), 30),
    ("03:30 EDT, just after the change", datetime(2026, 3, 8, 7, 30, tzinfo=UTC), 30),
    ("01:30 EST for 60 minutes, across the change", datetime(2026, 3, 8, 6, 30, tzinfo=UTC), 60),
    ("10:00 EDT", datetime(2026, 3, 8, 14, 0, tzinfo=UTC), 30),
    ("23:30 EDT, already the next day in UTC", datetime(2026, 3, 9, 3, 30, tzinfo=UTC), 30),
)
FALL_BACK = (
    ("the first 01:30 (EDT)", datetime(2026, 11, 1, 5, 30, tzinfo=UTC), 30),
    ("the second 01:30 (EST)", datetime(2026, 11, 1, 6, 30, tzinfo=UTC), 30),
    ("01:30 EDT for 60 minutes, across the change", datetime(2026, 11, 1, 5, 30, tzinfo=UTC), 60),
    ("10:00 EST", datetime(2026, 11, 1, 15, 0, tzinfo=UTC), 30),
)
# A booking moved across the change keeps its wall time, so its UTC hour changes.
MOVES = (
    (datetime(2026, 3, 7, 15, 0, tzinfo=UTC), datetime(2026, 3, 8, 14, 0, tzinfo=UTC)),
    (datetime(2026, 10, 31, 14, 0, tzinfo=UTC), datetime(2026, 11, 1, 15, 0, tzinfo=UTC)),
)


async def _check_day(kit: Kit, cases: tuple[tuple[str, datetime, int], ...]) -> None:
    credentials = kit.credentials(await kit.account())
    wrong = []
    for label, instant, minutes in cases:
        request = kit.request(start=instant, duration_minutes=minutes, timezone=NEW_YORK)
        meeting = await kit.create(credentials, request)
        held = await kit.observe(meeting.external_id)
        assert held is not None, f"{label}: the provider has no meeting {meeting.external_id}"
        if not same_instant(held.start, instant) or held.duration_minutes != minutes:
            local = instant.astimezone(_NY).strftime("%Y-%m-%d %H:%M %Z")
            wrong.append(
                f"{label}: booked {instant:%Y-%m-%d %H:%M}Z ({local}) for {minutes} min, the"
                f" provider has {held.start.astimezone(UTC):%Y-%m-%d %H:%M}Z for"
                f" {held.duration_minutes} min"
            )
    assert not wrong, "meetings at the wrong time:\n" + "\n".join(wrong)


class TimeContract:
    @contract(keeps_meetings=True)
    async def test_meetings_on_the_spring_forward_day_start_at_the_booked_instant(
        self, kit: Kit
    ) -> None:
        """2026-03-08 in America/New_York: before, after and across 02:00 -> 03:00."""
        await _check_day(kit, SPRING_FORWARD)

    @contract(keeps_meetings=True)
    async def test_meetings_on_the_fall_back_day_start_at_the_booked_instant(
        self, kit: Kit
    ) -> None:
        """2026-11-01 in America/New_York: both 01:30s are different instants."""
        await _check_day(kit, FALL_BACK)

    @contract(keeps_meetings=True)
    async def test_a_booking_moved_across_a_clock_change_lands_on_the_new_instant(
        self, kit: Kit
    ) -> None:
        """10:00 the day before to 10:00 on the change day: the UTC hour moves by one."""
        credentials = kit.credentials(await kit.account())
        for before, after in MOVES:
            request = kit.request(start=before, timezone=NEW_YORK)
            meeting = await kit.create(credentials, request)
            moved = kit.request(
                idempotency_key=request.idempotency_key, start=after, timezone=NEW_YORK
            )
            await kit.update(credentials, meeting, moved)
            held = await kit.observe(meeting.external_id)
            assert held is not None and same_instant(held.start, after), (
                f"moved to {after:%Y-%m-%d %H:%M}Z, the provider has {held.start if held else None}"
            )
