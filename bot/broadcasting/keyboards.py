"""The composer's keyboards: kind, audience (sections, toggles, pages), tips, confirmation."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.broadcasting import callbacks
from bot.broadcasting.drafts import ROLE_CHOICES, AudienceOptions, Draft, Option
from bot.broadcasting.service import KIND_HEADERS, BroadcastKind
from bot.i18n import N_, Translate
from broadcasts.tips import CATEGORIES

PAGE = 6
SECTIONS = {"t": N_("Teams"), "a": N_("Areas"), "r": N_("Roles"), "c": N_("Group chats")}
ROLE_LABELS = {"staff": N_("Staff"), "member": N_("Team members"), "resident": N_("Residents")}
CATEGORY_LABELS = {
    "anti_fraud": N_("Anti-fraud"),
    "anti_theft": N_("Anti-theft"),
    "fire_safety": N_("Fire safety"),
    "school_safety": N_("School gates"),
    "posted_ads": N_("Posted ads"),
    "weather": N_("Bad weather"),
    "community": N_("Safe community"),
}


def _b(label: str, draft: Draft, action: str, arg: object = None) -> InlineKeyboardButton:
    return InlineKeyboardButton(label[:60], callback_data=callbacks.encode(draft.tag, action, arg))


def kind_keyboard(draft: Draft, _: Translate) -> InlineKeyboardMarkup:
    rows = [[_b(_(KIND_HEADERS[kind]), draft, "k", kind.value)] for kind in BroadcastKind]
    rows.append([_b(_("Cancel"), draft, "x")])
    return InlineKeyboardMarkup(rows)


def _mark(on: bool, label: str) -> str:
    return ("✅ " if on else "▫️ ") + label


def audience_keyboard(draft: Draft, options: AudienceOptions,
                      _: Translate) -> InlineKeyboardMarkup:
    tabs = [_b(("• " if draft.section == key else "") + _(label), draft, "s", key)
            for key, label in SECTIONS.items()]
    rows = [tabs[:2], tabs[2:]]
    if draft.section == "r":
        rows += [[_b(_mark(role in draft.roles, _(ROLE_LABELS[role.value])), draft, "r",
                     role.value)] for role in ROLE_CHOICES]
    else:
        pool: Sequence[Option] = {"t": options.teams, "a": options.areas,
                                  "c": options.chats}[draft.section]
        chosen = {"t": draft.team_ids, "a": draft.area_ids, "c": draft.chat_ids}[draft.section]
        pages = max(1, -(-len(pool) // PAGE))
        page = min(max(draft.page, 0), pages - 1)
        for option in pool[page * PAGE:(page + 1) * PAGE]:
            rows.append([_b(_mark(option.id in chosen, option.name), draft, draft.section,
                            option.id)])
        if not pool:
            rows.append([_b(_("(none yet)"), draft, "s", draft.section)])
        nav = []
        if page > 0:
            nav.append(_b(_("« Back"), draft, "p", page - 1))
        if page + 1 < pages:
            nav.append(_b(_("More »"), draft, "p", page + 1))
        if nav:
            rows.append(nav)
    for area in options.residents:
        rows.append([_b(_mark(draft.residents_area == area.id, _(
            "All residents of {community}").format(community=area.name)), draft, "res",
            area.id)])
    rows.append([_b(_("Next ▶"), draft, "ok"), _b(_("Cancel"), draft, "x")])
    return InlineKeyboardMarkup(rows)


def content_keyboard(draft: Draft, _: Translate) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([
        [_b(_("📚 Next tip from the library"), draft, "lib")],
        [_b(_("Cancel"), draft, "x")],
    ])


def category_keyboard(draft: Draft, _: Translate) -> InlineKeyboardMarkup:
    buttons = [_b(_(CATEGORY_LABELS[c]), draft, "cat", c) for c in CATEGORIES]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    rows.append([_b(_("Any topic"), draft, "cat", "any")])
    rows.append([_b(_("Cancel"), draft, "x")])
    return InlineKeyboardMarkup(rows)


def confirm_keyboard(draft: Draft, _: Translate, *, offer_urgent: bool) -> InlineKeyboardMarkup:
    rows = [[_b(_("✅ Send now"), draft, "go")]]
    if offer_urgent:
        rows.append([_b(_("⚡ Urgent: send at once, even in quiet hours"), draft, "urg")])
    rows.append([_b(_("🕒 Schedule"), draft, "sch"), _b(_("Cancel"), draft, "x")])
    return InlineKeyboardMarkup(rows)


def list_keyboard(cancellable: Sequence[int], _: Translate) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(_("Stop #{id} (not sent yet)").format(id=i),
                                  callback_data=callbacks.cancel_broadcast(i))]
            for i in cancellable]
    rows.append([InlineKeyboardButton(_("🔄 Refresh"), callback_data=callbacks.REFRESH)])
    return InlineKeyboardMarkup(rows)
