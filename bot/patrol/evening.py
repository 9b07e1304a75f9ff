"""The leader's evening all-clear buttons (✅ all normal / ⚠️ something to report) and the
reply with the note that becomes a tip-off."""

from __future__ import annotations

from typing import Any

from telegram import Message, Update

from bot.auth import Permission, can
from bot.context import BotContext
from bot.db import transaction
from bot.directory.models import Person
from bot.patrol import daily
from bot.patrol.common import clock, wake
from bot.patrol.prompts import DAY_NOTE, prompt_for

MAX_NOTE = 1000


async def answer_pressed(update: Update, context: BotContext, action: str,
                         report_id: int) -> None:
    query = update.callback_query
    assert query is not None
    _ = context._
    actor = context.actor
    now = clock(context)
    async with transaction(context.services.session_factory) as session:
        found = await daily.report_with_team(session, report_id=report_id)
        if found is None:
            await query.answer(_("This button is no longer valid."))
            return
        report, team, area = found
        if not can(actor, Permission.MANAGE_TEAM, area_path=area.path, team_id=team.id):
            await query.answer(_("Sorry, you are not allowed to do that."), show_alert=True)
            return
        if report.answer is not daily.DayAnswer.NONE:
            await query.answer(_("Today's answer is already in. Thank you!"))
            return
        if action == "ok":
            daily.answer_normal(report, by_person_id=actor.person_id if actor else None, now=now)
    if action == "ok":
        await query.answer(_("Thank you!"))
        await query.edit_message_text(_("✅ {team}: all normal today. Thank you, and good night!"
                                        ).format(team=team.name))
        return
    await query.answer()
    await prompt_for(update, context, DAY_NOTE, report_id, _(
        "What happened? Please reply with a few words, or a photo with a caption. It goes to "
        "the team that handles it, as a report in your name."))


async def note_given(message: Message, context: BotContext, report_id: int) -> bool:
    """The ⚠️ note: a tip-off in the leader's name, routed as usual."""
    _ = context._
    text = (message.text or message.caption or "").strip()[:MAX_NOTE]
    photo: dict[str, Any] | None = None
    if message.photo:
        size = message.photo[-1]
        photo = {"file_id": size.file_id, "file_unique_id": size.file_unique_id,
                 "team_file_id": size.file_id, "stripped": False, "sha256": None,
                 "local_path": None}
    if not text and photo is None:
        await message.reply_text(_("Please reply with a few words or a photo."))
        return False
    actor = context.actor
    settings = context.services.settings
    async with transaction(context.services.session_factory) as session:
        found = await daily.report_with_team(session, report_id=report_id)
        if found is None or actor is None or actor.person_id is None:
            await message.reply_text(_("This question is no longer open."))
            return True
        report, team, area = found
        if not can(actor, Permission.MANAGE_TEAM, area_path=area.path, team_id=team.id):
            await message.reply_text(_("Sorry, you are not allowed to do that."))
            return True
        if report.answer is not daily.DayAnswer.NONE:
            await message.reply_text(_("Today's answer is already in. Thank you!"))
            return True
        person = await session.get_one(Person, actor.person_id)
        submitted = await daily.answer_issue(
            session, report=report, person=person, text=text, photo=photo, now=clock(context),
            default_language=settings.default_language, tz=settings.tz)
    wake(context)
    await message.reply_text(_("Thank you. I passed it on as report {reference}; the team that "
                               "handles it will take it from here.").format(
        reference=submitted.reference))
    return True
