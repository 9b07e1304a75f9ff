"""The leader's side: the missed sign-in notice's buttons (covered by / excused) and
/today, the board of who is on duty now. Every press asks bot.auth again."""

from __future__ import annotations

from telegram import Update

from bot.auth import Permission, can, directory_scope
from bot.context import BotContext
from bot.db import transaction
from bot.handler_utils import private_message
from bot.patrol import render, service
from bot.patrol.common import button, clock, markup, refuse


async def missing_pressed(update: Update, context: BotContext, action: str, duty_id: int,
                          person_id: int | None) -> None:
    """`cv` lists the teammates; `cb` records who covered; `ex` excuses."""
    query = update.callback_query
    assert query is not None
    _ = context._
    actor = context.actor
    async with transaction(context.services.session_factory) as session:
        found = await service.duty_with_names(session, duty_id=duty_id)
        if found is None:
            await query.answer(_("This button is no longer valid."))
            return
        duty, name, post, _shift, area = found
        if not can(actor, Permission.MANAGE_TEAM, area_path=area.path, team_id=duty.team_id):
            await refuse(update, context)
            return
        if action == "cv":
            members = [(i, n) for i, n in await service.team_members(session,
                                                                     team_id=duty.team_id)
                       if i != duty.person_id][:12]
            await query.answer()
            rows = [[button(n, "cb", duty_id, i) for i, n in members[k:k + 2]]
                    for k in range(0, len(members), 2)]
            rows.append([button(_(render.EXCUSED), "ex", duty_id)])
            await query.edit_message_reply_markup(markup(rows))
            return
        covered_by = None
        if action == "cb":
            assert person_id is not None
            try:
                await service.resolve_missing(session, duty=duty, by_person_id=actor.person_id
                                              if actor else None, covered_by_id=person_id,
                                              excused=False)
            except service.PatrolError:
                await query.answer(_("This button is no longer valid."))
                return
            covered_by = dict(await service.team_members(session, team_id=duty.team_id)).get(
                person_id)
        else:
            await service.resolve_missing(session, duty=duty, by_person_id=actor.person_id
                                          if actor else None, covered_by_id=None, excused=True)
    await query.answer(_("Noted."))
    await query.edit_message_text(render.resolved_text(_, name=name, post=post,
                                                       covered_by=covered_by))


async def today_command(update: Update, context: BotContext) -> None:
    """/today: per team and post, who is on duty now, signed in, late, missing."""
    message = await private_message(update, context)
    if message is None:
        return
    _ = context._
    actor = context.actor
    scope = directory_scope(actor)
    led = actor.led_team_ids if actor else frozenset()
    now = clock(context)
    tz = context.services.settings.tz
    async with context.services.session_factory() as session:
        teams = await service.patrol_teams(session, scope_path=scope, team_ids=led)
        teams = [(t, a) for t, a in teams
                 if can(actor, Permission.MANAGE_TEAM, area_path=a.path, team_id=t.id)]
        if not teams:
            await refuse(update, context)
            return
        since, until = service.day_bounds(service.local_date(now, tz), tz)
        lines = await service.duty_lines(session, now=now, team_ids=[t.id for t, _a in teams],
                                         since=since, until=until)
        sensitive = await service.sensitive_at(session, area_path=teams[0][1].path, moment=now)
    board = [render.BoardTeam(t.name, [line for line in lines if line.team_id == t.id])
             for t, _a in teams]
    await message.reply_text(render.board_text(_, board, tz, sensitive=sensitive))

