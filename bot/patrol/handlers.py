"""Patrol duty's wiring: commands, the one button router, replies to prompts, pins, the
post sign's deep link, and the scan that drives every patrol timer from the database.

The scan (every 2 s) plans duties from the rotation (at most once a minute), moves due
duties on (reminder, nudge, leader, sign-out) and runs the evening all-clear; its clock
is `services.extras["patrol.clock"]` (tests move it forward).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.context import BotContext
from bot.db import transaction
from bot.patrol import callbacks as cb
from bot.patrol import (
    chase,
    daily,
    evening,
    leader,
    member,
    posts,
    prompts,
    rota,
    service,
    shifts,
    swap,
)
from bot.patrol.common import clock, config, wake

logger = logging.getLogger(__name__)

SCAN_JOB = "patrol-scan"
PLAN_EVERY = timedelta(minutes=1)
EVENING_EVERY = timedelta(seconds=20)
STATE_KEY = "patrol.scan"


async def on_button(update: Update, context: BotContext) -> None:
    """Every `pt:` press; each surface checks who may press it."""
    query = update.callback_query
    assert query is not None and query.data is not None
    press = cb.parse(query.data)
    if press is None or not press.ids:
        await query.answer(context._("This button is no longer valid."))
        return
    action, first = press.action, press.ids[0]
    if action in ("cv", "cb", "ex") and (action != "cb" or len(press.ids) == 2):
        await leader.missing_pressed(update, context, action, first, press.id(1))
    elif action in ("ok", "is"):
        await evening.answer_pressed(update, context, action, first)
    elif action == "out":
        await member.sign_out_pressed(update, context, first)
    elif action == "fs":
        await member.found_something_pressed(update, context, first)
    elif action in ("ps", "pq", "pl", "pr", "pn"):
        await posts.post_pressed(update, context, action, press.ids)
    elif action in ("rs", "rp", "ri", "re", "ry", "rn"):
        await rota.rota_pressed(update, context, action, press.ids)
    elif action in ("sa", "sp", "sh", "sd", "sf", "sn", "st", "sx", "sy"):
        await shifts.shift_pressed(update, context, action, press.ids)
    elif action == "et":
        await shifts.evening_pressed(update, context, first)
    elif action in ("wo", "wt", "wy", "wn"):
        await swap.swap_pressed(update, context, action, press.ids)
    else:
        await query.answer(context._("This button is no longer valid."))


async def on_prompt_reply(update: Update, context: BotContext) -> None:
    """A reply to one of our questions: a post's name, its pin, the evening note."""
    message = update.effective_message
    if message is None:
        return
    prompt = await prompts.find_prompt(context, message)
    if prompt is None:
        await message.reply_text(context._("This question is no longer open."))
        return
    handle = {prompts.POST_NAME: posts.name_given, prompts.POST_PIN: posts.pin_given,
              prompts.DAY_NOTE: evening.note_given,
              prompts.ROSTER_FILE: rota.roster_file_given,
              prompts.SHIFT_NEW: partial(shifts.shift_reply, action=prompts.SHIFT_NEW),
              prompts.SHIFT_NAME: partial(shifts.shift_reply, action=prompts.SHIFT_NAME),
              prompts.SHIFT_TIMES: partial(shifts.shift_reply, action=prompts.SHIFT_TIMES),
              prompts.EVENING_TIMES: shifts.evening_reply}[prompt.action]
    if await handle(message, context, prompt.target_id):
        await prompts.close_prompt(context, prompt)


class _State:
    def __init__(self) -> None:
        self.planned_at: datetime | None = None
        self.evening_at: datetime | None = None


async def scan(context: BotContext) -> None:
    """Plan, chase, the evening: with nothing due, two indexed reads."""
    services = context.services
    state: _State = context.application.bot_data.setdefault(STATE_KEY, _State())
    now = clock(context)
    tz = services.settings.tz
    settings = config(context)
    language = services.settings.default_language
    sent = False
    if state.planned_at is None or not (timedelta(0) <= now - state.planned_at < PLAN_EVERY):
        async with transaction(services.session_factory) as session:
            await service.plan_duties(session, now=now, tz=tz, config=settings)
        state.planned_at = now
    async with services.session_factory() as session:
        due = list(await session.scalars(chase.due_query(now)))
    if due:
        async with transaction(services.session_factory) as session:
            result = await chase.run_chase(session, now=now, tz=tz, config=settings,
                                           default_language=language)
        sent = result.sent
    if state.evening_at is None or not (timedelta(0) <= now - state.evening_at < EVENING_EVERY):
        async with transaction(services.session_factory) as session:
            evening_result = await daily.run_evening(session, now=now, tz=tz, config=settings,
                                                     default_language=language)
        state.evening_at = now
        sent = sent or evening_result.sent
    if sent:
        wake(context)


def deep_link() -> BaseHandler[Any, Any, Any]:
    """`/start post_<token>`: registered ahead of /start itself (bot/app.py)."""
    return CommandHandler("start", member.scanned,
                          filters=filters.Regex(r"^/start(@\w+)?\s+post_[A-Za-z0-9_-]{1,40}$"))


def handlers(prompt_index: prompts.PromptIndex) -> list[BaseHandler[Any, Any, Any]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("duty", member.duty_command),
        CommandHandler("today", leader.today_command),
        CommandHandler("posts", posts.posts_command),
        CommandHandler("shifts", rota.shifts_command),
        CallbackQueryHandler(on_button, pattern=cb.PATTERN),
        MessageHandler(private & prompt_index.filter()
                       & (filters.TEXT | filters.LOCATION | filters.PHOTO | filters.Document.ALL)
                       & ~filters.COMMAND,
                       on_prompt_reply),
        MessageHandler(private & filters.LOCATION & filters.UpdateType.MESSAGE, member.location),
    ]


def install(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Register the handlers, load the open prompts at start, schedule the scan."""
    prompt_index = prompts.PromptIndex()
    application.bot_data[prompts.INDEX_KEY] = prompt_index
    application.add_handlers(handlers(prompt_index))

    async def load_prompts(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        async with app.bot_data["services"].session_factory() as session:
            prompt_index.keys = await prompts.open_prompt_keys(session)

    application.bot_data["services"].on_start.append(load_prompts)
    if application.job_queue is not None:
        application.job_queue.run_repeating(scan, interval=service.PatrolConfig().scan_interval_s,
                                            first=1.0, name=SCAN_JOB)
    else:  # pragma: no cover - the job-queue extra is a dependency
        logger.warning("No job queue: patrol reminders will not run")

