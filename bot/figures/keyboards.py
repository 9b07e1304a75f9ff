"""The /figures buttons: periods, months, places below, teams."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.figures import callbacks as cb
from bot.figures import periods, render
from bot.i18n import Translate


def period_menu(target: cb.Target, _: Translate, *, places_below: bool,
                teams: Sequence[tuple[int, str]] = ()) -> InlineKeyboardMarkup:
    """This month / last month / pick a month / this year; a place below; one of the teams."""
    rows = [
        [InlineKeyboardButton(_("This month"), callback_data=cb.encode(cb.Action.SHOW, target,
                                                                       "tm")),
         InlineKeyboardButton(_("Last month"), callback_data=cb.encode(cb.Action.SHOW, target,
                                                                       "lm"))],
        [InlineKeyboardButton(_("Pick a month"), callback_data=cb.encode(cb.Action.PICK_MONTH,
                                                                         target)),
         InlineKeyboardButton(_("This year"), callback_data=cb.encode(cb.Action.SHOW, target,
                                                                      "ty"))],
    ]
    if places_below:
        rows.append([InlineKeyboardButton(_("📍 A community or grid below"),
                                          callback_data=cb.encode(cb.Action.PICK_PLACE,
                                                                  target))])
    for team_id, name in teams:
        rows.append([InlineKeyboardButton(f"👥 {name}", callback_data=cb.encode(
            cb.Action.SELECT, cb.Target("t", team_id)))])
    return InlineKeyboardMarkup(rows)


def month_picker(target: cb.Target, _: Translate, language: str, *, tz: ZoneInfo,
                 now: datetime) -> InlineKeyboardMarkup:
    """The twelve months before this one, newest first, three to a row."""
    months = periods.months_back(count=13, tz=tz, now=now)[:-1][::-1]
    buttons = [InlineKeyboardButton(
        render.month_button_label(m.year, m.month or 1, language),
        callback_data=cb.encode(cb.Action.SHOW, target, f"m{m.year:04d}{m.month:02d}"))
        for m in months]
    rows = [buttons[i:i + 3] for i in range(0, len(buttons), 3)]
    rows.append([InlineKeyboardButton(_("« Back"), callback_data=cb.encode(cb.Action.SELECT,
                                                                           target))])
    return InlineKeyboardMarkup(rows)


def place_picker(target: cb.Target, places: Sequence[tuple[int, str]],
                 _: Translate) -> InlineKeyboardMarkup:
    buttons = [InlineKeyboardButton(name, callback_data=cb.encode(cb.Action.SELECT,
                                                                  cb.Target("a", area_id)))
               for area_id, name in places]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    rows.append([InlineKeyboardButton(_("« Back"), callback_data=cb.encode(cb.Action.SELECT,
                                                                           target))])
    return InlineKeyboardMarkup(rows)
