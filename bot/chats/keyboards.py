"""The link choices (paged, so the keyboard stays small) and the group language buttons."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.chats import callbacks
from bot.chats.service import Target, TargetKind
from bot.directory.models import AreaKind
from bot.i18n import LANGUAGE_NAMES, LANGUAGES, N_, Translate

PAGE_SIZE = 8
LABELS = {
    TargetKind.TEAM: N_("Team: {name}"),
    AreaKind.COMMUNITY: N_("Community: {name}"),
    AreaKind.GRID: N_("Grid: {name}"),
}


def target_label(target: Target, _: Translate) -> str:
    key = TargetKind.TEAM if target.kind is TargetKind.TEAM else target.area_kind
    return _(LABELS.get(key, "{name}")).format(name=target.name)


def page_count(targets: list[Target]) -> int:
    return max(1, -(-len(targets) // PAGE_SIZE))


def link_keyboard(targets: list[Target], page: int, _: Translate) -> InlineKeyboardMarkup:
    page = min(max(page, 0), page_count(targets) - 1)
    shown = targets[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
    rows = [[InlineKeyboardButton(target_label(t, _)[:60],
                                  callback_data=callbacks.link_to(t.kind, t.id))]
            for t in shown]
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton(_("« Back"), callback_data=callbacks.page(page - 1)))
    if page + 1 < page_count(targets):
        nav.append(InlineKeyboardButton(_("More »"), callback_data=callbacks.page(page + 1)))
    if nav:
        rows.append(nav)
    rows.append([InlineKeyboardButton(_("Cancel"), callback_data=callbacks.CANCEL)])
    return InlineKeyboardMarkup(rows)


def language_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(LANGUAGE_NAMES[lang], callback_data=callbacks.choose_language(lang))]
         for lang in LANGUAGES]
    )
