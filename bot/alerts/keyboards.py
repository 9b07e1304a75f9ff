"""Inline keyboards of the alert feature (small: at most a dozen buttons)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.alerts import callbacks as cb
from bot.alerts import render
from bot.alerts.service import Choice
from bot.i18n import LANGUAGES, Translate, translator


def audience(_: Translate, choices: list[Choice],
             chosen: set[tuple[str, int]]) -> InlineKeyboardMarkup:
    rows = []
    for c in choices:
        label = (_("Everyone in {name}") if c.kind == "a" else _("Team: {name}")).format(
            name=c.name)
        mark = "✅ " if (c.kind, c.id) in chosen else "▫️ "
        rows.append([InlineKeyboardButton(mark + label, callback_data=cb.toggle(c.kind, c.id))])
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
