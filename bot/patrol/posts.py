"""/posts: a team's posts, a new post, a post's pin and radius, and its printable QR sign.

Staff of the area and the team's leaders may see and print; adding a post or moving it
is for them too (bot.auth's MANAGE_TEAM). Questions that wait for typed text or a pin
are reply prompts kept in the database (`PatrolPrompt`), so a restart loses none.
"""

from __future__ import annotations

import asyncio
import io

from telegram import Message, Update

from bot.auth import Permission, can, directory_scope
from bot.context import BotContext
from bot.db import transaction
from bot.handler_utils import private_message
from bot.patrol import service, sign
from bot.patrol.common import button, clock, markup, refuse
from bot.patrol.models import PatrolPost
from bot.patrol.prompts import POST_NAME, POST_PIN, prompt_for

RADII = (50, 100, 200, 500)


async def _teams(context: BotContext) -> list[tuple[int, str, str]]:
    """(team id, team name, area path) of the patrol teams the actor manages."""
    actor = context.actor
    async with context.services.session_factory() as session:
        teams = await service.patrol_teams(
            session, scope_path=directory_scope(actor),
            team_ids=actor.led_team_ids if actor else frozenset())
    return [(t.id, t.name, a.path) for t, a in teams
            if can(actor, Permission.MANAGE_TEAM, area_path=a.path, team_id=t.id)]


async def posts_command(update: Update, context: BotContext) -> None:
    """/posts: every post of my patrol teams, a button each, and “New post”."""
    message = await private_message(update, context)
    if message is None:
        return
    _ = context._
    teams = await _teams(context)
    if not teams:
        await refuse(update, context)
        return
    async with context.services.session_factory() as session:
        posts = await service.posts_of_teams(session, team_ids=[t for t, _n, _p in teams])
    lines = [_("Patrol posts. Tap a post to print its QR sign or set its place.")]
    rows = []
    for team_id, name, _path in teams:
        mine = [p for p in posts if p.team_id == team_id]
        lines.append(f"【{name}】" + (" " + "、".join(p.name for p in mine) if mine
                                     else " " + _("no posts yet")))
        rows += [[button("📍 " + p.name, "ps", p.id) for p in mine[k:k + 2]]
                 for k in range(0, len(mine), 2)]
        rows.append([button(_("➕ New post for {team}").format(team=name), "pn", team_id)])
    await message.reply_text("\n".join(lines), reply_markup=markup(rows[:40]))


async def _post_for(update: Update, context: BotContext, post_id: int) -> PatrolPost | None:
    """The post, if it exists and the actor may manage its team; else they are told."""
    async with context.services.session_factory() as session:
        found = await service.post_with_area(session, post_id=post_id)
    if found is None or found[0].archived:
        if update.callback_query is not None:
            await update.callback_query.answer(context._("This button is no longer valid."))
        return None
    post, area = found
    if not can(context.actor, Permission.MANAGE_TEAM, area_path=area.path, team_id=post.team_id):
        await refuse(update, context)
        return None
    return post


def _post_screen(context: BotContext, post: PatrolPost) -> dict[str, object]:
    _ = context._
    if post.latitude is None or post.longitude is None:
        place = _("no map pin yet: pins sent to sign in are not checked")
    else:
        place = _("map pin set; a sign-in pin within {metres} m counts as at the post").format(
            metres=post.radius_m)
    rows = [[button(_("🖨 Print the QR sign"), "pq", post.id),
             button(_("📍 Set the place"), "pl", post.id)],
            [button(("✅ " if post.radius_m == r else "") + f"{r} m", "pr", post.id, r)
             for r in RADII]]
    return {"text": _("Post: {name}\n{place}").format(name=post.name, place=place),
            "reply_markup": markup(rows)}


async def post_pressed(update: Update, context: BotContext, action: str, ids: tuple[int, ...]
                       ) -> None:
    """ps (show), pq (the sign), pl (ask for the pin), pr (radius), pn (ask for a name)."""
    query = update.callback_query
    assert query is not None
    _ = context._
    if action == "pn":
        teams = {t for t, _n, _p in await _teams(context)}
        if ids[0] not in teams:
            await refuse(update, context)
            return
        await query.answer()
        await prompt_for(update, context, POST_NAME, ids[0], _(
            "Please reply with the new post's name, for example 东门岗 or 菜市场入口."))
        return
    post = await _post_for(update, context, ids[0])
    if post is None:
        return
    if action == "pr":
        if len(ids) < 2 or ids[1] not in RADII:
            await query.answer(_("This button is no longer valid."))
            return
        async with transaction(context.services.session_factory) as session:
            fresh = await session.get_one(PatrolPost, post.id)
            fresh.radius_m = ids[1]
            post = fresh
        await query.answer()
        await query.edit_message_text(**_post_screen(context, post))
    elif action == "pq":
        await query.answer()
        await send_sign(context, query.message.chat.id if query.message else query.from_user.id,
                        post)
    elif action == "pl":
        await query.answer()
        await prompt_for(update, context, POST_PIN, post.id, _(
            "Standing at {post}? Reply with your location: tap 📎, then “Location”.").format(
            post=post.name))
    else:
        await query.answer()
        await query.edit_message_text(**_post_screen(context, post))


async def send_sign(context: BotContext, chat_id: int, post: PatrolPost) -> None:
    """The printable sign as a PNG file (a file, not a photo: Telegram would shrink it)."""
    _ = context._
    link = sign.deep_link(context.bot.username, post.token)
    png = await asyncio.to_thread(
        sign.sign_png, link, name=post.name, heading=_("Patrol sign-in"),
        footer=_("Scan with Telegram, then tap Start to sign in"))
    await context.bot.send_document(
        chat_id, io.BytesIO(png), filename=f"post-{post.id}.png",
        caption=_("The QR sign of {post}: print it (A4 or A5) and put it up at the post.\n{link}"
                  ).format(post=post.name, link=link))


async def name_given(message: Message, context: BotContext, team_id: int) -> bool:
    _ = context._
    if team_id not in {t for t, _n, _p in await _teams(context)}:
        await refuse(message, context)
        return True
    try:
        async with transaction(context.services.session_factory) as session:
            post = await service.create_post(session, team_id=team_id, name=message.text or "",
                                             now=clock(context))
    except service.PatrolError as exc:
        await message.reply_text(_("A post already has this name. Please reply with another.")
                                 if exc.reason == "duplicate" else
                                 _("Please reply with a name of at most 60 characters."))
        return False
    await message.reply_text(**_post_screen(context, post))
    await send_sign(context, message.chat.id, post)
    return True


async def pin_given(message: Message, context: BotContext, post_id: int) -> bool:
    _ = context._
    if message.location is None:
        await message.reply_text(_("Please reply with a location: tap 📎, then “Location”."))
        return False
    async with context.services.session_factory() as session:
        found = await service.post_with_area(session, post_id=post_id)
    if found is None or not can(context.actor, Permission.MANAGE_TEAM, area_path=found[1].path,
                                team_id=found[0].team_id):
        await refuse(message, context)
        return True
    async with transaction(context.services.session_factory) as session:
        post = await session.get_one(PatrolPost, post_id)
        service.set_location(post, latitude=message.location.latitude,
                             longitude=message.location.longitude)
    await message.reply_text(**_post_screen(context, post))
    return True
