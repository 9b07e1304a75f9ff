"""Directory commands for everyone (/me, /leave) and for staff (/import, /importareas,
/export, /people); /invite lives in invite_handlers. Thin: parse, ask bot.auth.can,
call a service, render."""

from __future__ import annotations

import asyncio
import enum
import io
import logging
import re
import zlib

from telegram import Document, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.auth import Permission, can, directory_scope
from bot.commands import publish_personal_menu
from bot.context import BotContext
from bot.db import reading, transaction, utcnow
from bot.directory import areas as area_service
from bot.directory import roster as roster_service
from bot.directory.callbacks import PATTERN, DirCallback, decode
from bot.directory.keyboards import button, markup
from bot.directory.models import (
    PendingUploadKind,
    Person,
    PersonStatus,
    Role,
)
from bot.directory.people import (
    AwaitingConfirmation,
    TelegramIdentity,
    awaiting_confirmation,
    leave,
    load_actor,
    search_people,
    settle_confirmation,
)
from bot.directory.tables import (
    MAX_FILE_BYTES,
    Table,
    TableError,
    TableProblem,
    load_table,
)
from bot.directory.uploads import open_upload, save_upload
from bot.handler_utils import acting_person_id, in_private
from bot.i18n import N_, Translate, ngettext
from bot.persistence import InstanceSafeConversationHandler
from bot.privacy.handlers import forget_button, staff_forget_buttons

logger = logging.getLogger(__name__)

PREVIEW_LINES = 30
CONVERSATION_TIMEOUT = 600

PROBLEM_TEXT = {
    roster_service.Problem.MISSING_NAME: N_("the name is missing"),
    roster_service.Problem.BAD_PHONE: N_("the phone number is not valid"),
    roster_service.Problem.MISSING_TEAM: N_("the team is missing"),
    roster_service.Problem.UNKNOWN_TEAM: N_("no such team here"),
    roster_service.Problem.AMBIGUOUS_TEAM: N_("several teams have this name: fill in the area"),
    roster_service.Problem.UNKNOWN_AREA: N_("no such area here"),
    roster_service.Problem.AMBIGUOUS_AREA: N_("several areas have this name: write it like "
                                              "community/grid"),
    roster_service.Problem.BAD_ROLE: N_("the role is not member, leader or staff"),
    roster_service.Problem.BAD_TELEGRAM: N_("the Telegram username or id is not valid"),
    roster_service.Problem.DUPLICATE_IN_FILE: N_("the same phone is already in row {row}"),
    roster_service.Problem.ALREADY_PRESENT: N_("this Telegram account belongs to someone else "
                                               "in the directory"),
    roster_service.Problem.OUTSIDE_SCOPE: N_("this phone belongs to someone outside your area"),
    roster_service.Problem.HAS_LEFT: N_("this person has left (/leave) and must come back "
                                        "by themselves"),
    roster_service.Problem.NO_BUILDING_HEADS: N_("there is no building heads' team here"),
    roster_service.Problem.STAFF_NOT_ALLOWED: N_("you may not make community staff"),
    roster_service.Problem.SKIPPED: N_("skipped, as you chose"),
}
# The columns a roster must have, named as people write them in the sheet.
# What an unknown role may be mapped to, in button order (staff only for who may grant it).
MAP_ROLES = (
    (roster_service.RosterRole.LEADER, N_("Leader")),
    (roster_service.RosterRole.MEMBER, N_("Member")),
    (roster_service.RosterRole.BUILDING_HEAD, N_("Building head")),
    (roster_service.RosterRole.STAFF, N_("Community staff")),
)
MAP_ACTIONS = frozenset({"rmt", "rmn", "rms", "rmr", "rma"})
TREE_PROBLEM_TEXT = {
    "missing_path": N_("the path is empty"),
    "too_deep": N_("too many levels (at most: street office/community/grid/building)"),
    "bad_name": N_("a name is too long"),
    "out_of_scope": N_("outside your area"),
    "duplicate": N_("the same path is already in the file"),
}
TABLE_PROBLEM_TEXT = {
    TableProblem.NOT_A_TABLE: N_("I could not read this file. Please send a .csv or .xlsx file, "
                                 "or /cancel."),
    TableProblem.NOT_TEXT: N_("I could not read the text of this CSV file. Please save it from "
                              "Excel as “CSV UTF-8” and send it again, or /cancel."),
    TableProblem.EMPTY: N_("This file is empty. Please send the filled-in table, or /cancel."),
    TableProblem.BROKEN_CSV: N_("This CSV file is damaged near line {line} (perhaps a quotation "
                                "mark that is never closed, or a very long cell). Please save "
                                "it again from Excel and send it, or /cancel."),
    TableProblem.BROKEN_XLSX: N_("This Excel file is damaged, so I could not open it. Please "
                                 "open it in Excel, save it again as .xlsx and send it, or "
                                 "/cancel."),
    TableProblem.OLD_XLS: N_("This is an old-style Excel file (.xls). Please open it in Excel, "
                             "choose “Save As” → “Excel Workbook (.xlsx)” and send that, or "
                             "/cancel."),
    TableProblem.TOO_BIG: N_("This file holds too much for me to read. Please keep only the "
                             "rows and columns I need and send it again, or /cancel."),
    TableProblem.TOO_MANY_ROWS: N_("This file has more than {limit} rows. Please split it into "
                                   "smaller files and send them one at a time, or /cancel."),
    TableProblem.TOO_MANY_COLUMNS: N_("This file has more than {limit} columns. Please delete "
                                      "the columns I do not need and send it again, or "
                                      "/cancel."),
}
STATUS_TEXT = {
    PersonStatus.PENDING: N_("not yet on Telegram"),
    PersonStatus.LEFT: N_("has left"),
}
ROLE_TEXT = {
    Role.ADMIN: N_("administrator"), Role.STAFF: N_("community staff"),
    Role.MEMBER: N_("team member"), Role.RESIDENT: N_("resident"),
}


class UploadState(enum.StrEnum):
    AWAITING_ROSTER_FILE = "awaiting_roster_file"
    AWAITING_AREA_FILE = "awaiting_area_file"


async def refuse(update: Update, context: BotContext) -> None:
    """The one refusal: clear, and nothing changed."""
    text = context._("Sorry, you are not allowed to do that.")
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)


async def stale(update: Update, context: BotContext) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer(context._("This button is no longer valid."))


# -- /leave (/me is in bot.start.me) -----------------------------------------------------

async def ask_leave(update: Update, context: BotContext) -> None:
    """Ask before stopping everything."""
    message = update.effective_message
    if message is None or not await in_private(update, context):
        return
    _ = context._
    if context.actor is None or context.actor.person_id is None or context.actor.role is None:
        await message.reply_text(_("I do not know you yet. Send /start to begin."))
        return
    await message.reply_text(
        _("Do you really want to leave? You will receive nothing more from me. You can come "
          "back any time with /start."),
        reply_markup=markup([[button(_("Yes, leave"), "lvy"), button(_("No, stay"), "lvn")],
                             [forget_button(_)]]))


async def leave_pressed(update: Update, context: BotContext, press: DirCallback) -> None:
    query = update.callback_query
    assert query is not None
    _ = context._
    actor = context.actor
    if press.action == "lvn":
        await query.answer()
        await query.edit_message_text(_("Good, nothing has changed."))
        return
    if actor is None or actor.person_id is None or query.from_user.id != actor.telegram_id:
        await stale(update, context)
        return
    async with transaction(context.services.session_factory) as session:
        await leave(session, person_id=actor.person_id)
    await query.answer()
    await query.edit_message_text(_("You have left. I will not send you anything more. "
                                    "Take care, and come back any time with /start."))


# -- staff: /people and /export -----------------------------------------------------------

async def find_people(update: Update, context: BotContext) -> None:
    """Staff search by name or phone, within their area."""
    message = update.effective_message
    if message is None:
        return
    _ = context._
    scope = directory_scope(context.actor)
    if scope is None or not can(context.actor, Permission.MANAGE_DIRECTORY):
        await refuse(update, context)
        return
    if not await in_private(update, context):
        return
    query = " ".join(context.args or [])
    async with context.services.session_factory() as session:
        found = await search_people(session, query=query, scope_path=scope) if query else []
        names = await area_service.labels(session, paths=[p.area_path for p in found
                                                           if p.area_path])
        waiting = await awaiting_confirmation(
            session, scope_path=scope, person_ids=[p.id for p in found] if query else None)
    lines = []
    if not query:
        lines.append(_("Please add a name or phone number, like this: /people 王"))
    elif not found:
        lines.append(_("Nobody found for “{query}”.").format(query=query))
    else:
        lines.append(_("Found {count}:").format(count=len(found)))
        for p in found:
            status = f" ({_(STATUS_TEXT[p.status])})" if p.status in STATUS_TEXT else ""
            lines.append(f"· {p.name} {p.phone or ''} — {_(ROLE_TEXT[p.role])}, "
                         f"{names.get(p.area_path or '', '')}{status}")
    if waiting:
        lines += ["", _("Matched by Telegram username only, so their role waits for your "
                        "confirmation (make sure it is really them):")]
        lines += [f"· {_waiting_text(w, _)}" for w in waiting]
    rows = [[button(_("✅ Confirm {name}").format(name=w.name), "pcf", w.person_id),
             button(_("Keep as member"), "pcx", w.person_id)] for w in waiting]
    rows += staff_forget_buttons(_, found)
    keyboard = markup(rows) if rows else None
    await message.reply_text("\n".join(lines), reply_markup=keyboard)


def _waiting_text(waiting: AwaitingConfirmation, _: Translate) -> str:
    """“王芳 (@wangfang): community staff, leader of 治安巡逻队”."""
    roles = [_(ROLE_TEXT[waiting.role])] if waiting.role is not None else []
    roles += [_("leader of {team}").format(team=name) for name, _path in waiting.lead_teams]
    who = f"{waiting.name} (@{waiting.username})" if waiting.username else waiting.name
    return f"{who}: {', '.join(roles)}"


async def confirm_pressed(update: Update, context: BotContext, press: DirCallback) -> None:
    """Staff confirm (or decline) the role of someone matched by username, audited."""
    query = update.callback_query
    assert query is not None
    _ = context._
    actor = context.actor
    scope = directory_scope(actor)
    if scope is None or actor is None or not can(actor, Permission.MANAGE_DIRECTORY):
        await refuse(update, context)
        return
    confirm = press.action == "pcf"
    settings = context.services.settings
    confirmed_actor = None
    async with transaction(context.services.session_factory) as session:
        found = await awaiting_confirmation(session, scope_path=scope, person_ids=[press.a])
        allowed = bool(found) and all(can(actor, Permission.MANAGE_DIRECTORY, area_path=path)
                                      for path in found[0].paths)
        if allowed:
            await settle_confirmation(session, person_id=press.a, confirm=confirm,
                                      actor_id=actor.person_id, reason="/people")
            person = await session.get(Person, press.a)
            if person is not None and person.telegram_id is not None:
                confirmed_actor = await load_actor(
                    session, identity=TelegramIdentity(person.telegram_id, person.name,
                                                       language_code=person.telegram_language),
                    default_language=settings.default_language, admin_ids=settings.admin_ids)
    if not found:
        await stale(update, context)  # settled meanwhile, or not in this person's area
        return
    if not allowed:
        await refuse(update, context)
        return
    await query.answer(_("Saved."))
    if confirm:
        text = _("Confirmed: {who}.").format(who=_waiting_text(found[0], _))
    else:
        text = _("{name} stays a team member; nothing more was given.").format(
            name=found[0].name)
    await query.edit_message_text(text)
    if confirmed_actor is not None:
        await publish_personal_menu(context.bot, confirmed_actor)


async def export_roster(update: Update, context: BotContext) -> None:
    """The roster of the staff's area as an XLSX file (same columns as /import)."""
    message = update.effective_message
    if message is None:
        return
    scope = directory_scope(context.actor)
    if scope is None or not can(context.actor, Permission.MANAGE_DIRECTORY):
        await refuse(update, context)
        return
    if not await in_private(update, context):
        return
    async with context.services.session_factory() as session:
        data = await roster_service.export_roster(session, scope_path=scope, _=context._)
    await message.reply_document(io.BytesIO(data), filename=f"roster-{utcnow():%Y%m%d}.xlsx",
                                 caption=context._("The roster of your area."))


# -- staff: /import and /importareas -------------------------------------------------------

async def _ask_for_file(update: Update, context: BotContext, request: str,
                       waiting: UploadState) -> UploadState | int:
    """Ask staff with a directory scope, in private, for a file; `waiting` for it then."""
    if directory_scope(context.actor) is None:
        await refuse(update, context)
        return ConversationHandler.END
    if not await in_private(update, context):
        return ConversationHandler.END
    assert update.effective_message is not None
    await update.effective_message.reply_text(request)
    return waiting


async def ask_roster_file(update: Update, context: BotContext) -> UploadState | int:
    """Wait for a roster file (CSV or XLSX)."""
    return await _ask_for_file(update, context, context._(
        "Please send the roster as an Excel (.xlsx) or CSV file, the way you keep it: a title "
        "above the table is fine. Columns: name, phone, team, role, area or building, "
        "Telegram username (the last three may be empty). I will check it first and change "
        "nothing until you confirm. Send /cancel to stop."), UploadState.AWAITING_ROSTER_FILE)


async def ask_area_file(update: Update, context: BotContext) -> UploadState | int:
    """Wait for an area file with a `path` column."""
    return await _ask_for_file(update, context, context._(
        "Please send the areas as a CSV or Excel (.xlsx) file with a column “path”, one area "
        "per row, like 平桥办事处/龙江路社区/3网格/12栋. Send /cancel to stop."),
        UploadState.AWAITING_AREA_FILE)


async def _download(update: Update, context: BotContext) -> tuple[bytes, str] | None:
    message = update.effective_message
    assert message is not None
    document: Document | None = message.document
    _ = context._
    if document is None:
        return None
    if (document.file_size or 0) > MAX_FILE_BYTES:
        await message.reply_text(_("This file is too big. Please send at most 5 MB."))
        return None
    file = await document.get_file()
    return bytes(await file.download_as_bytearray()), document.file_name or "file"


async def _scoped_table(
    update: Update, context: BotContext, *, waiting: UploadState
) -> tuple[str, Table] | int:
    """The sender's directory scope and the table in the file they sent — or, when they may
    not upload or the file cannot be read, the state to go to (they were told why)."""
    scope = directory_scope(context.actor)
    if scope is None:
        await refuse(update, context)
        return ConversationHandler.END
    downloaded = await _download(update, context)
    if downloaded is None:
        return waiting
    try:
        # Off the event loop, so the outbox keeps sending alerts while a big file is read.
        return scope, await asyncio.to_thread(load_table, *downloaded)
    except TableError as exc:
        logger.info("Unreadable upload: %s", exc)
        assert update.effective_message is not None
        await update.effective_message.reply_text(context._(
            TABLE_PROBLEM_TEXT[exc.problem]).format(line=exc.line, limit=exc.limit))
        return waiting


def _columns_text(found: Table, _: Translate) -> list[str]:
    """What the preview says about the header: the columns left out, and why."""
    lines = []
    if found.ignored:
        lines.append(_("Not needed, left out: {columns}.").format(
            columns="、".join(found.ignored)))
    if found.unknown:
        lines.append(_("Columns I do not know, left out: {columns}.").format(
            columns="、".join(found.unknown)))
    return lines


async def roster_file(update: Update, context: BotContext) -> int:
    """Check the roster (dry run): ask about the names that match nothing, then show what
    will happen and offer Confirm."""
    message = update.effective_message
    assert message is not None
    _ = context._
    table = await _scoped_table(update, context, waiting=UploadState.AWAITING_ROSTER_FILE)
    if not isinstance(table, tuple):
        return table
    scope, found = table
    assert context.actor is not None and update.effective_user is not None
    raw = roster_service.raw_rows(found.rows)
    # Checked without the write lock (Confirm checks again before writing); only keeping
    # the upload writes.
    async with reading(context.services.session_factory) as session:
        preview = await roster_service.check_roster(
            session, rows=raw, scope_path=scope, staff_allowed=_may_grant_staff(context, scope))
    upload = None
    if not preview.missing_columns and (preview.good or preview.questions):
        async with transaction(context.services.session_factory) as session:
            person_id = await acting_person_id(session, context.actor, update.effective_user)
            upload = await save_upload(session, kind=PendingUploadKind.ROSTER,
                                       created_by_id=person_id, rows=raw, now=utcnow())
            upload.choices = {"plan": _plan_digest(preview)}
    if preview.missing_columns:
        await message.reply_text(_("The file needs these columns: {columns}. Please fix it "
                                   "and send it again, or /cancel.")
                                 .format(columns=_(", ").join(
                                     _(roster_service.COLUMN_TEXT.get(c, c))
                                     for c in preview.missing_columns)))
        return UploadState.AWAITING_ROSTER_FILE
    text, keyboard = _roster_screen(context, preview, upload.id if upload else None, scope)
    await message.reply_text("\n".join([*_columns_text(found, _), text]), reply_markup=keyboard)
    return ConversationHandler.END


def _may_grant_staff(context: BotContext, scope: str) -> bool:
    return can(context.actor, Permission.MANAGE_DIRECTORY, area_path=scope)


def _plan_digest(preview: roster_service.RosterPreview) -> int:
    """What the uploader was shown, so Confirm can tell whether the directory changed."""
    shown = [(g.line, g.person_id or 0) for g in preview.good] + [
        (b.line, -1) for b in preview.bad]
    return zlib.crc32(repr(sorted(shown)).encode())


def _roster_screen(
    context: BotContext, preview: roster_service.RosterPreview, upload_id: int | None,
    scope: str,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The first open question with its buttons, or (none left) the dry run's outcome."""
    _ = context._
    total = len(preview.good) + len(preview.bad) + sum(len(q.lines) for q in preview.questions)
    if preview.questions and upload_id is not None:
        question = preview.questions[0]
        lines = [_("I checked {total} rows. Some names in the file match nothing I know: "
                   "tell me once, and I will remember them for the next file.").format(
                       total=total), ""]
        count = len(question.lines)
        rows: list[list[InlineKeyboardButton]] = []
        tag = question.tag
        if question.kind is roster_service.MapKind.TEAM:
            lines.append(_("Team “{name}” — {count} rows. Which team is it?").format(
                name=question.text, count=count))
            if question.suggestion:
                rows.append([button(_("It is {team}").format(team=question.suggestion[1]),
                                    "rmt", upload_id, question.suggestion[0] * 1000 + tag)])
            if question.can_create:
                rows.append([button(_("Create this team"), "rmn", upload_id, tag)])
        elif question.kind is roster_service.MapKind.ROLE:
            lines.append(_("Role “{name}” — {count} rows. What does it mean here?").format(
                name=question.text, count=count))
            rows += [[button(_(label), "rmr", upload_id, index * 1000 + tag)]
                     for index, (role, label) in enumerate(MAP_ROLES)
                     if role is not roster_service.RosterRole.STAFF
                     or _may_grant_staff(context, scope)]
        else:
            lines.append(_("Area “{name}” — {count} rows. I do not know this area.").format(
                name=question.text, count=count))
            if question.suggestion:
                rows.append([button(_("It is {area}").format(area=question.suggestion[1]),
                                    "rma", upload_id, question.suggestion[0] * 1000 + tag)])
            rows.append([button(_("Leave the area empty"), "rma", upload_id, tag)])
        rows.append([button(_("Skip these rows"), "rms", upload_id, tag),
                     button(_("Cancel"), "rno", upload_id)])
        if len(preview.questions) > 1:
            lines.append(_("({count} more questions after this one.)").format(
                count=len(preview.questions) - 1))
        return "\n".join(lines), markup(rows)
    lines = [_("I checked {total} rows: {added} people to add, {updated} to update (same "
               "phone), {bad} refused. Nothing has been saved yet.").format(
                   total=total, added=len(preview.added), updated=len(preview.updated),
                   bad=len(preview.bad))]
    for bad in preview.bad[:PREVIEW_LINES]:
        lines.append(_("Row {line} ({name}): {reason}").format(
            line=bad.line, name=bad.name or "-",
            reason=_(PROBLEM_TEXT[bad.problem]).format(row=bad.detail)))
    if len(preview.bad) > PREVIEW_LINES:
        lines.append(_("…and {count} more.").format(count=len(preview.bad) - PREVIEW_LINES))
    keyboard = None
    if upload_id is not None and preview.good:
        keyboard = markup([[button(_("Import {count} people").format(count=len(preview.good)),
                                   "rok", upload_id),
                            button(_("Cancel"), "rno", upload_id)]])
    return "\n".join(lines), keyboard


async def area_file(update: Update, context: BotContext) -> int:
    """Check an area file (dry run) and offer Confirm."""
    message = update.effective_message
    assert message is not None
    _ = context._
    table = await _scoped_table(update, context, waiting=UploadState.AWAITING_AREA_FILE)
    if not isinstance(table, tuple):
        return table
    scope, found = table
    assert context.actor is not None and update.effective_user is not None
    async with transaction(context.services.session_factory) as session:
        person_id = await acting_person_id(session, context.actor, update.effective_user)
        plan = await area_service.plan_tree(session, rows=found.rows, scope_path=scope)
        upload = None
        if plan.paths and plan.new_nodes:
            upload = await save_upload(session, kind=PendingUploadKind.AREAS,
                                       created_by_id=person_id,
                                       rows=[{"path": p} for p in plan.paths], now=utcnow())
    lines = [_("I checked {total} rows: {new} new areas to add, {bad} rows need fixing. "
               "Nothing has been saved yet.").format(
                   total=len(plan.paths) + len(plan.problems), new=plan.new_nodes,
                   bad=len(plan.problems))]
    for problem in plan.problems[:PREVIEW_LINES]:
        lines.append(_("Row {line} ({name}): {reason}").format(
            line=problem.line, name=problem.path or "-",
            reason=_(TREE_PROBLEM_TEXT[problem.reason])))
    keyboard = None
    if upload is not None:
        keyboard = markup([[button(ngettext(_, "Add {count} area", "Add {count} areas",
                                            plan.new_nodes).format(count=plan.new_nodes),
                                   "aok", upload.id),
                            button(_("Cancel"), "rno", upload.id)]])
    await message.reply_text("\n".join(lines), reply_markup=keyboard)
    return ConversationHandler.END


async def file_with_caption(update: Update, context: BotContext) -> None:
    """A file sent with the caption /import or /importareas: check it at once."""
    message = update.effective_message
    if message is None or not message.caption:
        return
    if directory_scope(context.actor) is None:
        await refuse(update, context)
        return
    if message.caption.lstrip().lower().startswith("/importareas"):
        await area_file(update, context)
    else:
        await roster_file(update, context)


async def upload_pressed(update: Update, context: BotContext, press: DirCallback) -> None:
    """Confirm (import the checked rows, checked again) or cancel an upload."""
    query = update.callback_query
    assert query is not None
    _ = context._
    actor = context.actor
    scope = directory_scope(actor)
    if scope is None or actor is None:
        await refuse(update, context)
        return
    settings = context.services.settings
    checked = None
    if press.action == "rok":
        # The slow check first, outside the write lock: the transaction below only reads
        # the directory again and plans anew if anything the check used has changed.
        async with reading(context.services.session_factory) as session:
            upload = await open_upload(session, upload_id=press.a,
                                       created_by_id=actor.person_id, now=utcnow())
            if upload is not None and upload.kind is PendingUploadKind.ROSTER:
                checked = await roster_service.check_roster(
                    session, rows=upload.rows, scope_path=scope,
                    choices=dict(upload.choices or {}),
                    staff_allowed=_may_grant_staff(context, scope))
    async with transaction(context.services.session_factory) as session:
        upload = await open_upload(session, upload_id=press.a, created_by_id=actor.person_id,
                                   now=utcnow())
        if (upload is None
                or (press.action == "rok" and upload.kind is not PendingUploadKind.ROSTER)
                or (press.action == "aok" and upload.kind is not PendingUploadKind.AREAS)):
            await stale(update, context)
            return
        upload.done = True
        if press.action == "rno":
            text = _("Cancelled. Nothing was saved.")
        elif upload.kind is PendingUploadKind.ROSTER:
            choices = dict(upload.choices or {})
            preview = await roster_service.check_roster(
                session, rows=upload.rows, scope_path=scope, choices=choices,
                staff_allowed=_may_grant_staff(context, scope), against=checked)
            if preview.questions or _plan_digest(preview) != choices.get("plan"):
                # The directory changed since the check: show the new one, write nothing.
                upload.done = False
                upload.choices = {**choices, "plan": _plan_digest(preview)}
                text, keyboard = _roster_screen(context, preview, upload.id, scope)
                await query.answer()
                await query.edit_message_text(
                    _("Something changed since I checked the file. Here is the new check; "
                      "nothing has been saved yet.") + "\n" + text, reply_markup=keyboard)
                return
            result = await roster_service.import_roster(
                session, preview=preview, scope_path=scope, actor_id=actor.person_id,
                choices=choices)
            text = _("Done: {created} people imported.").format(created=result.created)
            if result.updated:
                text += "\n" + _("{count} people already known by their phone were "
                                 "updated.").format(count=result.updated)
            text += "\n" + _("People without a Telegram account will be connected when they "
                             "share their phone number with me or follow an invite link.")
        else:
            created = await area_service.apply_tree(
                session, paths=[r["path"] for r in upload.rows], scope_path=scope,
                actor_id=actor.person_id, default_language=settings.default_language)
            text = _("Done: {created} areas added.").format(created=created)
    await query.answer()
    await query.edit_message_text(text)


async def map_pressed(update: Update, context: BotContext, press: DirCallback) -> None:
    """An answer to a roster's question: this team, a new team, this role or area, or skip
    the rows. The press names the question it answers (its tag) and only what was offered
    counts; the uploader's scope is read afresh."""
    query = update.callback_query
    assert query is not None
    actor = context.actor
    scope = directory_scope(actor)
    if scope is None or actor is None:
        await refuse(update, context)
        return
    staff_allowed = _may_grant_staff(context, scope)
    sessions = context.services.session_factory
    # Planning a big file twice takes seconds: it runs without the write lock, and only the
    # answer is written, if no other press of the uploader's got there first.
    async with reading(sessions) as session:
        upload = await open_upload(session, upload_id=press.a, created_by_id=actor.person_id,
                                   now=utcnow())
        if upload is None or upload.kind is not PendingUploadKind.ROSTER:
            await stale(update, context)
            return
        asked = dict(upload.choices or {})
        preview = await roster_service.check_roster(
            session, rows=upload.rows, scope_path=scope, choices=asked,
            staff_allowed=staff_allowed)
        question = preview.questions[0] if preview.questions else None
        answer = _answer(press, question, staff_allowed)
        if question is None or answer is None:
            await stale(update, context)
            return
        kind = question.kind.value
        choices = {**asked, kind: {**asked.get(kind, {}), question.text: answer}}
        preview = await roster_service.check_roster(
            session, rows=upload.rows, scope_path=scope, choices=choices,
            staff_allowed=staff_allowed)
    async with transaction(sessions) as session:
        upload = await open_upload(session, upload_id=press.a, created_by_id=actor.person_id,
                                   now=utcnow())
        if upload is None or dict(upload.choices or {}) != asked:
            await stale(update, context)
            return
        upload.choices = {**choices, "plan": _plan_digest(preview)}
    text, keyboard = _roster_screen(context, preview, press.a, scope)
    await query.answer()
    await query.edit_message_text(text, reply_markup=keyboard)


def _answer(press: DirCallback, question: roster_service.Question | None,
            staff_allowed: bool) -> str | int | None:
    """The choice a press makes for the open question, or None when it does not fit it."""
    if question is None or press.b % 1000 != question.tag:
        return None
    target, kind = press.b // 1000, question.kind
    if press.action == "rms" and target == 0:
        return roster_service.SKIP
    if press.action == "rmn" and kind is roster_service.MapKind.TEAM and question.can_create \
            and target == 0:
        return roster_service.NEW_TEAM
    if press.action == "rmt" and kind is roster_service.MapKind.TEAM and question.suggestion \
            and target == question.suggestion[0]:
        return target
    if press.action == "rma" and kind is roster_service.MapKind.AREA:
        if target == 0:
            return roster_service.NO_AREA
        if question.suggestion and target == question.suggestion[0]:
            return target
    if press.action == "rmr" and kind is roster_service.MapKind.ROLE and target < len(MAP_ROLES):
        role = MAP_ROLES[target][0]
        if role is not roster_service.RosterRole.STAFF or staff_allowed:
            return role.value
    return None


async def cancel(update: Update, context: BotContext) -> int:
    if update.effective_message is not None:
        await update.effective_message.reply_text(context._("Cancelled. Nothing was changed."))
    return ConversationHandler.END


async def reask_file(update: Update, context: BotContext) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(context._(
            "I am waiting for a file (.csv or .xlsx). Tap the paperclip to send it, "
            "or send /cancel."))


async def still_checking(update: Update, context: BotContext) -> None:
    """A message while the roster sent in this conversation is still being checked."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(context._(
            "I am still checking your file. Please wait a moment: I will answer here."))


async def timed_out(update: Update, context: BotContext) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(context._(
            "I stopped waiting for the file. Send the command again when you are ready."))


# -- one entry point for every directory button -------------------------------------------

async def dir_pressed(update: Update, context: BotContext) -> None:
    """Route a `dir:` button to its handler; forged or stale data gets a polite answer."""
    query = update.callback_query
    if query is None:
        return
    press = decode(query.data)
    if press is None:
        await stale(update, context)
        return
    if not await in_private(update, context):
        return  # staff and leader tools, and /leave: someone else's button in a group
    if press.action in {"lvy", "lvn"}:
        await leave_pressed(update, context, press)
    elif press.action in {"pcf", "pcx"}:
        await confirm_pressed(update, context, press)
    elif press.action in {"rok", "rno", "aok"}:
        await upload_pressed(update, context, press)
    elif press.action in MAP_ACTIONS:
        await map_pressed(update, context, press)
    elif press.action in INVITE_ACTIONS or (press.action == "tl" and press.a == 0):
        from bot.directory import invite_handlers

        await invite_handlers.pressed(update, context, press)
    else:
        from bot.directory import admin_handlers

        await admin_handlers.pressed(update, context, press)


CAPTION_COMMAND = filters.CaptionRegex(r"^\s*/import(areas)?(@\w+)?(\s|$)")
# Confirm, cancel or answer a question about a checked file: handled without blocking, like
# the files themselves (each plans the whole file again).
UPLOAD_PRESS = re.compile(r"^dir:(rok|rno|aok|rmt|rmn|rms|rmr|rma):")


INVITE_ACTIONS = frozenset({"it", "ir", "is", "io", "ig", "il", "ix", "ixy", "isp", "isl"})


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    from bot.directory import admin_handlers, invite_handlers

    uploads = InstanceSafeConversationHandler(
        entry_points=[CommandHandler("import", ask_roster_file),
                      CommandHandler("importareas", ask_area_file)],
        states={
            UploadState.AWAITING_ROSTER_FILE: [
                # Not blocking: a 5,000-row check takes seconds, and other people's updates
                # go on meanwhile. PTB applies the state it returns when it is done; until
                # then this person's messages get the WAITING state's answer.
                MessageHandler(filters.Document.ALL, roster_file, block=False),
                MessageHandler(filters.ALL & ~filters.COMMAND, reask_file),
            ],
            UploadState.AWAITING_AREA_FILE: [
                MessageHandler(filters.Document.ALL, area_file),
                MessageHandler(filters.ALL & ~filters.COMMAND, reask_file),
            ],
            ConversationHandler.TIMEOUT: [MessageHandler(filters.ALL, timed_out)],
            ConversationHandler.WAITING: [MessageHandler(filters.ALL, still_checking)],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        conversation_timeout=CONVERSATION_TIMEOUT,
        name="directory_uploads",
        persistent=True,
    )
    return [
        uploads,
        MessageHandler(filters.Document.ALL & CAPTION_COMMAND & filters.ChatType.PRIVATE,
                       file_with_caption, block=False),
        CommandHandler("leave", ask_leave),
        CommandHandler("people", find_people),
        CommandHandler("export", export_roster),
        CommandHandler("invite", invite_handlers.start_invite),
        *admin_handlers.handlers(),
        CallbackQueryHandler(dir_pressed, pattern=UPLOAD_PRESS, block=False),
        CallbackQueryHandler(dir_pressed, pattern=PATTERN),
    ]

