"""Inline and reply keyboards of tip-offs."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup

from bot.i18n import Translate
from bot.tipoffs import callbacks as cb
from bot.tipoffs.categories import CATEGORIES
from bot.tipoffs.service import PlaceChoice, TeamChoice

Buttons = Sequence[Sequence[tuple[str, str]]]


def inline(rows: Buttons) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=data)
                                  for text, data in row] for row in rows])


def _pairs(buttons: list[InlineKeyboardButton]) -> list[list[InlineKeyboardButton]]:
    return [buttons[i:i + 2] for i in range(0, len(buttons), 2)]


def report_entry(_: Translate) -> InlineKeyboardMarkup:
    """The "report a problem" button other features show (e.g. /start after the language)."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(_("📷 Report a problem"),
                                                       callback_data=cb.draft("new"))]])


def categories(_: Translate) -> InlineKeyboardMarkup:
    buttons = [InlineKeyboardButton(f"{info.emoji} {_(info.label)}",
                                    callback_data=cb.draft("cat", category.value))
               for category, info in CATEGORIES.items()]
    rows = _pairs(buttons)
    rows.append([InlineKeyboardButton(_("✖️ Cancel"), callback_data=cb.draft("cancel"))])
    return InlineKeyboardMarkup(rows)


def photos_done(_: Translate, *, have_photos: bool) -> InlineKeyboardMarkup:
    first = (InlineKeyboardButton(_("✅ Done"), callback_data=cb.draft("done")) if have_photos
             else InlineKeyboardButton(_("⏭ No photo"), callback_data=cb.draft("skip")))
    return InlineKeyboardMarkup([[first],
                                 [InlineKeyboardButton(_("✖️ Cancel"),
                                                       callback_data=cb.draft("cancel"))]])


def places(_: Translate, choices: list[PlaceChoice]) -> InlineKeyboardMarkup:
    rows = _pairs([InlineKeyboardButton(c.name, callback_data=cb.draft("area", c.id))
                   for c in choices])
    rows.append([InlineKeyboardButton(_("⏭ Skip"), callback_data=cb.draft("skip"))])
    return InlineKeyboardMarkup(rows)


def places_reply(_: Translate, choices: list[PlaceChoice]) -> ReplyKeyboardMarkup:
    """Buildings as plain buttons (they send their name), the location pin, and skip."""
    names = [KeyboardButton(c.name) for c in choices]
    rows = [names[i:i + 3] for i in range(0, len(names), 3)]
    rows.append([KeyboardButton(_("📍 Send my location"), request_location=True),
                 KeyboardButton(_("⏭ Skip"))])
    return ReplyKeyboardMarkup(rows, resize_keyboard=True, one_time_keyboard=True)


def share_location(_: Translate) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup([[KeyboardButton(_("📍 Send my location"), request_location=True)]],
                               resize_keyboard=True, one_time_keyboard=True)


def anonymity(_: Translate, *, has_phone: bool) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(_("🙈 Stay anonymous"), callback_data=cb.draft("anon", 1))],
            [InlineKeyboardButton(_("🙋 Show my name"), callback_data=cb.draft("anon", 0))]]
    if has_phone:
        rows.append([InlineKeyboardButton(_("📞 Show my name and phone"),
                                          callback_data=cb.draft("anon", 2))])
    return InlineKeyboardMarkup(rows)


def _type_instead(_: Translate) -> InlineKeyboardButton:
    return InlineKeyboardButton(_("⌨️ Type it instead"), callback_data=cb.draft("type"))


def confirm(_: Translate, *, has_voice: bool = False) -> InlineKeyboardMarkup:
    """Send or cancel; with a voice description, also "type it instead" (keeping the rest)."""
    rows = [[InlineKeyboardButton(_("✅ Send the report"), callback_data=cb.draft("send"))]]
    if has_voice:
        rows.append([_type_instead(_)])
    rows.append([InlineKeyboardButton(_("✖️ Cancel"), callback_data=cb.draft("cancel"))])
    return InlineKeyboardMarkup(rows)


def voice_or_type(_: Translate) -> InlineKeyboardMarkup:
    """An anonymous reporter's added voice note: send it after all, or type instead."""
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(_("🎤 Send the voice message"), callback_data=cb.draft("voice"))],
        [_type_instead(_)],
    ])


def add_to(_: Translate, open_tips: list[tuple[int, str]]) -> InlineKeyboardMarkup | None:
    if not open_tips:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(
        _("➕ Add to {reference}").format(reference=reference),
        callback_data=cb.draft("add", tipoff_id))] for tipoff_id, reference in open_tips])


def teams(tipoff_id: int, choices: list[TeamChoice]) -> InlineKeyboardMarkup:
    return _column([(c.name, cb.card(cb.CardAction.REASSIGN_TO, tipoff_id, c.id))
                    for c in choices])


def _column(items: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d)] for t, d in items])


def routing_categories(_: Translate) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(_pairs([
        InlineKeyboardButton(f"{info.emoji} {_(info.label)}",
                             callback_data=cb.routing("cat", category.value))
        for category, info in CATEGORIES.items()]))


def routing_areas(category: str, areas: list[tuple[int | None, str]]) -> InlineKeyboardMarkup:
    return _column([(name, cb.routing("area", category, area_id or 0))
                    for area_id, name in areas])


def routing_teams(category: str, area_id: int | None,
                  teams_: list[tuple[int, str]]) -> InlineKeyboardMarkup:
    return _column([(name, cb.routing("team", category, area_id or 0, team_id))
                    for team_id, name in teams_])
