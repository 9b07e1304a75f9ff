"""Both sides of a question: the resident asks (from free text or /ask) and chooses
whether to give their name; staff press Reply on the card and reply to the prompt.
Every press is checked again (callback data is forgeable)."""

from __future__ import annotations

import html
import logging
import re

from telegram import (
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.context import BotContext
from bot.db import transaction, utcnow
from bot.directory.people import register_person
from bot.handler_utils import RepliesToPrompt, identity_of, private_message
from bot.i18n import N_
from bot.questions import callbacks as cb
from bot.questions import service
from bot.questions.models import Question, QuestionStatus

logger = logging.getLogger(__name__)

PROMPT_MARK = "✏️"
ASK_COMMAND = re.compile(r"^/ask(@\w+)?\s*", re.IGNORECASE)


REPLIES_TO_PROMPT = RepliesToPrompt(PROMPT_MARK, name="replies_to_question_prompt")


def _wake(context: BotContext) -> None:
    if context.services.dispatcher is not None:
        context.services.dispatcher.wake()


def _anonymity(context: BotContext) -> InlineKeyboardMarkup:
    _ = context._
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(_("🙈 Ask without my name"), callback_data=cb.encode("anon", 1))],
        [InlineKeyboardButton(_("🙋 Ask with my name"), callback_data=cb.encode("anon", 0))],
    ])


ANONYMITY_QUESTION = N_("I will send your question to your community staff and bring you "
                        "their answer here. Should they see your name?")


async def ask_text(update: Update, context: BotContext, message: Message) -> None:
    """From the free-text choices: ask whether to give the name, on the same message (it
    quotes the question)."""
    await message.edit_text(context._(ANONYMITY_QUESTION), reply_markup=_anonymity(context))


async def ask_command(update: Update, context: BotContext) -> None:
    """`/ask <question>`: the same choice, quoting the command."""
    message = await private_message(update, context)
    if message is None:
        return
    _ = context._
    if not ASK_COMMAND.sub("", message.text or "").strip():
        await message.reply_text(_("Please write your question after /ask, for example: "
                                   "/ask When will the water be back on?"))
        return
    await message.reply_text(_(ANONYMITY_QUESTION), do_quote=True,
                             reply_markup=_anonymity(context))


async def pressed(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None:
        return
    press = cb.decode(query.data)
    if press is None:
        await query.answer(context._("This button is no longer valid."))
        return
    if press.what == "anon":
        await _send_question(update, context, anonymous=press.number == 1)
    else:
        await _ask_for_answer(update, context, press.number, named=press.what == "named")


async def _send_question(update: Update, context: BotContext, *, anonymous: bool) -> None:
    query = update.callback_query
    assert query is not None
    _ = context._
    message = query.message if isinstance(query.message, Message) else None
    quoted = message.reply_to_message if message is not None else None
    text = ASK_COMMAND.sub("", quoted.text or "").strip() if quoted is not None else ""
    if (message is None or quoted is None or not text or quoted.from_user is None
            or quoted.from_user.id != query.from_user.id
            or message.chat.type != ChatType.PRIVATE):
        await query.answer(_("This button is no longer valid."))
        return
    if len(text) > service.MAX_TEXT:
        await query.answer()
        await message.edit_text(_("That is a bit long for me. Please keep it under {limit} "
                                  "characters.").format(limit=service.MAX_TEXT))
        return
    settings = context.services.settings
    async with transaction(context.services.session_factory) as session:
        person = await register_person(session, identity=identity_of(query.from_user))
        community = await service.home_community(session, person_id=person.id)
        asked = None
        if community is not None:
            asked = await service.ask(session, person_id=person.id, community=community,
                                      text=text, anonymous=anonymous, now=utcnow(),
                                      default_language=settings.default_language)
    await query.answer()
    if asked is None:
        await message.edit_text(_("First, please tell me where you live: send /me and tap "
                                  "“🏠 Where I live”. Then ask again."))
        return
    _wake(context)
    logger.info("Question %s asked", asked.reference)
    await message.edit_text(_("✅ Sent to your community staff. Your reference is "
                              "{reference}. I will bring you their answer here; send /mytips "
                              "to see your questions and reports.")
                            .format(reference=asked.reference))


async def _ask_for_answer(update: Update, context: BotContext, question_id: int, *,
                          named: bool) -> None:
    """Reply on the card: check the presser, then ask for the answer as a reply."""
    query = update.callback_query
    assert query is not None
    _ = context._
    actor = context.actor
    async with context.services.session_factory() as session:
        question = await session.get(Question, question_id)
        allowed = (question is not None and actor is not None
                   and await service.may_answer(session, actor=actor, question=question))
    if question is None:
        await query.answer(_("This button is no longer valid."))
        return
    if not allowed or actor is None:
        await query.answer(_("Sorry, only the staff of this community can answer it."),
                           show_alert=True)
        return
    if question.status is QuestionStatus.ANSWERED:
        await query.answer(_("This question has already been answered."))
        return
    await query.answer()
    if not isinstance(query.message, Message):
        return
    who = f'<a href="tg://user?id={actor.telegram_id}">{html.escape(actor.name)}</a>'
    text = (_("{mark} {who}, please reply to this message with your answer to {reference}. "
              "The resident will see your name.") if named else
            _("{mark} {who}, please reply to this message with your answer to {reference}. "
              "The resident will not see who answered."))
    prompt = await query.message.reply_text(
        text.format(mark=PROMPT_MARK, who=who, reference=question.reference),
        parse_mode=ParseMode.HTML, reply_markup=ForceReply(selective=True))
    async with transaction(context.services.session_factory) as session:
        await service.save_prompt(session, chat_id=prompt.chat_id, message_id=prompt.message_id,
                                  question_id=question.id, person_id=actor.person_id or 0,
                                  named=named, card_message_id=query.message.message_id,
                                  now=utcnow())


async def on_answer(update: Update, context: BotContext) -> None:
    """The reply to a prompt: the answer, sent to the resident."""
    message = update.effective_message
    actor = context.actor
    if message is None or message.reply_to_message is None or actor is None:
        return
    _ = context._
    text = (message.text or "").strip()[:service.MAX_TEXT]
    settings = context.services.settings
    async with transaction(context.services.session_factory) as session:
        prompt = await service.find_prompt(session, chat_id=message.chat_id,
                                           message_id=message.reply_to_message.message_id)
        question = await session.get(Question, prompt.question_id) if prompt else None
        if prompt is None or question is None:
            await message.reply_text(_("This request is no longer open."))
            return
        if prompt.person_id != actor.person_id:
            await message.reply_text(_("This question was for the person who pressed the "
                                       "button."))
            return
        if not await service.may_answer(session, actor=actor, question=question):
            await message.reply_text(_("Sorry, only the staff of this community can answer "
                                       "it."))
            return
        if not text:
            await message.reply_text(_("Please write the answer as text."))
            return
        await session.delete(prompt)
        outcome = await service.answer(session, question=question, person_id=prompt.person_id,
                                       text=text, named=prompt.named, now=utcnow(),
                                       default_language=settings.default_language)
        facts = await service.card_facts(session, question=question)
    if outcome is service.Outcome.ALREADY:
        await message.reply_text(_("This question has already been answered."))
        return
    _wake(context)
    logger.info("Question %s answered", question.reference)
    if prompt.card_message_id is not None:
        try:
            await context.bot.edit_message_text(service.card_text(facts, _),
                                                chat_id=message.chat_id,
                                                message_id=prompt.card_message_id)
        except BadRequest as exc:  # gone, or already showing this
            logger.info("Could not update a question card: %s", exc)
    await message.reply_text(_("Thank you. Your answer to {reference} is on its way to the "
                               "resident.").format(reference=question.reference))


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    return [
        CommandHandler("ask", ask_command),
        CallbackQueryHandler(pressed, pattern=cb.PATTERN),
        MessageHandler(REPLIES_TO_PROMPT & filters.UpdateType.MESSAGE, on_answer),
    ]
