"""/alert (compose → confirm → send), the acknowledge button, the sender's live status
message, the all-clear, /sensitive, and the periodic scan that re-notifies and escalates.

Timers come from the database (`Alert.next_renotify_at`), read by a repeating job; the
job's clock is `services.extras["alerts.clock"]` (tests move it forward).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.alerts import callbacks as cb
from bot.alerts import drafts, keyboards, render, service
from bot.alerts.drafts import AlertDraft
from bot.alerts.models import AlertStep, Severity
from bot.auth import Permission, Standing, can
from bot.context import BotContext
from bot.db import transaction, utcnow
from bot.directory.audience import count_audience
from bot.i18n import Translate, people_and_groups, translator
from bot.persistence import InstanceSafeConversationHandler

logger = logging.getLogger(__name__)

SCAN_JOB = "alert-scan"
DRAFTS_KEY = "alerts.drafts"
CLOCK_KEY = "alerts.clock"
CONFIG_KEY = "alerts.config"
BOARD_KEY = "alerts.board"


class DraftIndex:
    """Telegram ids of people with an /alert draft: a mirror of `alert_drafts` for the sync
    filter that lets a message after a restart continue the draft (and no one else's)."""

    def __init__(self) -> None:
        self.ids: set[int] = set()

    def filter(self) -> filters.MessageFilter:
        index = self

        class _HasAlertDraft(filters.MessageFilter):
            def filter(self, message: Message) -> bool:
                return message.from_user is not None and message.from_user.id in index.ids

        return _HasAlertDraft(name="has_alert_draft")


def clock(context: BotContext) -> datetime:
    now: Callable[[], datetime] = context.services.extras.get(CLOCK_KEY, utcnow)
    return now()


def config(context: BotContext) -> service.AlertConfig:
    return context.services.extras.setdefault(CONFIG_KEY, service.AlertConfig())


def wake(context: BotContext) -> None:
    if context.services.dispatcher is not None:
        context.services.dispatcher.wake()


def _index(context: BotContext) -> DraftIndex:
    return context.application.bot_data[DRAFTS_KEY]


async def _banner(context: BotContext) -> str:
    actor = context.actor
    async with context.services.session_factory() as session:
        period = await service.active_period(
            session, area_path=actor.area_path if actor else None, now=clock(context))
    if period is None:
        return ""
    return render.banner(context._, renotify_minutes=period.renotify_minutes)


# -- the draft, kept in the database --------------------------------------------------------

async def _save(context: BotContext, telegram_id: int, draft: AlertDraft,
                step: AlertStep) -> AlertStep:
    """Store the draft as now waiting for `step`; returns `step` for the conversation."""
    draft.step = step
    async with transaction(context.services.session_factory) as session:
        await drafts.save_draft(session, telegram_id=telegram_id, draft=draft,
                                now=clock(context))
    _index(context).ids.add(telegram_id)
    return step


async def _forget(context: BotContext, telegram_id: int) -> None:
    async with transaction(context.services.session_factory) as session:
        await drafts.delete_draft(session, telegram_id=telegram_id)
    _index(context).ids.discard(telegram_id)


async def _current_draft(update: Update, context: BotContext) -> AlertDraft | None:
    """The sender's draft; None, after saying so kindly, when there is none or it expired."""
    user = update.effective_user
    assert user is not None
    _ = context._
    query = update.callback_query
    async with context.services.session_factory() as session:
        draft = await drafts.load_draft(session, telegram_id=user.id)
    if draft is None:
        _index(context).ids.discard(user.id)
        if query is not None:
            await query.answer(_("This button is no longer valid. Send /alert to start again."))
        elif update.effective_message is not None:
            await update.effective_message.reply_text(
                _("There is no alert being written now. Send /alert to start one."))
        return None
    if draft.expired(clock(context)):
        await _forget(context, user.id)
        text = _("This alert waited more than 15 minutes, so it was put away. Nothing was "
                 "sent. Send /alert to start again.")
        if query is not None:
            await query.answer()
            try:
                await query.edit_message_text(text)
            except BadRequest:  # too old to edit: say it as a new message
                if query.message is not None:
                    await context.bot.send_message(query.message.chat.id, text)
        elif update.effective_message is not None:
            await update.effective_message.reply_text(text)
        return None
    return draft


# -- composing -----------------------------------------------------------------------------

async def start(update: Update, context: BotContext) -> AlertStep | int:
    """/alert: check rights, show the banner and the audience choices."""
    message = update.effective_message
    user = update.effective_user
    assert message is not None and user is not None
    _ = context._
    if not can(context.actor, Permission.SEND_ALERT):
        await message.reply_text(_("Sorry, only community staff and team leaders can send "
                                   "an emergency alert."))
        return ConversationHandler.END
    assert context.actor is not None
    async with context.services.session_factory() as session:
        options = await service.audience_options(session, context.actor)
    if options.empty:
        await message.reply_text(_("There is no team or area you can alert yet."))
        return ConversationHandler.END
    draft = AlertDraft(section=next(k for k in keyboards.SECTION_LABELS if options.pool(k)))
    step = await _save(context, user.id, draft, AlertStep.AWAITING_AUDIENCE)
    text, markup = await _audience_view(context, draft, options)
    await message.reply_text(text, reply_markup=markup)
    return step


async def _audience_view(context: BotContext, draft: AlertDraft,
                         options: service.AudienceOptions) -> tuple[str, Any]:
    """The picker: banner, question, what the choice reaches so far; the page of toggles."""
    _ = context._
    text = await _banner(context) + _("🚨 New emergency alert. Who should get it? Tap to "
                                      "choose, then press Next.")
    if draft.chosen:
        async with context.services.session_factory() as session:
            count = await count_audience(session, draft.spec())
        text += "\n\n" + _("So far this reaches {audience}.").format(
            audience=people_and_groups(_, count.people, count.groups))
    return text, keyboards.audience(_, options, draft.chosen, section=draft.section,
                                    page=draft.page)


def _fits(press: cb.ComposePress, step: AlertStep) -> bool:
    """Whether a press belongs to the step the draft waits for (cancel always does)."""
    if press.action == "x":
        return True
    if step is AlertStep.AWAITING_AUDIENCE:
        return (press.toggle_kind is not None or press.section is not None
                or press.page is not None or press.action == "ok")
    if step is AlertStep.AWAITING_SEVERITY:
        return press.severity is not None
    if step is AlertStep.AWAITING_ACK_CHOICE:
        return press.ack_required is not None
    if step is AlertStep.AWAITING_CONFIRM:
        return press.action == "go"
    return False


async def on_compose_button(update: Update, context: BotContext) -> AlertStep | int:
    """Every button of the compose steps: audience toggles, severity, ack, send, cancel.
    Also the way back in after a restart: the draft's stored step says where we are."""
    query = update.callback_query
    user = update.effective_user
    assert query is not None and query.data is not None and user is not None
    _ = context._
    press = cb.parse_compose(query.data)
    if press is None:
        await query.answer(_("This button is no longer valid."))
        return ConversationHandler.END
    draft = await _current_draft(update, context)
    if draft is None:
        return ConversationHandler.END
    if not _fits(press, draft.step):  # an older message's button, or forged
        await query.answer(_("This button is no longer valid."))
        return draft.step
    if press.action == "ok" and not draft.chosen:
        await query.answer(_("Please choose at least one."))
        return draft.step
    await query.answer()
    if press.action == "x":
        return await _cancelled(update, context)
    if draft.step is AlertStep.AWAITING_AUDIENCE and press.action != "ok":
        async with context.services.session_factory() as session:
            options = await service.audience_options(session, context.actor) \
                if context.actor else service.AudienceOptions((), (), ())
        if press.toggle_kind is not None:
            if not options.allows(press.toggle_kind, press.toggle_id or 0):
                return draft.step  # forged: not one of the offered choices
            draft.chosen ^= {(press.toggle_kind, press.toggle_id or 0)}
        elif press.section is not None:
            if not options.pool(press.section):
                return draft.step
            draft.section, draft.page = press.section, 0
        else:
            draft.page = press.page or 0
        step = await _save(context, user.id, draft, AlertStep.AWAITING_AUDIENCE)
        text, markup = await _audience_view(context, draft, options)
        try:
            await query.edit_message_text(text, reply_markup=markup)
        except BadRequest as exc:  # a page that did not change
            if "not modified" not in str(exc).lower():
                raise
        return step
    if press.action == "ok":
        step = await _save(context, user.id, draft, AlertStep.AWAITING_TEXT)
        await query.edit_message_text(_("✍️ Now write the alert (a photo with a caption "
                                        "works too)."))
        return step
    if press.severity is not None:
        draft.severity = Severity.WARNING if press.severity == "w" else Severity.EMERGENCY
        step = await _save(context, user.id, draft, AlertStep.AWAITING_ACK_CHOICE)
        await query.edit_message_text(_("Should people confirm with a “Received” button?"),
                                      reply_markup=keyboards.ack_choice(_))
        return step
    if press.ack_required is not None:
        draft.ack_required = press.ack_required
        step = await _save(context, user.id, draft, AlertStep.AWAITING_CONFIRM)
        await _ask_confirm(update, context, draft)
        return step
    return await _send(update, context, draft)  # "go", the only press left for the step


async def on_text(update: Update, context: BotContext) -> AlertStep | int:
    """Stores the alert's text (or photo and caption); asks for the severity. Also the way
    back in after a restart for someone with a draft."""
    message = update.effective_message
    user = update.effective_user
    assert message is not None and user is not None
    draft = await _current_draft(update, context)
    if draft is None:
        return ConversationHandler.END
    _ = context._
    if draft.step is not AlertStep.AWAITING_TEXT:
        await reask(update, context)
        return await _save(context, user.id, draft, draft.step)
    if message.photo:
        draft.photo = message.photo[-1].file_id
        draft.text = (message.caption or "").strip()
    else:
        draft.photo = None
        draft.text = (message.text or "").strip()
    if not draft.text:
        await message.reply_text(_("Please write a few words for the alert."))
        return await _save(context, user.id, draft, AlertStep.AWAITING_TEXT)
    limit = render.text_limit(_, photo=draft.photo is not None,
                              renotify_max=config(context).renotify_max)
    if len(draft.text) > limit:  # Telegram would refuse the preview or the copies
        if draft.photo is not None:
            refusal = _("With a photo, the alert's words can be at most {limit} characters "
                        "long, and yours are {length}. Please send the photo again with "
                        "shorter words.")
        else:
            refusal = _("An alert can be at most {limit} characters long, and yours is "
                        "{length}. Please send a shorter one.")
        await message.reply_text(refusal.format(limit=limit, length=len(draft.text)))
        return AlertStep.AWAITING_TEXT  # nothing stored: the draft still waits for its text
    step = await _save(context, user.id, draft, AlertStep.AWAITING_SEVERITY)
    await message.reply_text(_("How serious is it?"), reply_markup=keyboards.severity(_))
    return step


async def _ask_confirm(update: Update, context: BotContext, draft: AlertDraft) -> None:
    """Shows how many people and chats the alert reaches; waits for Send."""
    query = update.callback_query
    assert query is not None
    _ = context._
    async with context.services.session_factory() as session:
        count = await count_audience(session, draft.spec())
    text = render.preview_text(_, banner=await _banner(context), severity=draft.severity,
                               text=draft.text or "", people=count.people, groups=count.groups,
                               ack_required=draft.ack_required)
    await query.edit_message_text(text, reply_markup=keyboards.confirm(_))


async def _send(update: Update, context: BotContext, draft: AlertDraft) -> int:
    """Re-checks rights, writes the alert and its deliveries and drops the draft, in one
    transaction; the confirm message becomes the live status message."""
    query = update.callback_query
    user = update.effective_user
    assert query is not None and query.message is not None and user is not None
    _ = context._
    actor = context.actor
    spec = draft.spec()
    now = clock(context)
    async with transaction(context.services.session_factory) as session:
        await drafts.delete_draft(session, telegram_id=user.id)
        if actor is None or not await service.may_send(session, actor, spec):
            allowed = False
        else:
            allowed = True
            created = await service.create_alert(
                session, author=actor, spec=spec, text=draft.text or "", photo=draft.photo,
                severity=draft.severity, ack_required=draft.ack_required,
                config=config(context), default_language=context.services.settings.default_language,
                now=now)
            await service.set_status_message(
                session, alert_id=created.alert_id, chat_id=query.message.chat.id,
                message_id=query.message.message_id)
    _index(context).ids.discard(user.id)
    if not allowed:
        await query.edit_message_text(_("Sorry, you may not send an alert to this audience."))
        return ConversationHandler.END
    wake(context)
    await refresh_status(context.application, created.alert_id, force=True)
    return ConversationHandler.END


async def _cancelled(update: Update, context: BotContext) -> int:
    if update.effective_user is not None:
        await _forget(context, update.effective_user.id)
    text = context._("Alert cancelled. Nothing was sent.")
    if update.callback_query is not None:
        await update.callback_query.edit_message_text(text)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)
    return ConversationHandler.END


async def cancel(update: Update, context: BotContext) -> int:
    """/cancel during /alert (also after a restart, for someone with a draft)."""
    return await _cancelled(update, context)


async def reask(update: Update, context: BotContext) -> AlertStep | None:
    """Anything unexpected: re-ask kindly for the current step."""
    message = update.effective_message
    if message is not None:
        await message.reply_text(context._("Please use the buttons above, or send /cancel to "
                                           "stop."))
    return None


async def stale_compose(update: Update, context: BotContext) -> None:
    """A compose button that is not one (forged) while a draft is being written."""
    assert update.callback_query is not None
    await update.callback_query.answer(context._("This button is no longer valid. Send /alert "
                                                 "to start again."))


async def timed_out(update: object, context: BotContext) -> None:
    """The conversation's quarter of an hour passed: the draft goes too."""
    if isinstance(update, Update) and update.effective_user is not None:
        await _forget(context, update.effective_user.id)


# -- acknowledging -------------------------------------------------------------------------

async def on_ack(update: Update, context: BotContext) -> None:
    """“Received”: the presser acknowledges for themself, once; anything else is harmless."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _ = translator_for_presser(context)
    alert_id = cb.parse_ack(query.data)
    if alert_id is None:
        await query.answer(_("This button is no longer valid."))
        return
    person_id = context.actor.person_id if context.actor else None
    message = query.message
    chat_id = message.chat.id if message else 0
    async with transaction(context.services.session_factory) as session:
        ack = await service.acknowledge(session, alert_id=alert_id, person_id=person_id,
                                        chat_id=chat_id, now=clock(context))
    answers = {
        service.AckResult.RECORDED: _("Received, thank you! 🙏"),
        service.AckResult.ALREADY: _("Already received, thank you."),
        service.AckResult.CLOSED: _("This alert is over (all clear). Thank you."),
        service.AckResult.UNKNOWN: _("This button is no longer valid."),
        service.AckResult.NOT_RECIPIENT: _("This alert was not addressed to you, so there is "
                                           "nothing to confirm. Thank you."),
    }
    await query.answer(answers[ack.result])
    if (ack.at is not None and message is not None and message.chat.type == ChatType.PRIVATE
            and keyboards.asks_to_acknowledge(message.reply_markup)):
        # Their own copy: the button becomes a plain note of when they confirmed. In a
        # group the button stays, for everyone else.
        at = ack.at.astimezone(context.services.settings.tz).strftime("%H:%M")
        try:
            await query.edit_message_reply_markup(keyboards.acknowledged(_, alert_id, at))
        except BadRequest as exc:  # "not modified" (a double press) or too old to edit
            logger.info("Ack button left as it was: %s", exc, extra={"alert_id": alert_id})
        except TelegramError as exc:
            logger.warning("Could not mark the copy as received: %s", exc,
                           extra={"alert_id": alert_id})
    if ack.result is service.AckResult.RECORDED:
        await request_refresh(context.application, alert_id)


def translator_for_presser(context: BotContext) -> Translate:
    """In a group, answer a press in the presser's own language (the answer is private)."""
    lang = context.actor.language if context.actor else context.language
    return context.tr(lang)


# -- the live status message ---------------------------------------------------------------

@dataclass
class Board:
    """Per alert: the last text shown and when, so edits stay ~1/s and skip no-ops."""

    last_text: dict[int, str] = field(default_factory=dict)
    last_edit: dict[int, float] = field(default_factory=dict)
    scheduled: set[int] = field(default_factory=set)
    #: Alerts whose status message may still change without an acknowledgement (copies
    #: going out, a new reminder time); None until the first scan after a start.
    watch: set[int] | None = None


def _board(application: Application[Any, Any, Any, Any, Any, Any]) -> Board:
    return application.bot_data.setdefault(BOARD_KEY, Board())


async def request_refresh(application: Application[Any, Any, Any, Any, Any, Any],
                          alert_id: int) -> None:
    """Edit now if the last edit is over a second old, else once, a little later."""
    board = _board(application)
    services = application.bot_data["services"]
    interval = services.extras.get(CONFIG_KEY, service.AlertConfig()).status_edit_interval_s
    wait = board.last_edit.get(alert_id, 0.0) + interval - time.monotonic()
    if wait <= 0:
        await refresh_status(application, alert_id)
    elif alert_id not in board.scheduled and application.job_queue is not None:
        board.scheduled.add(alert_id)
        application.job_queue.run_once(_refresh_job, when=wait, data=alert_id,
                                       name=f"alert-status-{alert_id}")


async def _refresh_job(context: BotContext) -> None:
    assert context.job is not None
    alert_id = int(context.job.data)  # type: ignore[arg-type]
    _board(context.application).scheduled.discard(alert_id)
    await refresh_status(context.application, alert_id)


async def refresh_status(application: Application[Any, Any, Any, Any, Any, Any],
                         alert_id: int, *, force: bool = False) -> None:
    """Render the figures; edit the sender's status message if they changed."""
    services = application.bot_data["services"]
    async with services.session_factory() as session:
        alert = await service.get_alert(session, alert_id)
        figures = await service.figures(session, alert_id)
    if alert is None or figures is None or alert.status_message_id is None:
        return
    _ = translator(alert.language)
    text = render.status_text(_, figures, services.settings.tz)
    board = _board(application)
    if board.watch is not None:
        if figures.open and figures.pending:
            board.watch.add(alert_id)
        else:
            board.watch.discard(alert_id)
    if not force and board.last_text.get(alert_id) == text:
        return
    board.last_text[alert_id] = text
    board.last_edit[alert_id] = time.monotonic()
    try:
        await application.bot.edit_message_text(
            text, chat_id=alert.status_chat_id, message_id=alert.status_message_id,
            reply_markup=keyboards.status(_, alert_id, open_=figures.open,
                                          ack_required=figures.ack_required))
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            logger.warning("Could not update alert status: %s", exc,
                           extra={"alert_id": alert_id})
    except TelegramError as exc:
        logger.warning("Could not update alert status: %s", exc, extra={"alert_id": alert_id})


# -- who has not confirmed, all clear --------------------------------------------------------

async def on_manage_button(update: Update, context: BotContext) -> None:
    """The status message's buttons; each press re-checks who may see or close the alert."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _ = context._
    press = cb.parse_manage(query.data)
    if press is None:
        await query.answer(_("This button is no longer valid."))
        return
    async with context.services.session_factory() as session:
        alert = await service.get_alert(session, press.alert_id)
        allowed = alert is not None and await service.may_manage(session, context.actor, alert)
        missing = (await service.not_acknowledged(session, press.alert_id)
                   if allowed and press.action == "who" else [])
    if alert is None or not allowed:
        await query.answer(_("Sorry, this is not yours to manage."), show_alert=True)
        return
    if press.action == "who":
        await query.answer()
        if query.message is not None:
            await context.bot.send_message(
                query.message.chat.id,
                render.missing_text(_, alert_id=press.alert_id, groups=missing))
        return
    if alert.status.value != "open":
        await query.answer(_("This alert is already closed."))
        return
    if press.action == "end":
        await query.answer()
        if query.message is not None:
            await context.bot.send_message(
                query.message.chat.id,
                _("Send the all clear for alert #{id} to everyone who got it? Pins will be "
                  "removed and reminders stop.").format(id=alert.id),
                reply_markup=keyboards.confirm_all_clear(_, alert.id))
        return
    await query.answer()
    await close(context, alert.id, note=None)
    if query.message is not None:
        try:
            await query.edit_message_text(_("✅ All clear sent."))
        except BadRequest:
            pass


async def close(context: BotContext, alert_id: int, *, note: str | None) -> bool:
    """Close, unpin (direct calls), wake the dispatcher, show the final figures."""
    actor = context.actor
    async with transaction(context.services.session_factory) as session:
        closed = await service.close_alert(
            session, alert_id=alert_id, by_person_id=actor.person_id if actor else None,
            note=note, now=clock(context))
    if closed is None:
        return False
    wake(context)
    for chat_id, message_id in closed.pins:
        try:
            await context.bot.unpin_chat_message(chat_id, message_id=message_id)
        except TelegramError as exc:
            logger.warning("Could not unpin: %s", exc, extra={"chat_id": chat_id})
    await refresh_status(context.application, alert_id, force=True)
    return True


async def all_clear_command(update: Update, context: BotContext) -> None:
    """/allclear <alert id> [message]: close with a short message of one's own."""
    message = update.effective_message
    assert message is not None
    _ = context._
    args = context.args or []
    if not args or not args[0].isdigit():
        await message.reply_text(_("Please write: /allclear <alert number> [a short message]"))
        return
    alert_id = int(args[0])
    async with context.services.session_factory() as session:
        alert = await service.get_alert(session, alert_id)
        allowed = alert is not None and await service.may_manage(session, context.actor, alert)
    if alert is None and can(context.actor, Permission.SEND_ALERT):
        await message.reply_text(_("There is no alert number {id}. Please check the number "
                                   "in the alert's status message.").format(id=alert_id))
        return
    if not allowed:
        await message.reply_text(_("Sorry, this is not yours to manage."))
        return
    note = " ".join(args[1:]).strip() or None
    if await close(context, alert_id, note=note):
        await message.reply_text(_("✅ All clear sent."))
    else:
        await message.reply_text(_("This alert is already closed."))


# -- sensitive periods ---------------------------------------------------------------------

async def sensitive_command(update: Update, context: BotContext) -> None:
    """/sensitive: show the period in force; staff may start or end one."""
    message = update.effective_message
    assert message is not None
    _ = context._
    actor = context.actor
    if actor is None or actor.standing < Standing.STAFF:
        await message.reply_text(_("Sorry, only community staff can mark a sensitive period."))
        return
    async with context.services.session_factory() as session:
        period = await service.active_period(session, area_path=actor.area_path,
                                             now=clock(context))
        community = None
        if actor.area_path:
            from bot.directory.models import Area
            area_id = int(actor.area_path.strip("/").split("/")[-1])
            area = await session.get(Area, area_id)
            community = area.name if area else None
    tz = context.services.settings.tz
    if period is None:
        text = _("No sensitive period now. Reminders go out every {m} minutes.").format(
            m=config(context).renotify_minutes)
    else:
        text = _("🔴 Sensitive period until {end}: reminders every {m} minutes.").format(
            end=period.ends_at.astimezone(tz).strftime("%m-%d %H:%M"), m=period.renotify_minutes)
    await message.reply_text(text, reply_markup=keyboards.sensitive(
        _, community=community, everywhere=actor.is_admin,
        active_id=period.id if period else None))


async def on_sensitive_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _ = context._
    press = cb.parse_sensitive(query.data)
    actor = context.actor
    if press is None or actor is None or actor.standing < Standing.STAFF:
        await query.answer(_("Sorry, only community staff can mark a sensitive period."),
                           show_alert=True)
        return
    now = clock(context)
    async with transaction(context.services.session_factory) as session:
        if press.action == "off":
            from bot.alerts.models import SensitivePeriod
            period = await session.get(SensitivePeriod, press.value)
            path = await service.period_area_path(session, period) if period else None
            ok = period is not None and (
                actor.is_admin or (path is not None and can(actor, Permission.SEND_ALERT,
                                                            area_path=path)))
            ok = ok and await service.end_period(session, period_id=press.value, now=now,
                                                 actor_id=actor.person_id)
            text = _("The sensitive period has ended.") if ok else _(
                "This button is no longer valid.")
        elif press.value not in (24, 168) or (press.action == "all" and not actor.is_admin) or (
                press.action == "on" and not actor.area_path):
            ok, text = False, _("Sorry, you may not do that.")
        else:
            area_id = None if press.action == "all" else int(
                (actor.area_path or "").strip("/").split("/")[-1])
            await service.start_period(
                session, area_id=area_id, hours=press.value,
                renotify_minutes=config(context).sensitive_renotify_minutes,
                created_by_id=actor.person_id, now=now)
            ok, text = True, _("🔴 Marked as a sensitive period: reminders every {m} minutes."
                               ).format(m=config(context).sensitive_renotify_minutes)
    await query.answer()
    if ok:
        await query.edit_message_text(text)
    elif query.message is not None:
        await context.bot.send_message(query.message.chat.id, text)


# -- the scan ------------------------------------------------------------------------------

async def scan(context: BotContext) -> None:
    """The periodic job (every 2 s): re-notify and escalate due alerts, refresh status
    messages that still move. With nothing due it is one indexed read, no write lock."""
    services = context.services
    board = _board(context.application)
    now = clock(context)
    async with services.session_factory() as session:
        if board.watch is None:  # first scan since start: look at every open alert once
            board.watch = set(await service.open_alert_ids(session))
        due = await service.due_alert_ids(session, now=now)
    if due:
        async with transaction(services.session_factory) as session:
            result = await service.run_scan(
                session, now=now, default_language=services.settings.default_language)
        if result.changed:
            wake(context)
            board.watch.update(result.renotified, result.escalated)
    for alert_id in list(board.watch):
        await request_refresh(context.application, alert_id)


def handlers(drafting: DraftIndex) -> list[BaseHandler[Any, Any, Any]]:
    private = filters.ChatType.PRIVATE
    has_draft = drafting.filter()
    compose = CallbackQueryHandler(on_compose_button, pattern=cb.COMPOSE_PATTERN)
    writing = (filters.TEXT & ~filters.COMMAND) | filters.PHOTO
    catch_all = MessageHandler(filters.ALL & ~filters.COMMAND, reask)
    conversation = InstanceSafeConversationHandler(
        entry_points=[
            CommandHandler("alert", start, filters=private),
            # After a restart the conversation's place is gone but the draft is not: a
            # compose button, or text/photo from someone with a draft, continues it at the
            # stored step. Only people with a draft: private messages meant for other
            # features go on to them.
            CallbackQueryHandler(on_compose_button, pattern=r"^al:"),
            MessageHandler(private & has_draft & filters.UpdateType.MESSAGE & writing, on_text),
            CommandHandler("cancel", cancel, filters=private & has_draft),
        ],
        states={
            AlertStep.AWAITING_AUDIENCE: [compose, catch_all],
            AlertStep.AWAITING_TEXT: [MessageHandler(writing, on_text), compose, catch_all],
            AlertStep.AWAITING_SEVERITY: [compose, catch_all],
            AlertStep.AWAITING_ACK_CHOICE: [compose, catch_all],
            AlertStep.AWAITING_CONFIRM: [compose, catch_all],
            ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        conversation_timeout=drafts.DRAFT_TIMEOUT.total_seconds(),
        name="alert-compose",
        persistent=True,
    )
    return [
        conversation,
        CallbackQueryHandler(stale_compose, pattern=r"^al:"),
        CallbackQueryHandler(on_ack, pattern=r"^ak:"),
        CallbackQueryHandler(on_manage_button, pattern=r"^am:"),
        CallbackQueryHandler(on_sensitive_button, pattern=r"^sp:"),
        CommandHandler("allclear", all_clear_command),
        CommandHandler("sensitive", sensitive_command, filters=private),
    ]


def install(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Register the handlers, load who has a draft before polling, schedule the scan (its
    due times come from the database)."""
    drafting = DraftIndex()
    application.bot_data[DRAFTS_KEY] = drafting
    application.add_handlers(handlers(drafting))

    async def load_drafts(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        async with transaction(app.bot_data["services"].session_factory) as session:
            await drafts.delete_drafts_before(session, before=utcnow() - drafts.FORGOTTEN_AFTER)
            drafting.ids = await drafts.drafting_telegram_ids(session)

    application.bot_data["services"].on_start.append(load_drafts)
    if application.job_queue is not None:
        application.job_queue.run_repeating(scan, interval=service.AlertConfig().scan_interval_s,
                                            first=1.0, name=SCAN_JOB)
    else:  # pragma: no cover - the job-queue extra is a dependency
        logger.warning("No job queue: alert reminders will not run")
