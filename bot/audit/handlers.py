"""/audit: the latest audit entries for staff (their area) and admins, filtered by kind or
person with buttons, exportable as XLSX. Every press is authorized again; a filter in the
button only narrows what the presser may see anyway."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message, Update
from telegram.error import BadRequest
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.audit import view
from bot.auth import Actor, Standing
from bot.context import BotContext
from bot.directory.handlers import refuse, stale
from bot.directory.tables import write_xlsx
from bot.handler_utils import in_private
from bot.i18n import Translate

#: `au:<mode>[:<value>]`: a = all, k = a kind, p = a person; `x` before the mode exports.
PATTERN = re.compile(r"^au:(x?)([akp])(?::([a-z_]{1,24}|\d{1,12}))?$")
TEXT_LIMIT = 3800


@dataclass(frozen=True)
class Filter:
    mode: str
    value: str | None = None

    def data(self, *, export: bool = False) -> str:
        head = f"au:{'x' if export else ''}{self.mode}"
        return head if self.value is None else f"{head}:{self.value}"


def scope_of(actor: Actor | None) -> tuple[bool, str | None]:
    """(allowed, scope): admins see everything, staff their area, nobody else anything."""
    if actor is None:
        return False, None
    if actor.is_admin:
        return True, None
    if actor.standing >= Standing.STAFF and actor.area_path:
        return True, actor.area_path
    return False, None


async def _lines(context: BotContext, scope: str | None, chosen: Filter,
                 limit: int) -> list[view.Line]:
    async with context.services.session_factory() as session:
        return await view.latest(
            session, scope=scope, kind=chosen.value if chosen.mode == "k" else None,
            actor_id=int(chosen.value) if chosen.mode == "p" and chosen.value else None,
            limit=limit)


def _who(line: view.Line, _: Translate) -> str:
    return line.who or _("a resident or the system")


def _text(lines: list[view.Line], context: BotContext) -> str:
    _ = context._
    tz = context.services.settings.tz
    if not lines:
        return _("📒 Audit log: nothing recorded here yet.")
    out = [_("📒 Audit log, latest first:")]
    for line in lines:
        target = f"{line.object_type} #{line.object_id}" if line.object_id else line.object_type
        entry = (f"\n{line.at.astimezone(tz):%m-%d %H:%M} · {_who(line, _)} · {line.action} "
                 f"({target})\n  {view.change(line.before)} → {view.change(line.after)}")
        if line.reason:
            entry += "\n  " + _("Reason: {reason}").format(reason=line.reason)
        if sum(map(len, out)) + len(entry) > TEXT_LIMIT:
            break
        out.append(entry)
    return "\n".join(out)


async def _keyboard(context: BotContext, scope: str | None, chosen: Filter
                    ) -> InlineKeyboardMarkup:
    _ = context._
    async with context.services.session_factory() as session:
        kinds = await view.kinds(session, scope=scope)
        people = await view.people(session, scope=scope)
    rows = [[InlineKeyboardButton(("✅ " if chosen == Filter("k", k) else "") + k,
                                  callback_data=Filter("k", k).data())
             for k in kinds[i:i + 4]] for i in range(0, len(kinds), 4)]
    rows += [[InlineKeyboardButton(("✅ " if chosen == Filter("p", str(pid)) else "") + name,
                                   callback_data=Filter("p", str(pid)).data())
              for pid, name in people[i:i + 3]] for i in range(0, len(people), 3)]
    rows.append([InlineKeyboardButton(_("All"), callback_data=Filter("a").data()),
                 InlineKeyboardButton(_("📥 Export (XLSX)"),
                                      callback_data=chosen.data(export=True))])
    return InlineKeyboardMarkup(rows)


async def _reader_scope(update: Update, context: BotContext) -> tuple[bool, str | None]:
    """`scope_of` the sender, who must also ask in a private chat; when they may not read
    the log (they were told why), (False, None)."""
    allowed, scope = scope_of(context.actor)
    if not allowed:
        await refuse(update, context)
        return False, None
    if not await in_private(update, context):
        return False, None
    return True, scope


async def audit_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    allowed, scope = await _reader_scope(update, context)
    if not allowed:
        return
    chosen = Filter("a")
    await message.reply_text(_text(await _lines(context, scope, chosen, view.PAGE), context),
                             reply_markup=await _keyboard(context, scope, chosen))


async def on_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None or query.data is None:
        return
    match = PATTERN.match(query.data)
    if match is None or (match.group(2) == "a") != (match.group(3) is None):
        await stale(update, context)
        return
    allowed, scope = await _reader_scope(update, context)
    if not allowed:
        return
    chosen = Filter(match.group(2), match.group(3))
    if (chosen.mode == "p" and not (chosen.value or "").isdigit()) or (
            chosen.mode == "k" and (chosen.value or "").isdigit()):
        await stale(update, context)
        return
    _ = context._
    if match.group(1):
        await query.answer(_("Preparing the file…"))
        lines = await _lines(context, scope, chosen, view.EXPORT_LIMIT)
        tz = context.services.settings.tz
        data = write_xlsx(
            [_("When"), _("Who"), _("What"), _("Object"), _("Before"), _("After"),
             _("Reason")],
            [[f"{line.at.astimezone(tz):%Y-%m-%d %H:%M}", _who(line, _), line.action,
              f"{line.object_type} #{line.object_id}" if line.object_id else line.object_type,
              view.change(line.before), view.change(line.after), line.reason or ""]
             for line in lines], title=_("Audit log"))
        await context.bot.send_document(query.from_user.id,
                                        InputFile(io.BytesIO(data), filename="audit.xlsx"))
        return
    await query.answer()
    if not isinstance(query.message, Message):
        return
    try:
        await query.message.edit_text(
            _text(await _lines(context, scope, chosen, view.PAGE), context),
            reply_markup=await _keyboard(context, scope, chosen))
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [CommandHandler("audit", audit_command),
            CallbackQueryHandler(on_button, pattern=r"^au:")]
