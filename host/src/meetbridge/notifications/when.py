"""Times as each recipient reads them: in their own timezone, with the zone named.

Instants are stored in UTC; every message converts them to the recipient's IANA zone
(the booker's zone for attendees, the user's zone for hosts and admins). The abbreviation is
the one in force *at that instant* (CET in winter, CEST in summer), which is what makes a
reschedule across a daylight-saving change read right.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from meetbridge.notifications.catalogue import Translator


@dataclass(frozen=True)
class When:
    """A time range formatted for one reader."""

    date: str  # "Tuesday, 1 December 2026"
    date_short: str  # "Tue 1 Dec"
    start: str  # "3:00 PM"
    end: str  # "3:30 PM"
    zone: str  # "CET (Europe/Paris)"
    text: str  # "Tuesday, 1 December 2026, 3:00 PM - 3:30 PM" (en dash)

    @property
    def full(self) -> str:
        return f"{self.text} {self.zone}"

    @property
    def short(self) -> str:
        """For subjects: "Tue 1 Dec, 3:00 PM CET"."""
        abbr = self.zone.split(" (")[0]
        return f"{self.date_short}, {self.start} {abbr}"


def zone_abbreviation(moment: datetime) -> str:
    """CET, EDT... or UTC+05:30 where the zone database has no letters for it."""
    abbr = moment.tzname() or ""
    if abbr and abbr[0] not in "+-":
        return abbr
    offset = moment.utcoffset()
    total = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if total >= 0 else "-"
    hours, minutes = divmod(abs(total), 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def format_date(moment: datetime, t: Translator, key: str = "format.date") -> str:
    return t(
        key,
        weekday=t.raw("weekdays")[moment.weekday()],
        weekday_short=t.raw("weekdays_short")[moment.weekday()],
        day=moment.day,
        month=t.raw("months")[moment.month - 1],
        month_short=t.raw("months_short")[moment.month - 1],
        year=moment.year,
    )


def format_clock(moment: datetime, t: Translator) -> str:
    if t.raw("format.clock") == "12h":
        hour = moment.hour % 12 or 12
        return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"
    return f"{moment.hour:02d}:{moment.minute:02d}"


def format_when(start: datetime, end: datetime, timezone: str, t: Translator) -> When:
    """``start``/``end`` are aware instants; the result reads in ``timezone``."""
    zone = ZoneInfo(timezone)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    date = format_date(local_start, t)
    start_s, end_s = format_clock(local_start, t), format_clock(local_end, t)
    if local_end.date() == local_start.date():
        text = t("format.range", date=date, start=start_s, end=end_s)
    else:
        text = t(
            "format.range_overnight",
            date=date,
            start=start_s,
            end=end_s,
            end_date=format_date(local_end, t),
        )
    return When(
        date=date,
        date_short=format_date(local_start, t, "format.date_short"),
        start=start_s,
        end=end_s,
        zone=t("format.zone", abbr=zone_abbreviation(local_start), zone=timezone),
        text=text,
    )


def format_moment(moment: datetime, timezone: str, t: Translator) -> str:
    """One instant: "Tuesday, 1 December 2026, 3:00 PM CET (Europe/Paris)"."""
    local = moment.astimezone(ZoneInfo(timezone))
    zone = t("format.zone", abbr=zone_abbreviation(local), zone=timezone)
    return f"{format_date(local, t)}, {format_clock(local, t)} {zone}"
