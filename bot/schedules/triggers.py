"""When a schedule fires: presets and cron expressions, computed by APScheduler's triggers.

Every place that needs a fire time (the runner, the list's "next three", the catch-up at
start, the tests) goes through `next_fire_after`, so they all agree. Times are local to the
schedule's time zone; fire times come out as aware UTC datetimes.

Cron expressions are standard five-field crontab (minute hour day month weekday) with
Sunday = 0 or 7, as people find them documented everywhere. APScheduler 3.x counts Monday
as 0 (its `from_crontab` warns of this), so the weekday field is translated to names here.
No Telegram import.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from bot.i18n import N_

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # Python's weekday() order
CRONTAB_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab's 0..6
#: A schedule may not fire more often than this (a cron typo must not flood residents).
MIN_INTERVAL = timedelta(hours=1)
TIME_PATTERN = re.compile(r"^\s*([01]?\d|2[0-3])\s*[:：.]\s*([0-5]\d)\s*$")
DATE_TIME_PATTERN = re.compile(
    r"^\s*(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?\s+([01]?\d|2[0-3])\s*[:：.]\s*([0-5]\d)\s*$")


class TriggerKind(enum.StrEnum):
    ONCE = "once"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    CRON = "cron"


class TriggerError(ValueError):
    """A trigger that cannot be used; `msgid` is an English message to translate, with
    `{detail}` filled from `detail`."""

    def __init__(self, msgid: str, detail: str = "") -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.detail = detail


@dataclass(frozen=True)
class TriggerSpec:
    """What the person chose. `at` is the local time of day (daily, weekly, monthly),
    `on` the local date of a one-off, `weekdays` 0 = Monday, `day` of the month."""

    kind: TriggerKind
    at: time | None = None
    on: date | None = None
    weekdays: tuple[int, ...] = field(default_factory=tuple)
    day: int | None = None
    cron: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "at": self.at.strftime("%H:%M") if self.at else None,
            "on": self.on.isoformat() if self.on else None,
            "weekdays": sorted(self.weekdays),
            "day": self.day,
            "cron": self.cron,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TriggerSpec:
        return cls(
            kind=TriggerKind(data["kind"]),
            at=time.fromisoformat(data["at"]) if data.get("at") else None,
            on=date.fromisoformat(data["on"]) if data.get("on") else None,
            weekdays=tuple(sorted(data.get("weekdays") or ())),
            day=data.get("day"),
            cron=data.get("cron"),
        )


# -- parsing what people type -------------------------------------------------------------

def parse_time(text: str) -> time | None:
    """`8:30`, `08:30`, `8.30`, `08：30` → 08:30; anything else → None."""
    match = TIME_PATTERN.match(text)
    return time(int(match.group(1)), int(match.group(2))) if match else None


def parse_date_time(text: str) -> datetime | None:
    """`2025-03-05 08:30` (also `/`, `.` or 年月日) → a naive local datetime; else None."""
    match = DATE_TIME_PATTERN.match(text)
    if match is None:
        return None
    year, month, day, hour, minute = (int(g) for g in match.groups())
    try:
        return datetime(year, month, day, hour, minute)
    except ValueError:
        return None


def _crontab_weekdays(field_text: str) -> str:
    """Translate a crontab weekday field (Sunday 0 or 7) into APScheduler's day names."""
    if field_text in ("*", "?"):
        return "*"
    chosen: set[int] = set()  # crontab numbers 0..6

    def number(token: str) -> int:
        token = token.lower()
        if token.isdigit():
            value = int(token)
            if value > 7:
                raise TriggerError(N_("Weekday {detail} is out of range (0–7)."), token)
            return value % 7
        if token[:3] in CRONTAB_DAYS:
            return CRONTAB_DAYS.index(token[:3])
        raise TriggerError(N_("I do not understand the weekday {detail}."), token)

    for part in field_text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise TriggerError(N_("I do not understand the weekday {detail}."), part)
        if base == "*":
            low, high = 0, 6
        elif "-" in base:
            first, _, last = base.partition("-")
            low, high = number(first), number(last)
            if last.strip() == "7":
                high = 7  # 5-7 is Friday to Sunday
            if high < low:
                raise TriggerError(N_("I do not understand the weekday {detail}."), part)
        else:
            low = high = number(base)
            if step is not None:
                high = 6
        chosen.update(d % 7 for d in range(low, high + 1, step or 1))
    return ",".join(CRONTAB_DAYS[d] for d in sorted(chosen))


def build_trigger(spec: TriggerSpec, timezone: str | ZoneInfo) -> BaseTrigger:
    """The APScheduler trigger for a spec; TriggerError with a message for people if unusable."""
    tz = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
    if spec.kind is TriggerKind.ONCE:
        if spec.on is None or spec.at is None:
            raise TriggerError(N_("A one-off schedule needs a date and a time."))
        return DateTrigger(run_date=datetime.combine(spec.on, spec.at), timezone=tz)
    if spec.kind is TriggerKind.CRON:
        parts = (spec.cron or "").split()
        if len(parts) != 5:
            raise TriggerError(N_("A cron expression has five parts (minute hour day month "
                               "weekday), for example {detail}."), "30 8 * * 1-5")
        minute, hour, day, month, weekday = parts
        try:
            return CronTrigger(minute=minute, hour=hour, day=day, month=month,
                               day_of_week=_crontab_weekdays(weekday), timezone=tz)
        except TriggerError:
            raise
        except ValueError as exc:
            raise TriggerError(N_("That cron expression does not work. Check each part: minute "
                               "0–59, hour 0–23, day 1–31, month 1–12, weekday 0–7 "
                               "(0 and 7 are Sunday)."), str(exc)) from None
    if spec.at is None:
        raise TriggerError(N_("Please give a time of day."))
    common: dict[str, Any] = {"hour": spec.at.hour, "minute": spec.at.minute, "timezone": tz}
    if spec.kind is TriggerKind.DAILY:
        return CronTrigger(**common)
    if spec.kind is TriggerKind.WEEKLY:
        if not spec.weekdays or not all(0 <= d <= 6 for d in spec.weekdays):
            raise TriggerError(N_("Please choose at least one day of the week."))
        return CronTrigger(day_of_week=",".join(WEEKDAY_NAMES[d] for d in sorted(spec.weekdays)),
                           **common)
    if spec.day is None or not 1 <= spec.day <= 31:
        raise TriggerError(N_("The day of the month must be 1 to 31."))
    return CronTrigger(day=spec.day, **common)


def validate(spec: TriggerSpec, timezone: str | ZoneInfo, *, now: datetime) -> BaseTrigger:
    """`build_trigger`, plus: a recurring schedule must fire at all, and not too often;
    a one-off must lie in the future."""
    trigger = build_trigger(spec, timezone)
    first = next_fire_after(trigger, now)
    if first is None:
        if spec.kind is TriggerKind.ONCE:
            raise TriggerError(N_("That time has already passed. Please give a time in the "
                                  "future."))
        raise TriggerError(N_("That schedule would never send anything."))
    if spec.kind is TriggerKind.CRON:
        times = [first, *upcoming(trigger, first, 5)]
        if any(b - a < MIN_INTERVAL for a, b in pairwise(times)):
            raise TriggerError(N_("That would send more than once an hour. Please choose a "
                               "calmer schedule."))
    return trigger


# -- fire times -----------------------------------------------------------------------------

def next_fire_after(trigger: BaseTrigger, after: datetime) -> datetime | None:
    """The first fire strictly after `after` (aware), in UTC; None when there is none."""
    if isinstance(trigger, DateTrigger):
        # DateTrigger ignores `now` (it fires once for a fresh job): compare ourselves.
        fire = trigger.run_date
        return fire.astimezone(UTC) if fire > after else None
    fire = trigger.get_next_fire_time(after, after)
    return fire.astimezone(UTC) if fire is not None else None


def upcoming(trigger: BaseTrigger, after: datetime, count: int) -> list[datetime]:
    """The next `count` fires strictly after `after`, in UTC."""
    found: list[datetime] = []
    current = after
    while len(found) < count:
        fire = next_fire_after(trigger, current)
        if fire is None:
            break
        found.append(fire)
        current = fire
    return found


def fires_between(trigger: BaseTrigger, start: datetime, end: datetime,
                  *, limit: int = 10_000) -> Iterator[datetime]:
    """Fires in `(start, end]`, oldest first, at most `limit` of them."""
    current = start
    for _ in range(limit):
        fire = next_fire_after(trigger, current)
        if fire is None or fire > end:
            return
        yield fire
        current = fire
