"""The reporter's 1–5 press on "对处理结果满意吗？" and the optional comment that follows.

The press is checked against the report's reporter (callback data is forgeable) and counted
once; the comment is a reply to our prompt in the reporter's own private chat.
"""

from __future__ import annotations

from telegram import ForceReply, Message, Update
from telegram.error import BadRequest
from telegram.ext import filters

from bot.context import BotContext
from bot.db import transaction, utcnow
from bot.handler_utils import parsed_press
from bot.tipoffs import ratings

COMMENT_MARK = "💬"


class _RepliesToCommentPrompt(filters.MessageFilter):
    """A private text reply to our "reply with a comment" message."""

    def filter(self, message: Message) -> bool:
        target = message.reply_to_message
        return (message.chat.type == "private" and message.text is not None
                and target is not None and target.from_user is not None
                and target.from_user.is_bot
                and (target.text or "").startswith(COMMENT_MARK))


REPLIES_TO_COMMENT_PROMPT = _RepliesToCommentPrompt(name="replies_to_rating_comment_prompt")


async def on_press(update: Update, context: BotContext) -> None:
    pressed = await parsed_press(update, context, ratings.parse)
    if pressed is None:
        return
    query, press = pressed
    _ = context._
    async with transaction(context.services.session_factory) as session:
        rated = await ratings.rate(session, rating_id=press.rating_id, score=press.score,
                                   telegram_id=query.from_user.id, now=utcnow())
    if rated.outcome is ratings.Outcome.NOT_YOURS:
        await query.answer(_("This question is for the person who sent the report. "
                             "Nothing was changed."), show_alert=True)
        return
    if rated.outcome is ratings.Outcome.ALREADY:
        await query.answer(_("You have already rated this report. Thank you!"))
        return
    await query.answer(_("Thank you!"))
    message = query.message if isinstance(query.message, Message) else None
    if message is None:
        return
    try:
        await message.edit_text(_("Thank you for rating {reference}: {score} out of 5.").format(
            reference=rated.reference, score=press.score))
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise
    prompt = await message.reply_text(
        COMMENT_MARK + " " + _("If you like, reply to this message with a few words on how it "
                               "was handled. Your name is not passed on."),
        reply_markup=ForceReply(selective=True))
    async with transaction(context.services.session_factory) as session:
        await ratings.await_comment(session, rating_id=press.rating_id,
                                    message_id=prompt.message_id)


async def on_comment(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None or message.reply_to_message is None or message.from_user is None:
        return
    _ = context._
    text = (message.text or "").strip()
    if not text:
        await message.reply_text(_("Please write your comment as text."))
        return
    async with transaction(context.services.session_factory) as session:
        kept = await ratings.add_comment(session, message_id=message.reply_to_message.message_id,
                                         telegram_id=message.from_user.id, text=text)
    if not kept:
        await message.reply_text(_("This request is no longer open."))
        return
    await message.reply_text(_("Thank you, your comment has been passed on without your "
                               "name."))
