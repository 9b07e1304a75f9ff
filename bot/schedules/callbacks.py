"""Callback data of schedules and campaigns, one anchored pattern per family.

- `sch:l` the list; `sch:<act>:<id>` on one schedule: `o` open, `p` pause, `r` resume,
  `t` change time, `x` change text, `d` ask to delete, `D` delete for sure
- `scn:<step>[:<arg>]` the /schedule composer: `k:<kind>` repeat, `w:<0-6>` toggle a weekday,
  `wd` weekdays done, `a:<t|a>:<id>` audience, `c:<category|any|text>` content, `s` save,
  `x` cancel
- `cmp:n:<preset>` start a preset, `cmp:l:<preset>:<days>` its length, `cmp:e:<id>` ask to
  end, `cmp:E:<id>` end for sure, `cmp:l` the list

Anything that does not match exactly (forged, or from an older version) is not ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCHEDULE_PATTERN = re.compile(r"^sch:(?:(l)|([oprtxdD]):(\d{1,9}))$")
COMPOSE_PATTERN = re.compile(
    r"^scn:(?:k:(once|daily|weekly|monthly|cron)|w:([0-6])|(wd)|a:([ta]):(\d{1,9})"
    r"|c:([a-z_]{2,20})|(s)|(x))$")
CAMPAIGN_PATTERN = re.compile(
    r"^cmp:(?:n:([a-z_]{2,20})|l:([a-z_]{2,20}):(\d{1,3})|([eE]):(\d{1,9})|(l))$")

LIST = "sch:l"


def on_schedule(action: str, schedule_id: int) -> str:
    return f"sch:{action}:{schedule_id}"


@dataclass(frozen=True)
class SchedulePress:
    action: str  # "l" or one of oprtxdD
    schedule_id: int | None = None


def parse_schedule(data: str) -> SchedulePress | None:
    match = SCHEDULE_PATTERN.match(data)
    if match is None:
        return None
    listing, action, schedule_id = match.groups()
    if listing:
        return SchedulePress("l")
    return SchedulePress(action, int(schedule_id))


@dataclass(frozen=True)
class ComposePress:
    kind: str | None = None
    weekday: int | None = None
    weekdays_done: bool = False
    audience: tuple[str, int] | None = None
    content: str | None = None
    save: bool = False
    cancel: bool = False


def parse_compose(data: str) -> ComposePress | None:
    match = COMPOSE_PATTERN.match(data)
    if match is None:
        return None
    kind, weekday, done, target_kind, target_id, content, save, cancel = match.groups()
    return ComposePress(
        kind=kind, weekday=int(weekday) if weekday is not None else None,
        weekdays_done=done is not None,
        audience=(target_kind, int(target_id)) if target_kind else None,
        content=content, save=save is not None, cancel=cancel is not None)


def repeat(kind: str) -> str:
    return f"scn:k:{kind}"


def weekday(day: int) -> str:
    return f"scn:w:{day}"


WEEKDAYS_DONE = "scn:wd"
SAVE = "scn:s"
CANCEL = "scn:x"


def audience(target_kind: str, target_id: int) -> str:
    return f"scn:a:{target_kind}:{target_id}"


def content(choice: str) -> str:
    return f"scn:c:{choice}"


@dataclass(frozen=True)
class CampaignPress:
    preset: str | None = None
    days: int | None = None
    end: bool = False
    end_confirmed: bool = False
    campaign_id: int | None = None
    listing: bool = False


def parse_campaign(data: str) -> CampaignPress | None:
    match = CAMPAIGN_PATTERN.match(data)
    if match is None:
        return None
    new, length_preset, days, end, campaign_id, listing = match.groups()
    if new:
        return CampaignPress(preset=new)
    if length_preset:
        return CampaignPress(preset=length_preset, days=int(days))
    if end:
        return CampaignPress(end=end == "e", end_confirmed=end == "E",
                             campaign_id=int(campaign_id))
    return CampaignPress(listing=listing is not None)


def campaign_preset(key: str) -> str:
    return f"cmp:n:{key}"


def campaign_length(key: str, days: int) -> str:
    return f"cmp:l:{key}:{days}"


def campaign_end(campaign_id: int, *, confirmed: bool = False) -> str:
    return f"cmp:{'E' if confirmed else 'e'}:{campaign_id}"


CAMPAIGN_LIST = "cmp:l"
