"""Texts of the schedule screens: fire times in the schedule's zone, triggers in words."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.i18n import N_, Translate
from bot.schedules import service
from bot.schedules.models import Campaign, Schedule
from bot.schedules.triggers import TriggerKind, TriggerSpec

WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
CATEGORY_NAMES = {
    "anti_fraud": N_("anti-fraud"),
    "anti_theft": N_("anti-theft"),
    "fire_safety": N_("fire safety"),
}


def moment(value: datetime, tz: str, _: Translate) -> str:
    """`3月3日 周一 09:00` / `Mon 3/3 09:00`, in the schedule's own zone."""
    local = value.astimezone(ZoneInfo(tz))
    return _("{month}/{day} {weekday} {time}").format(
        month=local.month, day=local.day, weekday=_(WEEKDAYS[local.weekday()]),
        time=local.strftime("%H:%M"))


def trigger_text(spec: TriggerSpec, _: Translate) -> str:
    at = spec.at.strftime("%H:%M") if spec.at else ""
    if spec.kind is TriggerKind.ONCE and spec.on is not None:
        return _("Once, on {date} at {time}").format(date=spec.on.isoformat(), time=at)
    if spec.kind is TriggerKind.DAILY:
        return _("Every day at {time}").format(time=at)
    if spec.kind is TriggerKind.WEEKLY:
        days = _(", ").join(_(WEEKDAYS[d]) for d in spec.weekdays)
        return _("Every week on {days} at {time}").format(days=days, time=at)
    if spec.kind is TriggerKind.MONTHLY:
        return _("Every month on day {day} at {time}").format(day=spec.day, time=at)
    return _("Cron: {expression}").format(expression=spec.cron)


def content_text(content: dict, _: Translate) -> str:
    if service.is_tip(content):
        categories = content.get("categories") or []
        if not categories:
            return _("the next safety tip from the library")
        names = _(", ").join(_(CATEGORY_NAMES.get(c, c)) for c in categories)
        return _("the next {categories} tip from the library").format(categories=names)
    text = (content.get("text") or "").strip()
    return _("your text: “{text}”").format(text=text[:60] + ("…" if len(text) > 60 else ""))


def next_fires_text(fires: list[datetime], tz: str, _: Translate) -> str:
    if not fires:
        return _("Next: nothing planned")
    return _("Next: {times}").format(times=_("; ").join(moment(f, tz, _) for f in fires))


def schedule_card(view: service.ScheduleView, _: Translate) -> str:
    schedule = view.schedule
    lines = [f"#{schedule.id} {schedule.name}",
             trigger_text(TriggerSpec.from_json(schedule.trigger), _),
             _("Sends {content}").format(content=content_text(schedule.content, _))]
    if view.campaign is not None:
        lines.append(campaign_line(view.campaign, _))
    if schedule.paused:
        lines.append(_("⏸ Paused"))
    else:
        lines.append(next_fires_text(view.next_fires, schedule.timezone, _))
    return "\n".join(lines)


def schedule_list(views: list[service.ScheduleView], _: Translate) -> str:
    if not views:
        return _("No schedules yet. Send /schedule to make one.")
    blocks = [_("🗓 Scheduled messages ({count}). Tap one to pause, change or delete it.")
              .format(count=len(views))]
    for view in views:
        schedule = view.schedule
        status = _("⏸ Paused") if schedule.paused else next_fires_text(
            view.next_fires, schedule.timezone, _)
        blocks.append(f"#{schedule.id} {schedule.name} · "
                      f"{trigger_text(TriggerSpec.from_json(schedule.trigger), _)}\n{status}")
    return "\n\n".join(blocks)


def campaign_line(campaign: Campaign, _: Translate) -> str:
    return _("Campaign “{name}”: {start} to {end}").format(
        name=campaign.name, start=campaign.starts_on.isoformat(),
        end=campaign.ends_on.isoformat())


def schedule_name(schedule: Schedule) -> str:
    return f"#{schedule.id} {schedule.name}"
