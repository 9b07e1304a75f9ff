"""Inline keyboards of the alert feature (small: at most a dozen buttons)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.alerts import callbacks as cb
from bot.alerts import render
from bot.alerts.service import AudienceOptions
from bot.i18n import LANGUAGES, N_, Translate, translator

PAGE = 8
SECTION_LABELS = {"a": N_("Areas"), "t": N_("Teams"), "c": N_("Group chats")}


def _mark(on: bool, label: str) -> str:
    return ("✅ " if on else "▫️ ") + label[:60]


def audience(_: Translate, options: AudienceOptions, chosen: set[tuple[str, int]], *,
             section: str, page: int) -> InlineKeyboardMarkup:
    """Section tabs (those with something to offer), one page of 8 toggles, paging, Next."""
    rows: list[list[InlineKeyboardButton]] = []
    tabs = [InlineKeyboardButton(("• " if key == section else "") + _(label),
                                 callback_data=cb.section(key))
            for key, label in SECTION_LABELS.items() if options.pool(key)]
    if len(tabs) > 1:
        rows.append(tabs)
    pool = options.pool(section)
    pages = max(1, -(-len(pool) // PAGE))
    page = min(max(page, 0), pages - 1)
    for option in pool[page * PAGE:(page + 1) * PAGE]:
        label = _("Everyone in {name}").format(name=option.name) if section == "a" else option.name
        rows.append([InlineKeyboardButton(_mark((section, option.id) in chosen, label),
                                          callback_data=cb.toggle(section, option.id))])
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton(_("« Back"), callback_data=cb.page(page - 1)))
    if page + 1 < pages:
        nav.append(InlineKeyboardButton(_("More »"), callback_data=cb.page(page + 1)))
    if nav:
        rows.append(nav)
    rows.append([InlineKeyboardButton(_("Next ➡️"), callback_data=cb.NEXT),
                 InlineKeyboardButton(_("✖️ Cancel"), callback_data=cb.CANCEL)])
    return InlineKeyboardMarkup(rows)


def acknowledged(_: Translate, alert_id: int, at: str) -> InlineKeyboardMarkup:
    """A private copy after its reader confirmed: no question left, just the time. Pressing
    it again only answers "already received"."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(
        _("✅ Received {time}").format(time=at),
        callback_data=cb.ack(alert_id))]])


def asks_to_acknowledge(markup: InlineKeyboardMarkup | None) -> bool:
    """Whether a copy still shows the "Received" button (in any language)."""
    if markup is None:
        return False
    labels = {translator(lang)(render.ACK_LABEL) for lang in LANGUAGES}
    return any(button.text in labels for row in markup.inline_keyboard for button in row)


def severity(_: Translate) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(_("⚠️ Warning"), callback_data=cb.severity("w")),
         InlineKeyboardButton(_("🚨 Emergency"), callback_data=cb.severity("e"))],
        [InlineKeyboardButton(_("✖️ Cancel"), callback_data=cb.CANCEL)],
    ])


def ack_choice(_: Translate) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(_("Yes, ask for “Received”"), callback_data=cb.ack_choice(True)),
         InlineKeyboardButton(_("No"), callback_data=cb.ack_choice(False))],
        [InlineKeyboardButton(_("✖️ Cancel"), callback_data=cb.CANCEL)],
    ])


def confirm(_: Translate) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(_("📣 Send now"), callback_data=cb.SEND),
        InlineKeyboardButton(_("✖️ Cancel"), callback_data=cb.CANCEL),
    ]])


def status(_: Translate, alert_id: int, *, open_: bool, ack_required: bool) -> InlineKeyboardMarkup:
    rows = []
    if ack_required:
        rows.append([InlineKeyboardButton(_("👥 Who has not confirmed"),
                                          callback_data=cb.manage("who", alert_id))])
    if open_:
        rows.append([InlineKeyboardButton(_("✅ All clear"),
                                          callback_data=cb.manage("end", alert_id))])
    return InlineKeyboardMarkup(rows)


def confirm_all_clear(_: Translate, alert_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(_("✅ Yes, send the all clear"),
                             callback_data=cb.manage("endok", alert_id)),
    ]])


def sensitive(_: Translate, *, community: str | None, everywhere: bool,
              active_id: int | None) -> InlineKeyboardMarkup:
    rows = []
    if community:
        rows.append([InlineKeyboardButton(_("{name}: sensitive for 1 day").format(name=community),
                                          callback_data=cb.sensitive("on", 24)),
                     InlineKeyboardButton(_("7 days"), callback_data=cb.sensitive("on", 168))])
    if everywhere:
        rows.append([InlineKeyboardButton(_("Everywhere: 1 day"),
                                          callback_data=cb.sensitive("all", 24)),
                     InlineKeyboardButton(_("7 days"), callback_data=cb.sensitive("all", 168))])
    if active_id is not None:
        rows.append([InlineKeyboardButton(_("End the sensitive period"),
                                          callback_data=cb.sensitive("off", active_id))])
    return InlineKeyboardMarkup(rows)
