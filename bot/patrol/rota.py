"""/shifts: a team's shifts, who is on them each weekday (set with buttons), and the
排班表 as a spreadsheet: import (dry run, bad rows named, then confirm) and export.

Leaders of the team and staff of its area only (bot.auth MANAGE_TEAM), on every press.
"""

from __future__ import annotations

import io
import logging
from datetime import timedelta

from sqlalchemy import select
from telegram import Message, Update

from bot.auth import Permission, can, directory_scope
from bot.context import BotContext
from bot.db import transaction
from bot.directory.areas import ancestor_ids
from bot.directory.models import Area, PendingUploadKind
from bot.directory.tables import TableError, read_table
from bot.directory.uploads import open_upload, save_upload
from bot.handler_utils import private_message
from bot.i18n import N_, ngettext
from bot.patrol import roster, service
from bot.patrol.common import button, clock, config, markup, may_manage, refuse
from bot.patrol.models import PatrolShift
from bot.patrol.prompts import ROSTER_FILE, prompt_for

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 2 * 1024 * 1024
PREVIEW_LINES = 30
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
PROBLEM_TEXT = {
    roster.Problem.BAD_DATE: N_("the date is not like 2026-03-02"),
    roster.Problem.PAST_DATE: N_("the date has passed"),
    roster.Problem.TOO_FAR: N_("the date is more than three months ahead"),
    roster.Problem.UNKNOWN_SHIFT: N_("no such shift in this team"),
    roster.Problem.AMBIGUOUS_SHIFT: N_("several posts have a shift of this name: fill in the "
                                       "post"),
    roster.Problem.UNKNOWN_PERSON: N_("no one of this name in the team"),
    roster.Problem.AMBIGUOUS_PERSON: N_("two members have this name"),
    roster.Problem.DUPLICATE: N_("the same row is already in the file"),
}


async def shifts_command(update: Update, context: BotContext) -> None:
    """/shifts: each team's shifts, a button per shift for who is on it, import, export."""
    message = await private_message(update, context)
    if message is None:
        return
    _ = context._
    actor = context.actor
    tz = context.services.settings.tz
    today = service.local_date(clock(context), tz).weekday()
    async with context.services.session_factory() as session:
        teams = [(t, a) for t, a in await service.patrol_teams(
            session, scope_path=directory_scope(actor),
            team_ids=actor.led_team_ids if actor else frozenset())
            if can(actor, Permission.MANAGE_TEAM, area_path=a.path, team_id=t.id)]
        shifts = {t.id: await service.shifts_of_team(session, team_id=t.id) for t, _a in teams}
        posts = {p.id: p.name for p in await service.posts_of_teams(
            session, team_ids=[t.id for t, _a in teams])}
    if not teams:
        await refuse(update, context)
        return
    lines = [_("Shifts. Tap a shift to choose who is on it each weekday, or ⚙️ to change "
               "it.")]
    rows = []
    for team, _area in teams:
        lines += ["", f"【{team.name}】"]
        for shift in shifts[team.id]:
            extra = " " + _("(sensitive periods only)") if shift.sensitive_only else ""
            lines.append(f"{shift.starts:%H:%M}–{shift.ends:%H:%M} {shift.name} · "
                         f"{posts.get(shift.post_id, '')}{extra}")
            rows.append([button(f"👥 {shift.name} · {posts.get(shift.post_id, '')}", "rs",
                                shift.id, _first_day(shift, today)),
                         button("⚙️", "sh", shift.id)])
        if not shifts[team.id]:
            lines.append(_("No shifts yet."))
        rows.append([button(_("➕ New shift"), "sa", team.id)])
        rows.append([button(_("📥 Import 排班表"), "ri", team.id),
                     button(_("📤 Export"), "re", team.id)])
    rows += [[button(_("🌙 Evening times: {community}").format(community=name), "et", cid)]
             for cid, name in await _communities_to_time(context, [a for _t, a in teams])]
    await message.reply_text("\n".join(lines), reply_markup=markup(rows[:40]))


def _first_day(shift: PatrolShift, weekday: int) -> int:
    """This weekday if the shift runs on it, else the next one it runs on."""
    return next(d % 7 for d in range(weekday, weekday + 7) if shift.weekdays >> d % 7 & 1)


async def _communities_to_time(context: BotContext, areas: list[Area]) -> list[tuple[int, str]]:
    """(id, name) of the communities of these areas whose evening times the actor sets."""
    ids = sorted({ancestor_ids(a.path)[1] for a in areas if len(ancestor_ids(a.path)) >= 2})
    if not ids:
        return []
    async with context.services.session_factory() as session:
        communities = list(await session.scalars(select(Area).where(Area.id.in_(ids))))
    return [(c.id, c.name) for c in communities
            if can(context.actor, Permission.MANAGE_TEAM, area_path=c.path)]


async def _weekday_screen(context: BotContext, shift: PatrolShift,
                          weekday: int) -> dict[str, object]:
    _ = context._
    async with context.services.session_factory() as session:
        members = await service.team_members(session, team_id=shift.team_id)
        on = (await service.rotation_of(session, shift_id=shift.id))[weekday]
    rows = [[button(("• " if d == weekday else "") + _(label), "rs", shift.id, d)
             for d, label in enumerate(WEEKDAYS) if shift.weekdays >> d & 1]]
    people = [button(("✅ " if pid in on else "▫️ ") + name, "rp", shift.id, weekday, pid)
              for pid, name in members[:30]]
    rows += [people[k:k + 2] for k in range(0, len(people), 2)]
    text = _("{shift} {time}, every {day}: tap people to put them on or take them off.").format(
        shift=shift.name, time=f"{shift.starts:%H:%M}–{shift.ends:%H:%M}",
        day=_(WEEKDAYS[weekday]))
    return {"text": text, "reply_markup": markup(rows)}


async def rota_pressed(update: Update, context: BotContext, action: str,
                       ids: tuple[int, ...]) -> None:
    """rs (a weekday of a shift), rp (toggle a person), ri (import), re (export),
    ry / rn (confirm or drop a checked file)."""
    query = update.callback_query
    assert query is not None
    _ = context._
    if action in ("ry", "rn"):
        await _confirm(update, context, action, ids[0])
        return
    if action in ("ri", "re"):
        if not await may_manage(context, ids[0]):
            await refuse(update, context)
            return
        await query.answer()
        if action == "ri":
            await prompt_for(update, context, ROSTER_FILE, ids[0], _(
                "Please reply with the 排班表 as an Excel (.xlsx) or CSV file. Columns: 日期 "
                "(date), 班次 (shift), 姓名 (name), and 岗点 (post) where two posts have a "
                "shift of the same name. I will check it first and change nothing until you "
                "confirm."))
        else:
            await _export(update, context, ids[0])
        return
    async with context.services.session_factory() as session:
        shift = await session.get(PatrolShift, ids[0])
    weekday = ids[1] if len(ids) > 1 else -1
    if (shift is None or shift.archived or not 0 <= weekday <= 6
            or not shift.weekdays >> weekday & 1):
        await query.answer(_("This button is no longer valid."))
        return
    if not await may_manage(context, shift.team_id):
        await refuse(update, context)
        return
    if action == "rp" and len(ids) == 3:
        now = clock(context)
        tz = context.services.settings.tz
        async with transaction(context.services.session_factory) as session:
            try:
                on = await service.toggle_rotation(session, shift=shift, person_id=ids[2],
                                                   weekday=weekday)
            except service.PatrolError:
                await query.answer(_("This button is no longer valid."))
                return
            if not on:  # planned duties of that weekday that have not begun go too
                days = [service.local_date(now, tz) + timedelta(days=d) for d in range(8)]
                await service.drop_planned_duties(
                    session, shift_id=shift.id, now=now, person_id=ids[2],
                    days=[d for d in days if d.weekday() == weekday])
            await service.plan_duties(session, now=now, tz=tz, config=config(context),
                                      team_id=shift.team_id)
    await query.answer()
    await query.edit_message_text(**await _weekday_screen(context, shift, weekday))


async def roster_file_given(message: Message, context: BotContext, team_id: int) -> bool:
    """The 排班表 arrived: check it (nothing saved), list the bad rows, offer Import."""
    _ = context._
    document = message.document
    if document is None:
        await message.reply_text(_("Please reply with the file (.xlsx or .csv)."))
        return False
    if not await may_manage(context, team_id):
        await refuse(message, context)
        return True
    if (document.file_size or 0) > MAX_FILE_BYTES:
        await message.reply_text(_("This file is too big. Please send at most 2 MB."))
        return False
    data = bytes(await (await document.get_file()).download_as_bytearray())
    try:
        rows = read_table(data, document.file_name or "file")
    except TableError as exc:
        logger.info("Unreadable 排班表: %s", exc)
        await message.reply_text(_("I could not read this file. Please reply with a .xlsx or "
                                   ".csv file."))
        return False
    actor = context.actor
    assert actor is not None and actor.person_id is not None
    now = clock(context)
    async with transaction(context.services.session_factory) as session:
        preview = await roster.check_roster(
            session, team_id=team_id, rows=rows,
            today=service.local_date(now, context.services.settings.tz))
        upload = None
        if preview.good and not preview.missing_columns:
            upload = await save_upload(
                session, kind=PendingUploadKind.DUTY_ROSTER, created_by_id=actor.person_id,
                rows=[{"team_id": team_id, **r} for r in roster.to_json(preview.good)], now=now)
    if preview.missing_columns:
        await message.reply_text(_("The file needs these columns: {columns}. Please fix it and "
                                   "reply with it again.").format(
            columns=", ".join(preview.missing_columns)))
        return False
    lines = [_("I checked {total} rows: {good} are fine, {bad} need fixing. Nothing has been "
               "saved yet.").format(total=len(preview.good) + len(preview.bad),
                                    good=len(preview.good), bad=len(preview.bad))]
    for bad in preview.bad[:PREVIEW_LINES]:
        lines.append(_("Row {line} ({name}): {reason}").format(
            line=bad.line, name=bad.name or "-", reason=_(PROBLEM_TEXT[bad.problem])))
    if len(preview.bad) > PREVIEW_LINES:
        lines.append(_("…and {count} more.").format(count=len(preview.bad) - PREVIEW_LINES))
    keyboard = None
    if upload is not None:
        keyboard = markup([[button(ngettext(_, "Import {count} shift", "Import {count} shifts",
                                            len(preview.good)).format(count=len(preview.good)),
                                   "ry", upload.id),
                            button(_("Cancel"), "rn", upload.id)]])
    await message.reply_text("\n".join(lines), reply_markup=keyboard)
    return True


async def _confirm(update: Update, context: BotContext, action: str, upload_id: int) -> None:
    query = update.callback_query
    assert query is not None
    _ = context._
    actor = context.actor
    now = clock(context)
    async with transaction(context.services.session_factory) as session:
        upload = await open_upload(session, upload_id=upload_id,
                                   created_by_id=actor.person_id if actor else None, now=now)
        if upload is None or upload.kind is not PendingUploadKind.DUTY_ROSTER or not upload.rows:
            await query.answer(_("This button is no longer valid."))
            return
        team_id = int(upload.rows[0]["team_id"])
        found = await service.team_area(session, team_id=team_id)
        if found is None or not can(actor, Permission.MANAGE_TEAM, area_path=found[1].path,
                                    team_id=team_id):
            await refuse(update, context)
            return
        upload.done = True
        written = 0
        if action == "ry":
            written = await roster.apply_roster(
                session, team_id=team_id, rows=upload.rows, now=now,
                tz=context.services.settings.tz, config=config(context))
    await query.answer()
    if action == "rn":
        await query.edit_message_text(_("All right, nothing was imported."))
        return
    await query.edit_message_text(ngettext(
        _, "Done: {count} shift is on the roster.", "Done: {count} shifts are on the roster.",
        written).format(count=written))


async def _export(update: Update, context: BotContext, team_id: int) -> None:
    chat = update.effective_chat
    assert chat is not None
    async with transaction(context.services.session_factory) as session:
        found = await service.team_area(session, team_id=team_id)
        assert found is not None
        data = await roster.export_roster(session, team_id=team_id, now=clock(context),
                                          tz=context.services.settings.tz,
                                          config=config(context))
    await context.bot.send_document(
        chat.id, io.BytesIO(data), filename=f"paiban-{team_id}.xlsx",
        caption=context._("The 排班表 of {team} for the next two weeks. Change it and send it "
                          "back with “📥 Import 排班表”.").format(team=found[0].name))

