"""Editing a team's shifts with buttons (add, rename, times, days of the week, for sensitive
periods only, remove) and a community's evening times (the all-clear and the summary).

Shifts: leaders of the team and staff of its area; evening times: staff of the community
(bot.auth, asked again on every press and every reply).
"""

from __future__ import annotations

from telegram import Message, Update

from bot.auth import Permission, can
from bot.context import BotContext
from bot.db import transaction
from bot.directory.models import Area
from bot.i18n import N_
from bot.patrol import daily, service
from bot.patrol.common import button, clock, config, markup, may_manage, refuse
from bot.patrol.models import PatrolPost, PatrolShift
from bot.patrol.prompts import EVENING_TIMES, SHIFT_NAME, SHIFT_NEW, SHIFT_TIMES, prompt_for
from bot.patrol.rota import WEEKDAYS

BAD_TIMES = N_("Please reply with the times like 20:00-22:00 (start and end; an end before "
               "the start means the next morning).")


async def _shift_for(update: Update | Message, context: BotContext,
                     shift_id: int) -> PatrolShift | None:
    """The live shift, if the actor may manage its team; else they are told."""
    async with context.services.session_factory() as session:
        shift = await session.get(PatrolShift, shift_id)
    if shift is None or shift.archived:
        if isinstance(update, Message):
            await update.reply_text(context._("This question is no longer open."))
        elif update.callback_query is not None:
            await update.callback_query.answer(context._("This button is no longer valid."))
        return None
    if not await may_manage(context, shift.team_id):
        await refuse(update, context)
        return None
    return shift


async def shift_screen(context: BotContext, shift: PatrolShift) -> dict[str, object]:
    _ = context._
    async with context.services.session_factory() as session:
        post = await session.get_one(PatrolPost, shift.post_id)
    days = "、".join(_(label) for d, label in enumerate(WEEKDAYS) if shift.weekdays >> d & 1)
    lines = [_("Shift: {shift} at {post}").format(shift=shift.name, post=post.name),
             _("Time: {time}").format(time=f"{shift.starts:%H:%M}–{shift.ends:%H:%M}"),
             _("Days: {days}").format(days=days),
             _("Only in sensitive periods") if shift.sensitive_only else _("Runs every week"),
             "", _("Tap a day to turn it on or off.")]
    day_buttons = [button(("✅ " if shift.weekdays >> d & 1 else "▫️ ") + _(label), "sd",
                          shift.id, d) for d, label in enumerate(WEEKDAYS)]
    first_day = next(d for d in range(7) if shift.weekdays >> d & 1)
    rows = [day_buttons[:4], day_buttons[4:],
            [button(("✅ " if shift.sensitive_only else "▫️ ") + _("Sensitive periods only"),
                    "sf", shift.id)],
            [button(_("✏️ Rename"), "sn", shift.id), button(_("🕐 Change times"), "st", shift.id)],
            [button(_("👥 Who is on it"), "rs", shift.id, first_day),
             button(_("🗑 Remove"), "sx", shift.id)]]
    return {"text": "\n".join(lines), "reply_markup": markup(rows)}


async def _new_shift(update: Update, context: BotContext, team_id: int) -> None:
    """➕ for a team: its only post is taken; with several, the post is chosen first."""
    query = update.callback_query
    assert query is not None
    _ = context._
    if not await may_manage(context, team_id):
        await refuse(update, context)
        return
    async with context.services.session_factory() as session:
        posts = await service.posts_of_teams(session, team_ids=[team_id])
    if not posts:
        await query.answer(_("This team has no post yet: add one with /posts first."),
                           show_alert=True)
        return
    await query.answer()
    if len(posts) == 1:
        await _ask_new_shift(update, context, posts[0])
        return
    rows = [[button("📍 " + p.name, "sp", p.id) for p in posts[k:k + 2]]
            for k in range(0, len(posts), 2)]
    await query.edit_message_text(_("At which post is the new shift?"),
                                  reply_markup=markup(rows[:20]))


async def _ask_new_shift(update: Update, context: BotContext, post: PatrolPost) -> None:
    await prompt_for(update, context, SHIFT_NEW, post.id, context._(
        "Please reply with the new shift's name and times at {post}, for example: 晚班 "
        "20:00-22:00").format(post=post.name))


async def shift_pressed(update: Update, context: BotContext, action: str,
                        ids: tuple[int, ...]) -> None:
    """sa (new, for a team), sp (new, at a post), sh (show), sd (a day on or off), sf
    (sensitive periods only), sn (rename), st (times), sx (remove?), sy (remove)."""
    query = update.callback_query
    assert query is not None
    _ = context._
    if action == "sa":
        await _new_shift(update, context, ids[0])
        return
    if action == "sp":
        async with context.services.session_factory() as session:
            post = await session.get(PatrolPost, ids[0])
        if post is None or post.archived:
            await query.answer(_("This button is no longer valid."))
        elif not await may_manage(context, post.team_id):
            await refuse(update, context)
        else:
            await query.answer()
            await _ask_new_shift(update, context, post)
        return
    shift = await _shift_for(update, context, ids[0])
    if shift is None:
        return
    if action in ("sn", "st"):
        await query.answer()
        if action == "sn":
            await prompt_for(update, context, SHIFT_NAME, shift.id, _(
                "Please reply with the new name of {shift}.").format(shift=shift.name))
        else:
            await prompt_for(update, context, SHIFT_TIMES, shift.id, _(
                "Please reply with the new times of {shift}, for example 19:00-22:00.").format(
                shift=shift.name))
        return
    if action == "sx":
        await query.answer()
        await query.edit_message_text(
            _("Remove the shift {shift}? Its planned duties that have not begun go too; what "
              "was done stays in the records.").format(shift=shift.name),
            reply_markup=markup([[button(_("🗑 Yes, remove it"), "sy", shift.id),
                                  button(_("↩️ Back"), "sh", shift.id)]]))
        return
    if action == "sh":
        await query.answer()
        await query.edit_message_text(**await shift_screen(context, shift))
        return
    now = clock(context)
    async with transaction(context.services.session_factory) as session:
        fresh = await session.get_one(PatrolShift, shift.id)
        try:
            if action == "sd" and len(ids) == 2:
                await service.edit_shift(session, shift=fresh, now=now, weekday=ids[1])
            elif action == "sf":
                await service.edit_shift(session, shift=fresh, now=now,
                                         sensitive_only=not fresh.sensitive_only)
            elif action == "sy":
                await service.remove_shift(session, shift=fresh, now=now)
            else:
                await query.answer(_("This button is no longer valid."))
                return
        except service.PatrolError as exc:
            await query.answer(_("A shift needs at least one day.") if exc.reason == "no_days"
                               else _("This button is no longer valid."), show_alert=True)
            return
        await service.plan_duties(session, now=now, tz=context.services.settings.tz,
                                  config=config(context), team_id=fresh.team_id)
    await query.answer()
    if action == "sy":
        await query.edit_message_text(_("The shift {shift} is removed.").format(
            shift=fresh.name))
        return
    await query.edit_message_text(**await shift_screen(context, fresh))


async def shift_reply(message: Message, context: BotContext, target_id: int, *,
                      action: str) -> bool:
    """A reply with a new shift (at post `target_id`), a shift's name or its times."""
    _ = context._
    text = message.text or ""
    now = clock(context)
    if action == SHIFT_NEW:
        async with context.services.session_factory() as session:
            post = await session.get(PatrolPost, target_id)
        if post is None or post.archived:
            await message.reply_text(_("This question is no longer open."))
            return True
        if not await may_manage(context, post.team_id):
            await refuse(message, context)
            return True
        parsed = service.parse_new_shift(text)
        if parsed is None or len(parsed[0]) > service.MAX_SHIFT_NAME:
            await message.reply_text(_("Please reply with a name of at most 40 characters and "
                                       "the times, for example: 晚班 20:00-22:00"))
            return False
        name, starts, ends = parsed
        async with transaction(context.services.session_factory) as session:
            shift = await service.create_shift(session, post=post, name=name, starts=starts,
                                               ends=ends, sensitive_only=False, now=now)
    else:
        found = await _shift_for(message, context, target_id)
        if found is None:
            return True
        span = service.parse_span(text) if action == SHIFT_TIMES else None
        if action == SHIFT_TIMES and span is None:
            await message.reply_text(_(BAD_TIMES))
            return False
        async with transaction(context.services.session_factory) as session:
            shift = await session.get_one(PatrolShift, found.id)
            try:
                await service.edit_shift(session, shift=shift, now=now, span=span,
                                         name=text if action == SHIFT_NAME else None)
            except service.PatrolError:
                await message.reply_text(_("Please reply with a name of at most 40 "
                                           "characters."))
                return False
            await service.plan_duties(session, now=now, tz=context.services.settings.tz,
                                      config=config(context), team_id=shift.team_id)
    await message.reply_text(**await shift_screen(context, shift))
    return True


# -- a community's evening times -------------------------------------------------------------

async def _community(context: BotContext, community_id: int) -> Area | None:
    """The community, if the actor is staff of it (or above)."""
    async with context.services.session_factory() as session:
        community = await session.get(Area, community_id)
    if community is None or not can(context.actor, Permission.MANAGE_TEAM,
                                    area_path=community.path):
        return None
    return community


async def evening_pressed(update: Update, context: BotContext, community_id: int) -> None:
    query = update.callback_query
    assert query is not None
    _ = context._
    community = await _community(context, community_id)
    if community is None:
        await refuse(update, context)
        return
    async with context.services.session_factory() as session:
        allclear_at, summary_at = await daily.times_of(session, community_id=community.id,
                                                       config=config(context))
    await query.answer()
    await prompt_for(update, context, EVENING_TIMES, community.id, _(
        "{community}: leaders are asked for the all-clear at {allclear} and the summary goes "
        "to the cadres at {summary}. To change this, reply with two times, for example: "
        "21:00 21:30").format(community=community.name, allclear=f"{allclear_at:%H:%M}",
                             summary=f"{summary_at:%H:%M}"))


async def evening_reply(message: Message, context: BotContext, community_id: int) -> bool:
    _ = context._
    community = await _community(context, community_id)
    if community is None:
        await refuse(message, context)
        return True
    words = (message.text or "").replace("-", " ").replace("，", " ").replace(",", " ").split()
    times = [service.parse_clock(w) for w in words]
    if len(times) != 2 or times[0] is None or times[1] is None or times[1] <= times[0]:
        await message.reply_text(_("Please reply with two times of the same evening, the "
                                   "summary after the all-clear, for example: 21:00 21:30"))
        return False
    async with transaction(context.services.session_factory) as session:
        await daily.set_times(session, community_id=community.id, allclear_at=times[0],
                              summary_at=times[1])
    await message.reply_text(_("Done: in {community} leaders are asked at {allclear} and the "
                               "summary goes out at {summary}.").format(
        community=community.name, allclear=f"{times[0]:%H:%M}", summary=f"{times[1]:%H:%M}"))
    return True
