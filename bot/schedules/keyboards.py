"""Buttons of the schedule list, a schedule's card, the composer and the campaigns."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton as Button
from telegram import InlineKeyboardMarkup as Markup

from bot.chats.service import Target, TargetKind
from bot.i18n import N_, Translate
from bot.schedules import callbacks as cb
from bot.schedules import service
from bot.schedules.models import Campaign, Schedule
from bot.schedules.render import WEEKDAYS

MAX_LISTED = 20
MAX_TARGETS = 12
REPEATS = (
    ("once", N_("Once")),
    ("daily", N_("Every day")),
    ("weekly", N_("Every week")),
    ("monthly", N_("Every month")),
    ("cron", N_("Cron expression")),
)
CONTENTS = (
    ("anti_fraud", N_("Next anti-fraud tip")),
    ("anti_theft", N_("Next anti-theft tip")),
    ("any", N_("Next safety tip (any kind)")),
    ("text", N_("Write my own text")),
)


def schedule_list(schedules: Sequence[Schedule]) -> Markup | None:
    rows = [[Button(f"#{s.id} {s.name}"[:60], callback_data=cb.on_schedule("o", s.id))]
            for s in schedules[:MAX_LISTED]]
    return Markup(rows) if rows else None


def schedule_card(schedule: Schedule, _: Translate) -> Markup:
    pause = (Button(_("▶ Resume"), callback_data=cb.on_schedule("r", schedule.id))
             if schedule.paused else
             Button(_("⏸ Pause"), callback_data=cb.on_schedule("p", schedule.id)))
    return Markup([
        [pause, Button(_("🗑 Delete"), callback_data=cb.on_schedule("d", schedule.id))],
        [Button(_("🕘 Change time"), callback_data=cb.on_schedule("t", schedule.id)),
         Button(_("✏️ Change text"), callback_data=cb.on_schedule("x", schedule.id))],
        [Button(_("« All schedules"), callback_data=cb.LIST)],
    ])


def confirm_delete(schedule: Schedule, _: Translate) -> Markup:
    return Markup([[Button(_("Yes, delete it"), callback_data=cb.on_schedule("D", schedule.id)),
                    Button(_("No, keep it"), callback_data=cb.on_schedule("o", schedule.id))]])


def repeat_choices(_: Translate) -> Markup:
    rows = [[Button(_(label), callback_data=cb.repeat(kind))] for kind, label in REPEATS]
    rows.append([Button(_("Cancel"), callback_data=cb.CANCEL)])
    return Markup(rows)


def weekday_choices(chosen: set[int], _: Translate) -> Markup:
    days = [Button(("✅ " if d in chosen else "") + _(WEEKDAYS[d]), callback_data=cb.weekday(d))
            for d in range(7)]
    return Markup([days[:4], days[4:],
                   [Button(_("Done"), callback_data=cb.WEEKDAYS_DONE),
                    Button(_("Cancel"), callback_data=cb.CANCEL)]])


def target_label(target: Target, _: Translate) -> str:
    if target.kind is TargetKind.TEAM:
        return _("Team: {name}").format(name=target.name)
    return _("Everyone in {name}").format(name=target.name)


def audience_choices(targets: Sequence[Target], _: Translate) -> Markup:
    rows = [[Button(target_label(t, _)[:60], callback_data=cb.audience(t.kind.value, t.id))]
            for t in targets[:MAX_TARGETS]]
    rows.append([Button(_("Cancel"), callback_data=cb.CANCEL)])
    return Markup(rows)


def content_choices(_: Translate) -> Markup:
    rows = [[Button(_(label), callback_data=cb.content(key))] for key, label in CONTENTS]
    rows.append([Button(_("Cancel"), callback_data=cb.CANCEL)])
    return Markup(rows)


def confirm(_: Translate) -> Markup:
    return Markup([[Button(_("✅ Save"), callback_data=cb.SAVE),
                    Button(_("Cancel"), callback_data=cb.CANCEL)]])


def campaigns(active: Sequence[Campaign], _: Translate) -> Markup:
    rows = [[Button(_("Start: {name}").format(name=_(p.name)),
                    callback_data=cb.campaign_preset(p.key))]
            for p in service.CAMPAIGN_PRESETS.values()]
    rows += [[Button(_("End early: {name}").format(name=c.name)[:60],
                     callback_data=cb.campaign_end(c.id))] for c in active[:MAX_LISTED]]
    return Markup(rows)


def campaign_lengths(preset: service.CampaignPreset, _: Translate) -> Markup:
    return Markup([[Button(_("From today, {days} days").format(days=days),
                           callback_data=cb.campaign_length(preset.key, days))
                    for days in preset.lengths],
                   [Button(_("« Back"), callback_data=cb.CAMPAIGN_LIST)]])


def confirm_end(campaign: Campaign, _: Translate) -> Markup:
    return Markup([[Button(_("Yes, end it now"),
                           callback_data=cb.campaign_end(campaign.id, confirmed=True)),
                    Button(_("« Back"), callback_data=cb.CAMPAIGN_LIST)]])
