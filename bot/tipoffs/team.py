"""The team's side: the card's buttons (claim, resolve, refer, reject, reassign) and the
typed note that completes resolve and reject. Every press is checked with `can`."""

from __future__ import annotations

import html
import logging

from telegram import ForceReply, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.auth import Permission, can, directory_scope
from bot.context import BotContext
from bot.db import transaction
from bot.handler_utils import RepliesToPrompt
from bot.i18n import Translate
from bot.tipoffs import callbacks as cb
from bot.tipoffs import keyboards, render, service
from bot.tipoffs.intake import config, current_time, wake
from bot.tipoffs.models import OPEN_STATUSES, TipOffStatus

logger = logging.getLogger(__name__)

PROMPT_MARK = "✍️"
NOTE_LIMIT = 500


REPLIES_TO_PROMPT = RepliesToPrompt(PROMPT_MARK, name="replies_to_tipoff_prompt")


def _allowed(context: BotContext, view: service.TipOffView) -> bool:
    return can(context.actor, Permission.HANDLE_TIPOFF, team_id=view.team_id or -1,
               area_path=view.scope_path)


def _staff_scope(context: BotContext) -> str | None:
    """Staff pass reports only to teams inside their own scope (admins: anywhere)."""
    scope = directory_scope(context.actor)
    return None if scope == "/" else scope


async def _edit_card(message: Message | None, facts: render.CardFacts | None,
                     context: BotContext) -> None:
    """Show the report as it stands now on the pressed card (skip no-op edits)."""
    if not isinstance(message, Message) or facts is None:
        return
    _ = context._
    text = render.card_text(facts, _, context.services.settings.tz)
    buttons = render.card_buttons(facts, _)
    if message.text == text:
        return
    try:
        await message.edit_text(text, reply_markup=keyboards.inline(buttons) if buttons else None)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


async def _update_card(context: BotContext, chat_id: int, message_id: int,
                       facts: render.CardFacts) -> None:
    """The card a note was about, as it stands now (closed: no buttons left)."""
    _ = context._
    buttons = render.card_buttons(facts, _)
    try:
        await context.bot.edit_message_text(
            render.card_text(facts, _, context.services.settings.tz), chat_id=chat_id,
            message_id=message_id, reply_markup=keyboards.inline(buttons) if buttons else None)
    except BadRequest as exc:  # gone, or already showing this
        logger.info("Could not update a tip-off card: %s", exc, extra={"tipoff_id":
                                                                      facts.tipoff_id})


def _outcome_answer(result: service.ActionResult, _: Translate) -> str | None:
    if result.outcome is service.Outcome.TAKEN:
        return _("Someone else was quicker: {name} has already claimed this report.").format(
            name=result.by_name or _("a team member"))
    if result.outcome is service.Outcome.CLOSED:
        return _("This report is already closed.")
    if result.outcome is service.Outcome.MISSING:
        return _("This button is no longer valid.")
    return None


async def on_card_button(update: Update, context: BotContext) -> None:
    """Claim at once; refer at once; resolve and reject ask for a note; reassign asks where."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    _ = context._
    press = cb.parse_card(query.data)
    actor = context.actor
    if press is None or actor is None:
        await query.answer(_("This button is no longer valid."))
        return
    settings = context.services.settings
    now = current_time(context)
    async with transaction(context.services.session_factory) as session:
        view = await service.load_view(session, tipoff_id=press.tipoff_id)
        if view is None:
            await query.answer(_("This button is no longer valid."))
            return
        if actor.person_id is None or not _allowed(context, view):
            await query.answer(_("Sorry, only the team this report was sent to can act on it."),
                               show_alert=True)
            return
        if view.status not in OPEN_STATUSES:
            await query.answer(_("This report is already closed."))
            facts = await service.card_facts(session, tipoff_id=view.id)
            await _edit_card(query.message, facts, context)  # type: ignore[arg-type]
            return
        action = press.action
        if action is cb.CardAction.CLAIM:
            result = await service.claim(session, tipoff_id=view.id, person_id=actor.person_id,
                                         now=now, default_language=settings.default_language)
        elif action is cb.CardAction.REFER:
            result = await service.close(session, tipoff_id=view.id, person_id=actor.person_id,
                                         status=TipOffStatus.REFERRED, note=None, now=now,
                                         default_language=settings.default_language)
        elif action is cb.CardAction.REASSIGN_TO:
            assert press.team_id is not None
            if not await service.may_reassign_to(session, tipoff_id=view.id,
                                                 team_id=press.team_id,
                                                 within=_staff_scope(context)):
                await query.answer(_("This button is no longer valid."))
                return
            result = await service.reassign(session, tipoff_id=view.id, team_id=press.team_id,
                                            person_id=actor.person_id, now=now,
                                            default_language=settings.default_language,
                                            tz=settings.tz)
        elif action is cb.CardAction.REASSIGN:
            choices = await service.reassign_choices(session, tipoff_id=view.id,
                                                     within=_staff_scope(context))
            result = None
        else:  # resolve / reject: ask for the note first
            result = None
            choices = []
    message = query.message if isinstance(query.message, Message) else None
    if action is cb.CardAction.REASSIGN:
        await query.answer()
        if not choices:
            await query.answer(_("There is no other team to pass it to."), show_alert=True)
            return
        if message is not None:
            await message.reply_text(
                _("Which team should take over {reference}?").format(reference=view.reference),
                reply_markup=keyboards.teams(view.id, choices))
        return
    if result is None:
        await _ask_note(update, context, view, action)
        return
    refusal = _outcome_answer(result, _)
    await query.answer(refusal or _("Done."))
    if action is cb.CardAction.REASSIGN_TO and result.outcome is service.Outcome.DONE:
        if message is not None:
            await message.edit_text(_("Passed {reference} to {team}.").format(
                reference=view.reference, team=result.facts.team_name if result.facts else ""))
    else:
        await _edit_card(message, result.facts, context)
    if result.outcome is service.Outcome.DONE:
        wake(context)
        logger.info("Tip-off %s: %s", view.reference, action.name.lower(),
                    extra={"tipoff_id": view.id})


async def _ask_note(update: Update, context: BotContext, view: service.TipOffView,
                    action: cb.CardAction) -> None:
    query = update.callback_query
    assert query is not None and context.actor is not None
    _ = context._
    await query.answer()
    if not isinstance(query.message, Message):
        return
    who = f'<a href="tg://user?id={context.actor.telegram_id}">' \
          f"{html.escape(context.actor.name)}</a>"
    if action is cb.CardAction.RESOLVE:
        text = _("{mark} {who}, please reply to this message with a short note on how "
                 "{reference} was dealt with.")
    else:
        text = _("{mark} {who}, please reply to this message with the reason for closing "
                 "{reference} (for example: a duplicate, or nothing we can act on).")
    prompt = await query.message.reply_text(
        text.format(mark=PROMPT_MARK, who=who, reference=view.reference),
        parse_mode=ParseMode.HTML, reply_markup=ForceReply(selective=True))
    async with transaction(context.services.session_factory) as session:
        await service.save_prompt(session, chat_id=prompt.chat_id, message_id=prompt.message_id,
                                  tipoff_id=view.id, action=action.value,
                                  person_id=context.actor.person_id or 0,
                                  now=current_time(context),
                                  card_message_id=query.message.message_id)


async def on_note(update: Update, context: BotContext) -> None:
    """The reply to a prompt: resolve or reject with that note."""
    message = update.effective_message
    actor = context.actor
    if message is None or message.reply_to_message is None or actor is None:
        return
    _ = context._
    note = (message.text or "").strip()[:NOTE_LIMIT]
    settings = context.services.settings
    async with transaction(context.services.session_factory) as session:
        row = await service.find_prompt(session, chat_id=message.chat_id,
                                        message_id=message.reply_to_message.message_id)
        if row is None:
            await message.reply_text(_("This request is no longer open."))
            return
        prompt = service.read_prompt(row)
        if prompt.person_id != actor.person_id:
            await message.reply_text(_("This question was for the person who pressed the "
                                       "button."))
            return
        view = await service.load_view(session, tipoff_id=prompt.tipoff_id)
        if view is None or not _allowed(context, view):
            await message.reply_text(_("Sorry, only the team this report was sent to can act "
                                       "on it."))
            return
        await session.delete(row)
        status = (TipOffStatus.RESOLVED if prompt.action == cb.CardAction.RESOLVE.value
                  else TipOffStatus.REJECTED)
        result = await service.close(session, tipoff_id=view.id, person_id=actor.person_id or 0,
                                     status=status, note=note or None,
                                     now=current_time(context),
                                     default_language=settings.default_language)
    refusal = _outcome_answer(result, _)
    if refusal:
        await message.reply_text(refusal)
        return
    wake(context)
    if prompt.card_message_id is not None and result.facts is not None:
        await _update_card(context, message.chat_id, prompt.card_message_id, result.facts)
    done = (_("Thank you. {reference} is marked as resolved and the reporter has been told.")
            if status is TipOffStatus.RESOLVED else
            _("Thank you. {reference} is closed and the reporter has been told."))
    await message.reply_text(done.format(reference=view.reference))
    logger.info("Tip-off %s: %s", view.reference, status.value, extra={"tipoff_id": view.id})


def max_note() -> int:
    return NOTE_LIMIT


__all__ = ["REPLIES_TO_PROMPT", "config", "on_card_button", "on_note"]
