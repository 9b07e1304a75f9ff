"""Swapping a duty with a teammate: the member offers it from /duty, the teammate accepts
or declines with buttons, and the one who offered and the team's leaders are told through
the outbox. The offer is a column of the duty, so only the teammate asked can accept it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from bot.alerts.render import in_all_languages
from bot.context import BotContext
from bot.db import transaction
from bot.directory.models import Person
from bot.i18n import N_, Translate
from bot.patrol import callbacks as cb
from bot.patrol import render, service
from bot.patrol.chase import MEMBER_PRIORITY, language_of
from bot.patrol.common import button, clock, config, markup, refuse, wake
from bot.patrol.daily import team_leaders
from bot.patrol.models import PatrolDuty
from broadcasts import OutgoingMessage, enqueue_broadcast

TAKE_IT = N_("✅ I'll take it")
CANNOT = N_("❌ I can't")
REFUSALS = {
    "started": N_("This shift has begun (or someone covered it), so it can no longer be "
                  "swapped."),
    "already_on": N_("They are already on this shift that day."),
}


def duty_words(_: Translate, *, shift: str, post: str, starts_at: datetime,
               ends_at: datetime, tz: ZoneInfo) -> str:
    return _("{shift} at {post}, {day} {time}").format(
        shift=shift, post=post, day=starts_at.astimezone(tz).strftime("%m-%d"),
        time=render.span(starts_at, ends_at, tz))


async def _tell(session: AsyncSession, person: Person, kind: str, duty: PatrolDuty,
                build: Callable[[Translate], OutgoingMessage], default_language: str) -> None:
    """One private message through the outbox (in the person's language)."""
    if person.telegram_id is None:
        return
    language = language_of(person, default_language)
    await enqueue_broadcast(session, kind=kind, priority=MEMBER_PRIORITY,
                            content=in_all_languages(build, language),
                            recipients=[(person.telegram_id, language)],
                            audience={"patrol_duty": duty.id})


async def swap_pressed(update: Update, context: BotContext, action: str,
                       ids: tuple[int, ...]) -> None:
    """wo (whom to offer it to), wt (offer it to this teammate), wy / wn (the teammate
    accepts or declines)."""
    query = update.callback_query
    assert query is not None
    _ = context._
    actor = context.actor
    person_id = actor.person_id if actor else None
    now = clock(context)
    tz = context.services.settings.tz
    language = context.services.settings.default_language
    async with transaction(context.services.session_factory) as session:
        found = await service.duty_with_names(session, duty_id=ids[0])
        if found is None:
            await query.answer(_("This button is no longer valid."))
            return
        duty, name, post, shift, _area = found
        mine = duty.person_id == person_id and person_id is not None
        if (action in ("wo", "wt") and not mine) or (
                action in ("wy", "wn") and (duty.swap_offered_to_id is None
                                            or duty.swap_offered_to_id != person_id)):
            await refuse(update, context)
            return

        def what(t: Translate) -> str:
            return duty_words(t, shift=shift, post=post, starts_at=duty.starts_at,
                              ends_at=duty.ends_at, tz=tz)

        if action == "wo":
            if not service.swappable(duty, now):
                await query.answer(_(REFUSALS["started"]), show_alert=True)
                return
            mates = [(i, n) for i, n in await service.team_members(session,
                                                                   team_id=duty.team_id)
                     if i != duty.person_id][:20]
            await query.answer()
            rows = [[button(n, "wt", duty.id, i) for i, n in mates[k:k + 2]]
                    for k in range(0, len(mates), 2)]
            await query.edit_message_text(_("Who should take your shift {what}?").format(
                what=what(_)), reply_markup=markup(rows))
            return
        try:
            if action == "wt" and len(ids) == 2:
                await service.offer_swap(session, duty=duty, by_person_id=person_id,
                                         to_person_id=ids[1], now=now)
                teammate = await session.get_one(Person, ids[1])
                await _tell(session, teammate, "patrol_swap_offer", duty, lambda t: OutgoingMessage(
                    text=t("🔄 {name} asks if you can take their patrol shift: {what}. Can "
                           "you?").format(name=name, what=what(t)),
                    buttons=(((t(TAKE_IT), cb.data("wy", duty.id)),
                              (t(CANNOT), cb.data("wn", duty.id))),)), language)
                text = _("I asked {name}. I will tell you their answer.").format(
                    name=teammate.name)
            elif action == "wy":
                previous = await session.get_one(Person, await service.accept_swap(
                    session, duty=duty, person_id=person_id, now=now, config=config(context)))
                taker = await session.get_one(Person, duty.person_id)
                await _tell(session, previous, "patrol_swap_done", duty,
                            lambda t: OutgoingMessage(text=t(
                                "✅ {name} takes over your shift {what}. Thank you both!"
                            ).format(name=taker.name, what=what(t))), language)
                for leader in await team_leaders(session, duty.team_id):
                    if leader.id not in (previous.id, taker.id):
                        await _tell(session, leader, "patrol_swap_leader", duty,
                                    lambda t: OutgoingMessage(text=t(
                                        "🔄 Shift swap: {taker} takes over from {giver}: "
                                        "{what}.").format(taker=taker.name, giver=previous.name,
                                                          what=what(t))), language)
                text = _("✅ Thank you! This shift is yours now: {what}.").format(what=what(_))
            elif action == "wn":
                await service.decline_swap(session, duty=duty, person_id=person_id)
                giver = await session.get_one(Person, duty.person_id)
                decliner = (await session.get_one(Person, person_id)).name
                await _tell(session, giver, "patrol_swap_declined", duty,
                            lambda t: OutgoingMessage(text=t(
                                "{name} cannot take your shift {what}. You can ask someone "
                                "else with /duty.").format(name=decliner, what=what(t))),
                            language)
                text = _("All right, thank you for answering.")
            else:
                await query.answer(_("This button is no longer valid."))
                return
        except service.PatrolError as exc:
            await query.answer(_(REFUSALS.get(exc.reason, N_("This button is no longer valid."))),
                               show_alert=True)
            return
    wake(context)
    await query.answer()
    await query.edit_message_text(text)
