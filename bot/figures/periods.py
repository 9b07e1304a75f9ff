"""Periods the figures are counted over: calendar months and years in the community's time zone.

A report sent at 01:00 on 1 February in Shanghai is February's, although it is still
31 January in UTC: every boundary is local midnight, turned into UTC for the queries.
"""

from __future__ import annotations

import calendar
import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


class PeriodKind(enum.StrEnum):
    MONTH = "m"
    YEAR = "y"


@dataclass(frozen=True)
class Period:
    """`[start, end)` in UTC. A period still running ends at `now` (`complete` is False)."""

    kind: PeriodKind
    year: int
    month: int | None
    start: datetime
    end: datetime
    complete: bool


def _local(year: int, month: int, day: int, tz: ZoneInfo) -> datetime:
    return datetime(year, month, day, tzinfo=tz).astimezone(UTC)


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def month_period(year: int, month: int, *, tz: ZoneInfo, now: datetime) -> Period:
    """One calendar month; the current one runs until `now`."""
    start = _local(year, month, 1, tz)
    next_year, next_month = _add_months(year, month, 1)
    end = _local(next_year, next_month, 1, tz)
    if now < end:
        return Period(PeriodKind.MONTH, year, month, start, max(now, start), False)
    return Period(PeriodKind.MONTH, year, month, start, end, True)


def year_period(year: int, *, tz: ZoneInfo, now: datetime) -> Period:
    """One calendar year; the current one runs until `now`."""
    start = _local(year, 1, 1, tz)
    end = _local(year + 1, 1, 1, tz)
    if now < end:
        return Period(PeriodKind.YEAR, year, None, start, max(now, start), False)
    return Period(PeriodKind.YEAR, year, None, start, end, True)


def this_month(*, tz: ZoneInfo, now: datetime) -> Period:
    local = now.astimezone(tz)
    return month_period(local.year, local.month, tz=tz, now=now)


def last_month(*, tz: ZoneInfo, now: datetime) -> Period:
    local = now.astimezone(tz)
    year, month = _add_months(local.year, local.month, -1)
    return month_period(year, month, tz=tz, now=now)


def this_year(*, tz: ZoneInfo, now: datetime) -> Period:
    return year_period(now.astimezone(tz).year, tz=tz, now=now)


def _shift_back(moment: datetime, *, months: int, tz: ZoneInfo) -> datetime:
    """The same local wall-clock time `months` earlier (the 31st becomes the month's last day)."""
    local = moment.astimezone(tz)
    year, month = _add_months(local.year, local.month, -months)
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(UTC)


def previous(period: Period, *, tz: ZoneInfo) -> Period:
    """The period before, like for like: a whole month before a whole month; for a month
    still running (the 1st to the 20th) the same days of the month before; likewise a year."""
    months = 1 if period.kind is PeriodKind.MONTH else 12
    start = _shift_back(period.start, months=months, tz=tz)
    end = period.start if period.complete else _shift_back(period.end, months=months, tz=tz)
    local = start.astimezone(tz)
    return Period(period.kind, local.year, local.month if period.month is not None else None,
                  start, max(end, start), period.complete)


def months_back(*, count: int, tz: ZoneInfo, now: datetime,
                ending: Period | None = None) -> list[Period]:
    """`count` calendar months, oldest first, ending with the month `ending` ends in (a
    year: its last month so far), else with the current one (until `now`)."""
    last = now
    if ending is not None:
        last = ending.end - timedelta(microseconds=1) if ending.complete else ending.end
    local = last.astimezone(tz)
    out = []
    for back in range(count - 1, -1, -1):
        year, month = _add_months(local.year, local.month, -back)
        out.append(month_period(year, month, tz=tz, now=now))
    return out
