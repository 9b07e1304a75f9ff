"""The reporter's side: /report as a small state machine kept in the database, /mytips.

Why not a ConversationHandler: its state lives in memory (or in persistence that saves
every 60 s and forgets timeouts), and a draft must survive a restart. Here the draft row
*is* the state: every message from someone with a draft is routed to the step stored in
the row. A sync filter cannot read the database, so `DraftIndex` mirrors the set of
people with a draft in memory: loaded from the database at start, written through on
every change, so a message after a restart continues at the stored step.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from telegram import Message, ReplyKeyboardRemove, Update, User
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import filters

from bot.context import BotContext
from bot.db import transaction, utcnow
from bot.directory.models import Person
from bot.directory.people import register_person
from bot.handler_utils import identity_of, in_private, parsed_press
from bot.i18n import N_, Translate, ngettext
from bot.questions.service import QuestionStatus, my_questions
from bot.tipoffs import callbacks as cb
from bot.tipoffs import keyboards, media, render, service
from bot.tipoffs.categories import (
    CATEGORIES,
    Category,
    emergency_for,
    parse_category,
    urgent_words_in,
)
from bot.tipoffs.models import OPEN_STATUSES, DraftStep, TipOffDraft

logger = logging.getLogger(__name__)


class DraftIndex:
    """Telegram ids of people with a draft; a mirror of `tipoff_drafts` for sync filters."""

    def __init__(self) -> None:
        self.ids: set[int] = set()

    def filter(self) -> filters.MessageFilter:
        index = self

        class _HasDraft(filters.MessageFilter):
            def filter(self, message: Message) -> bool:
                return message.from_user is not None and message.from_user.id in index.ids

        return _HasDraft(name="has_tipoff_draft")


#: `services.extras[CLOCK_KEY]`: a `() -> datetime` (UTC) for the tip-off timers; tests set it.
CLOCK_KEY = "tipoffs.clock"


def current_time(context: BotContext) -> datetime:
    """The time the tip-off timers count in (escalation, reminders, claims, drafts)."""
    clock: Callable[[], datetime] = context.services.extras.get(CLOCK_KEY, utcnow)
    return clock()


def config(context: BotContext) -> service.TipoffConfig:
    return context.services.extras.setdefault("tipoff_config", service.TipoffConfig())


def index(context: BotContext) -> DraftIndex:
    return context.application.bot_data["tipoff_drafts"]


def wake(context: BotContext) -> None:
    if context.services.dispatcher is not None:
        context.services.dispatcher.wake()


# -- /report ------------------------------------------------------------------------
REFUSALS = {
    service.Refusal.BLOCKED: N_("Sorry, you cannot send reports at the moment. If you think "
                             "this is a mistake, please contact your community office."),
    service.Refusal.TOO_MANY: N_("You have sent several reports in the last hour. Please wait "
                              "a little before sending another one. If there is danger now, "
                              "call 110."),
}


async def report(update: Update, context: BotContext) -> None:
    """Start a draft (private chat only) and ask for the category."""
    message = update.effective_message
    if message is None or update.effective_user is None:
        return
    _ = context._
    if update.effective_chat is None or update.effective_chat.type != ChatType.PRIVATE:
        await message.reply_text(_("To keep you safe, please send reports to me in a private "
                                   "chat, not in the group."))
        return
    await _begin(context, update.effective_user, message)


async def _open_draft(context: BotContext, user: User, message: Message, step: DraftStep,
                      prefill: Callable[[TipOffDraft], None] | None) -> TipOffDraft | None:
    """A fresh draft at `step`, filled in by `prefill`; None (and the reason said) when the
    person may not report now (blocked, too many)."""
    now = current_time(context)
    async with transaction(context.services.session_factory) as session:
        person = await register_person(session, identity=identity_of(user))
        refusal = await service.may_report(session, person_id=person.id, now=now,
                                           config=config(context))
        if refusal is None:
            draft = await service.start_draft(session, person=person, now=now, step=step)
            if prefill is not None:
                prefill(draft)
    if refusal is not None:
        await message.reply_text(context._(REFUSALS[refusal]))
        return None
    index(context).ids.add(user.id)
    return draft


async def _begin(context: BotContext, user: User, message: Message,
                 prefill: Callable[[TipOffDraft], None] | None = None) -> None:
    """Open a fresh draft for `user` (unless refused), filled in by `prefill` if given, and
    ask for the category."""
    _ = context._
    if await _open_draft(context, user, message, DraftStep.AWAITING_CATEGORY, prefill) is None:
        return
    await message.reply_text(
        _("Thank you for looking out for your neighbours. What would you like to report? "
          "Please choose one. (Send /cancel at any time to stop.)"),
        reply_markup=keyboards.categories(_))


async def report_text(context: BotContext, user: User, message: Message, text: str) -> None:
    """A message sent outside any flow, to be reported: /report with it as the description
    (too long for one, it is asked for again)."""
    text = text.strip()

    def described(draft: TipOffDraft) -> None:
        draft.description = text

    await _begin(context, user, message,
                 prefill=described if text and len(text) <= config(context).max_text else None)


async def begin_fraud_report(context: BotContext, user: User, message: Message,
                             description: str) -> None:
    """A report that starts from a checked message (the scam check's “tell the community”):
    category fraud, the message as its description; then the usual anonymity choice and
    summary. Refused like /report (blocked, too many)."""

    def fraud(draft: TipOffDraft) -> None:
        draft.category = Category.FRAUD.value
        draft.description = description.strip()[: config(context).max_text]

    draft = await _open_draft(context, user, message, DraftStep.AWAITING_ANONYMITY, fraud)
    if draft is not None:
        await _ask_anonymity(message, context, draft, after_place=False)


async def begin_at_place(context: BotContext, user: User, message: Message, *,
                         area_id: int | None, address: str | None, latitude: float | None,
                         longitude: float | None) -> None:
    """A report in the reporter's name from a place already known (a patrol member at their
    post): the same categories (and urgent advice) as /report, but the place and the
    anonymity are set, so the summary follows the description at once."""

    def at_place(draft: TipOffDraft) -> None:
        draft.area_id, draft.address = area_id, address
        draft.latitude, draft.longitude = latitude, longitude
        draft.anonymous, draft.share_phone = False, False

    await _begin(context, user, message, prefill=at_place)


async def _start_from_button(update: Update, context: BotContext) -> None:
    """The "report a problem" button (from /start's menu): the same as /report."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    message = query.message
    if not isinstance(message, Message) or message.chat.type != ChatType.PRIVATE:
        return
    await _begin(context, query.from_user, message)


async def cancel(update: Update, context: BotContext) -> None:
    """Drop the draft."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    async with transaction(context.services.session_factory) as session:
        await service.discard_draft(session, telegram_id=user.id)
    index(context).ids.discard(user.id)
    await message.reply_text(context._("All right, I have put the report aside. Send /report "
                                       "whenever you want to start again."),
                             reply_markup=ReplyKeyboardRemove())


#: Additions share the per-person limit with new reports.
TOO_MANY_ADDITIONS = N_("You have sent a lot in the last hour. Please wait a little before "
                        "adding more. If there is danger now, call 110.")

ALREADY_CLOSED = N_("{reference} has already been dealt with, so I cannot add to it any more. "
                    "If something new has happened, please send /report.")


# -- the steps ------------------------------------------------------------------------
async def _ask_description(message: Message, _: Translate,
                           advice: str | None = None) -> None:
    lead = advice + "\n\n" if advice else ""
    await message.reply_text(lead + _("Please tell me briefly what you saw: what, where "
                                      "exactly, and when. You can type it or send a voice "
                                      "message."))


async def _ask_photos(message: Message, _: Translate, advice: str | None = None) -> None:
    lead = advice + "\n\n" if advice else ""
    await message.reply_text(lead + _("Do you have a photo? Send one or several now. When you are "
                               "finished, press “Done”. No photo? Press “No photo”."),
                             reply_markup=keyboards.photos_done(_, have_photos=False))


async def _ask_place(message: Message, context: BotContext, draft: TipOffDraft) -> None:
    _ = context._
    async with context.services.session_factory() as session:
        home = await session.get(Person, draft.person_id)
        choices = await service.place_choices(session,
                                              home_area_id=home.area_id if home else None)
    await message.reply_text(_("Where is it? Press the building below, type the address, or "
                               "send a location pin."),
                             reply_markup=keyboards.places_reply(_, choices))


async def _ask_anonymity(message: Message, context: BotContext, draft: TipOffDraft,
                         *, after_place: bool = True) -> None:
    _ = context._
    async with context.services.session_factory() as session:
        person = await session.get(Person, draft.person_id)
    await message.reply_text(
        (_("Got the place, thank you.") + "\n\n" if after_place else "")
        + _("Should the team see your name? If you stay anonymous, nobody handling the report "
            "will know it was you."),
        reply_markup=keyboards.anonymity(_, has_phone=bool(person and person.phone)))


def summary(draft: TipOffDraft, _: Translate, place_name: str | None) -> str:
    place = render.describe_place(_, place=place_name, address=draft.address,
                                  latitude=draft.latitude, longitude=draft.longitude)
    if draft.anonymous:
        who = _("anonymous")
    elif draft.share_phone:
        who = _("with your name and phone")
    else:
        who = _("with your name")
    lines = [
        _("Please check your report:"),
        _("Category: {category}").format(category=render.category_label(draft.category, _)),
        _("What happened: {description}").format(
            description=draft.description or _("(voice message)")),
        _("Photos: {count}").format(count=len(draft.photos or [])),
        _("Place: {place}").format(place=place),
        _("Sent: {who}").format(who=who),
    ]
    if draft.voice_file_id and draft.anonymous:
        lines.append(_("🎤 The team will hear your voice message. If you would rather not be "
                       "recognised by your voice, press “Type it instead”."))
    lines += ["", _("Shall I send it?")]
    return "\n".join(lines)


async def _ask_confirm(message: Message, context: BotContext, draft: TipOffDraft) -> None:
    _ = context._
    async with context.services.session_factory() as session:
        place_name = await service.place_name(session, area_id=draft.area_id)
    await message.reply_text(summary(draft, _, place_name),
                             reply_markup=keyboards.confirm(
                                 _, has_voice=draft.voice_file_id is not None))


async def on_message(update: Update, context: BotContext) -> None:
    """A message from someone with a draft: handled by the step the draft is at."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    _ = context._
    async with context.services.session_factory() as session:
        draft = await service.find_draft(session, telegram_id=user.id)
    if draft is None:
        index(context).ids.discard(user.id)
        await message.reply_text(_("Sorry, I did not understand that. Send /help to see what "
                                   "I can do."))
        return
    step = draft.step
    if step is DraftStep.AWAITING_DESCRIPTION:
        await _description(message, context)
    elif step is DraftStep.AWAITING_PHOTOS:
        await _photo(message, context, draft)
    elif step is DraftStep.AWAITING_PLACE:
        await _place(message, context)
    elif step is DraftStep.AWAITING_ADDITION:
        await _addition(message, context, draft)
    elif step is DraftStep.AWAITING_CATEGORY:
        await message.reply_text(_("Please choose what kind of problem it is, with the buttons "
                                   "below."), reply_markup=keyboards.categories(_))
    elif step is DraftStep.AWAITING_ANONYMITY:
        await _ask_anonymity(message, context, draft)
    else:
        await _ask_confirm(message, context, draft)


async def _description(message: Message, context: BotContext) -> None:
    """Store the text or voice, then ask for photos — or, when the reporter came back from
    the summary to type instead of speaking, show the summary again."""
    _ = context._
    text = message.text
    voice = message.voice
    if text is None and voice is None:
        await message.reply_text(_("I need a few words first: please type what you saw, or "
                                   "send a voice message."))
        return
    if text is not None and len(text) > config(context).max_text:
        await message.reply_text(_("That is a bit long for me. Please keep it under {limit} "
                                   "characters.").format(limit=config(context).max_text))
        return
    now = current_time(context)
    async with transaction(context.services.session_factory) as session:
        draft = await service.find_draft(session, telegram_id=message.chat.id)
        if draft is None:
            return
        if text is not None:
            draft.description = text.strip()
        else:
            draft.description = None
            draft.voice_file_id = voice.file_id  # type: ignore[union-attr]
        # Anonymity is chosen after the description: set, it was chosen already.
        back_to_summary = draft.anonymous is not None
        service.advance(draft, DraftStep.AWAITING_CONFIRM if back_to_summary
                        else DraftStep.AWAITING_PHOTOS, now)
        category = draft.category
    emergency = urgent_words_in(text)
    advice = None
    if emergency is not None and emergency_for(category, None) != emergency:
        advice = render.emergency_advice(emergency, _)
    if not back_to_summary:
        await _ask_photos(message, _, advice)
        return
    if advice:
        await message.reply_text(advice)
    await _ask_confirm(message, context, draft)


PHOTO_PROBLEM_TEXT = {
    media.PhotoProblem.NOT_AN_IMAGE: N_("Sorry, I can only take pictures (JPG or PNG). That "
                                        "file is not a picture, so I did not add it."),
    media.PhotoProblem.TOO_LARGE: N_("Sorry, that picture is larger than 10 MB, so I did not "
                                     "add it. Please send it as a normal photo instead of as a "
                                     "file."),
    media.PhotoProblem.TOO_MANY_PIXELS: N_("Sorry, that picture is too large (or too long and "
                                           "thin) to pass on, so I did not add it. Please send "
                                           "it as a normal photo instead of as a file."),
}


async def _photo_payload(message: Message, context: BotContext) -> dict[str, Any] | str:
    """The photo entry for a draft, or the text of a refusal."""
    _ = context._
    settings = context.services.settings
    if message.photo:
        size = message.photo[-1]
        problem = media.check_upload(mime_type="image/jpeg", file_size=size.file_size,
                                     is_photo=True)
        file_id, unique_id, team_file_id = size.file_id, size.file_unique_id, size.file_id
        stripped = False
        data: bytes | None = None
    elif message.document is not None:
        doc = message.document
        problem = media.check_upload(mime_type=doc.mime_type, file_size=doc.file_size,
                                     is_photo=False)
        file_id, unique_id, team_file_id, stripped, data = (doc.file_id, doc.file_unique_id,
                                                            doc.file_id, False, None)
    else:
        return _("Please send a photo (or press “Done” when you have sent them all).")
    if problem is not None:
        return _(PHOTO_PROBLEM_TEXT[problem])
    if message.document is not None:
        # A file keeps EXIF and GPS: the team gets a re-encoded copy without them.
        try:
            data = bytes(await (await message.document.get_file()).download_as_bytearray())
            clean = await asyncio.to_thread(media.strip_metadata, data)
        except media.PhotoRefused as exc:
            return _(PHOTO_PROBLEM_TEXT[exc.problem])
        except (TelegramError, ValueError):
            return _("Sorry, I could not open that picture. Please send it as a normal photo.")
        sent = await message.reply_photo(
            clean, caption=_("I removed the hidden details (like the place it was taken) from "
                             "this picture. This copy is what the team will see."))
        team_file_id = sent.photo[-1].file_id
        stripped = True
    entry: dict[str, Any] = {"file_id": file_id, "file_unique_id": unique_id,
                             "team_file_id": team_file_id, "stripped": stripped,
                             "sha256": None, "local_path": None}
    if settings.media_download:
        try:
            if data is None:
                data = bytes(await (await context.bot.get_file(file_id)).download_as_bytearray())
            path = await asyncio.to_thread(media.save_evidence, settings.media_dir,
                                           file_unique_id=unique_id, data=data)
            entry["sha256"] = media.sha256_of(data)
            entry["local_path"] = str(path)
        except (TelegramError, OSError):
            logger.warning("Could not keep a copy of a tip-off photo", exc_info=True)
    return entry


async def _photo(message: Message, context: BotContext, draft: TipOffDraft) -> None:
    """Add the photo; an album is acknowledged once, after its last photo arrived."""
    _ = context._
    if message.text is not None and not message.photo:
        await message.reply_text(_("Please send a photo, or press “Done” / “No photo” below."),
                                 reply_markup=keyboards.photos_done(
                                     _, have_photos=bool(draft.photos)))
        return
    if len(draft.photos or []) >= service.MAX_PHOTOS:
        # The reporter was told when it filled up (`_photos_ack`): a flood of photos is
        # answered once, not once per photo.
        return
    payload = await _photo_payload(message, context)
    if isinstance(payload, str):
        await message.reply_text(payload)
        return
    now = current_time(context)
    async with transaction(context.services.session_factory) as session:
        fresh = await service.find_draft(session, telegram_id=message.chat.id)
        if fresh is None:
            return
        added = service.add_draft_photo(fresh, payload, now)
        count = len(fresh.photos)
    if not added:  # filled up meanwhile (an album): its acknowledgement says so
        return
    if message.media_group_id and context.job_queue is not None:
        # Named by the album alone: a job name is logged, and must not say who reports.
        name = f"tipoff-album:{message.media_group_id}"
        for job in context.job_queue.get_jobs_by_name(name):
            job.schedule_removal()
        context.job_queue.run_once(_album_done, config(context).album_window_s, name=name,
                                   chat_id=message.chat.id, user_id=message.chat.id,
                                   data=context.language)
        return
    await _photos_ack(context, message.chat.id, _, count)


async def _photos_ack(context: BotContext, chat_id: int, _: Translate, count: int) -> None:
    if count >= service.MAX_PHOTOS:
        text = _("That is already {count} photos, the most I can pass on. Please press "
                 "“Done”.")
    else:
        text = ngettext(_, "Got it: {count} photo so far. Send more, or press “Done”.",
                        "Got it: {count} photos so far. Send more, or press “Done”.", count)
    await context.bot.send_message(chat_id, text.format(count=count),
                                   reply_markup=keyboards.photos_done(_, have_photos=True))


async def _album_done(context: BotContext) -> None:
    """The album stopped growing: acknowledge it once."""
    job = context.job
    if job is None or job.chat_id is None:
        return
    async with context.services.session_factory() as session:
        draft = await service.find_draft(session, telegram_id=job.chat_id)
    if draft is None or draft.step is not DraftStep.AWAITING_PHOTOS:
        return
    await _photos_ack(context, job.chat_id, context.tr(str(job.data)), len(draft.photos))


async def _place(message: Message, context: BotContext) -> None:
    """A pin or a typed address; then ask about anonymity."""
    _ = context._
    now = current_time(context)
    if message.location is None and not message.text:
        await message.reply_text(_("Please press a building, type the address, or send a "
                                   "location pin."))
        return
    if message.text and len(message.text) > config(context).max_address:
        await message.reply_text(_("Please keep the address short (under {limit} "
                                   "characters).").format(limit=config(context).max_address))
        return
    async with transaction(context.services.session_factory) as session:
        draft = await service.find_draft(session, telegram_id=message.chat.id)
        if draft is None:
            return
        text = (message.text or "").strip()
        if message.location is not None:
            draft.latitude = message.location.latitude
            draft.longitude = message.location.longitude
        elif text != _("⏭ Skip"):
            person = await session.get(Person, draft.person_id)
            choices = await service.place_choices(
                session, home_area_id=person.area_id if person else None, limit=100)
            named = {c.name: c.id for c in choices}
            if text in named:
                draft.area_id = named[text]
            else:
                draft.address = text
        service.advance(draft, DraftStep.AWAITING_ANONYMITY, now)
    await _ask_anonymity(message, context, draft)


async def _addition(message: Message, context: BotContext, draft: TipOffDraft) -> None:
    """A comment, a photo, an album or a voice note for an open report.

    An album arrives as several messages: its photos are collected on the draft, and the
    addition is passed on once it stops growing (`_addition_album_done`), like the intake's
    album step."""
    _ = context._
    photo: dict[str, Any] | None = None
    comment: str | None = None
    voice: str | None = None
    if message.voice is not None:
        voice = message.voice.file_id
        if await _hold_voice(message, context, voice):
            return
    elif message.photo or message.document is not None:
        if len(draft.photos or []) >= service.MAX_PHOTOS:
            return  # the rest of a flood: the album collected so far goes on as it is
        payload = await _photo_payload(message, context)
        if isinstance(payload, str):
            await message.reply_text(payload)
            return
        photo = payload
    elif message.text:
        if len(message.text) > config(context).max_text:
            await message.reply_text(_("That is a bit long for me. Please keep it under {limit} "
                                       "characters.").format(limit=config(context).max_text))
            return
        comment = message.text.strip()
    else:
        await message.reply_text(_("Please send a few words, a photo or a voice message."))
        return
    if photo is not None and message.caption:
        comment = message.caption.strip()[: config(context).max_text]
    if photo is not None and message.media_group_id and context.job_queue is not None:
        async with transaction(context.services.session_factory) as session:
            fresh = await service.find_draft(session, telegram_id=message.chat.id)
            if fresh is None or fresh.step is not DraftStep.AWAITING_ADDITION:
                return
            service.add_draft_photo(fresh, photo, current_time(context))
            if comment and not fresh.description:
                fresh.description = comment  # the album's caption (on its first photo)
        # Named by the album alone: a job name is logged, and must not say who reports.
        name = f"tipoff-addition-album:{message.media_group_id}"
        for job in context.job_queue.get_jobs_by_name(name):
            job.schedule_removal()
        context.job_queue.run_once(_addition_album_done, config(context).album_window_s,
                                   name=name, chat_id=message.chat.id,
                                   user_id=message.chat.id, data=context.language)
        return
    await _finish_addition(context, message.chat.id, _, comment=comment,
                           photo=photo, voice=voice)


async def _hold_voice(message: Message, context: BotContext, voice: str) -> bool:
    """An anonymous reporter's added voice note waits on the draft until they choose to
    send it or to type instead: their voice may be recognised. False when not anonymous."""
    _ = context._
    async with transaction(context.services.session_factory) as session:
        draft = await service.find_draft(session, telegram_id=message.chat.id)
        view = (await service.load_view(session, tipoff_id=draft.tipoff_id)
                if draft is not None and draft.tipoff_id is not None else None)
        if draft is None or view is None or not view.anonymous:
            return False
        draft.voice_file_id = voice
        draft.updated_at = current_time(context)
    await message.reply_text(_("🎤 The team will hear your voice, and someone may recognise "
                               "it. Send it anyway, or type what you want to add instead?"),
                             reply_markup=keyboards.voice_or_type(_))
    return True


async def _addition_album_done(context: BotContext) -> None:
    """The album for an addition stopped growing: pass all its photos on at once (unless a
    held voice note waits for the reporter's choice, which then passes the album on too)."""
    job = context.job
    if job is None or job.chat_id is None:
        return
    async with context.services.session_factory() as session:
        draft = await service.find_draft(session, telegram_id=job.chat_id)
    if draft is not None and draft.voice_file_id is not None:
        return
    await _finish_addition(context, job.chat_id, context.tr(str(job.data)))


async def _finish_addition(context: BotContext, chat_id: int, _: Translate, *,
                           comment: str | None = None, photo: dict[str, Any] | None = None,
                           voice: str | None = None) -> None:
    """Pass the addition (with any album photos collected on the draft) on to the team,
    close the draft and tell the reporter."""
    now = current_time(context)
    ok = False
    async with transaction(context.services.session_factory) as session:
        draft = await service.find_draft(session, telegram_id=chat_id)
        if draft is None or draft.step is not DraftStep.AWAITING_ADDITION:
            return
        # Checked where the addition is counted: an "add" press may have been let through
        # just before other additions were.
        refusal = await service.may_report(session, person_id=draft.person_id, now=now,
                                           config=config(context))
        photos = list(draft.photos or [])
        if photo is not None:
            photos.append(photo)
        if draft.description:  # an album's caption
            comment = f"{draft.description}\n{comment}" if comment else draft.description
        view = (await service.load_view(session, tipoff_id=draft.tipoff_id)
                if draft.tipoff_id is not None else None)
        person_id = draft.person_id

        async def add(**what: Any) -> bool:
            return view is not None and await service.add_to_report(
                session, tipoff_id=view.id, reporter_id=person_id, now=now,
                default_language=context.services.settings.default_language, **what)

        if refusal is None and voice is not None and photos:
            # A voice note right after an album: the album goes first, then the voice note.
            ok = await add(photos=photos, comment=comment) and await add(voice=voice)
        elif refusal is None:
            ok = await add(photos=photos, comment=comment, voice=voice)
        await service.discard_draft(session, telegram_id=chat_id)
    index(context).ids.discard(chat_id)
    if refusal is not None:
        await context.bot.send_message(chat_id, _(_addition_refusal(refusal)))
    elif ok:
        wake(context)
        await context.bot.send_message(chat_id, _("Thank you, I have passed that on to the "
                                                  "team."))
    else:
        await context.bot.send_message(chat_id, _(ALREADY_CLOSED).format(
            reference=view.reference if view else ""))


# -- the reporter's buttons -----------------------------------------------------------
async def on_button(update: Update, context: BotContext) -> None:
    """Category, photos done/skip, building, anonymity, send, cancel, add-to-report."""
    pressed = await parsed_press(update, context, cb.parse_draft)
    if pressed is None:
        return
    query, press = pressed
    _ = context._
    user_id = query.from_user.id
    if press.what == "new":
        await _start_from_button(update, context)
        return
    if press.what == "add":
        await _start_addition(update, context, press.value)
        return
    now = current_time(context)
    async with transaction(context.services.session_factory) as session:
        draft = await service.find_draft(session, telegram_id=user_id)
        if draft is None:
            await query.answer(_("This report is no longer open. Send /report to start a new "
                                 "one."))
            return
        if press.what == "cancel":
            await session.delete(draft)
            index(context).ids.discard(user_id)
            await query.answer()
            await query.edit_message_text(_("All right, I have put the report aside. Send "
                                            "/report whenever you want to start again."))
            return
        expected = {
            "cat": DraftStep.AWAITING_CATEGORY, "done": DraftStep.AWAITING_PHOTOS,
            "skip": None, "area": DraftStep.AWAITING_PLACE,
            "anon": DraftStep.AWAITING_ANONYMITY, "send": DraftStep.AWAITING_CONFIRM,
            "voice": DraftStep.AWAITING_ADDITION,
        }.get(press.what)
        if press.what == "skip":
            ok = draft.step in (DraftStep.AWAITING_PHOTOS, DraftStep.AWAITING_PLACE)
        elif press.what == "type":
            ok = (draft.step in (DraftStep.AWAITING_CONFIRM, DraftStep.AWAITING_ADDITION)
                  and draft.voice_file_id is not None)
        elif press.what == "voice":
            ok = draft.step is expected and draft.voice_file_id is not None
        else:
            ok = expected is not None and draft.step is expected
        if not ok:
            await query.answer(_("This button is no longer valid."))
            return
        next_step: DraftStep | None = None
        if press.what == "cat":
            category = parse_category(press.value)
            if category is None:
                await query.answer(_("This button is no longer valid."))
                return
            draft.category = category.value
            described = draft.description is not None  # the report began from a message
            next_step = DraftStep.AWAITING_PHOTOS if described else DraftStep.AWAITING_DESCRIPTION
        elif press.what in ("done", "skip") and draft.step is DraftStep.AWAITING_PHOTOS:
            next_step = DraftStep.AWAITING_PLACE
        elif press.what == "skip":
            next_step = DraftStep.AWAITING_ANONYMITY
        elif press.what == "area":
            area_id = int(press.value) if press.value and press.value.isdigit() else None
            async with context.services.session_factory() as read:
                person = await read.get(Person, draft.person_id)
                choices = await service.place_choices(
                    read, home_area_id=person.area_id if person else None, limit=100)
            if area_id not in {c.id for c in choices}:
                await query.answer(_("This button is no longer valid."))
                return
            draft.area_id = area_id
            next_step = DraftStep.AWAITING_ANONYMITY
        elif press.what == "type":
            # Only the voice note goes: photos, place and anonymity stay as given.
            draft.voice_file_id = None
            next_step = (DraftStep.AWAITING_DESCRIPTION if draft.step
                         is DraftStep.AWAITING_CONFIRM else DraftStep.AWAITING_ADDITION)
        elif press.what == "voice":
            held_voice = draft.voice_file_id
        elif press.what == "anon":
            draft.anonymous = press.value == "1"
            draft.share_phone = press.value == "2"
            next_step = DraftStep.AWAITING_CONFIRM
        elif press.what == "send":
            refusal = await service.may_report(session, person_id=draft.person_id, now=now,
                                               config=config(context))
            if refusal is not None:
                await session.delete(draft)
                index(context).ids.discard(user_id)
                await query.answer()
                await query.edit_message_text(_(REFUSALS[refusal]))
                return
            settings = context.services.settings
            submitted = await service.submit(session, draft=draft, now=now,
                                             default_language=settings.default_language,
                                             tz=settings.tz)
        if next_step is not None:
            service.advance(draft, next_step, now)
    await query.answer()
    message = query.message
    if not isinstance(message, Message):
        return
    if press.what == "send":
        index(context).ids.discard(user_id)
        wake(context)
        await query.edit_message_text(
            _("✅ Sent. Your reference is {reference}. I will tell you each time there is news; "
              "send /mytips to see your reports.").format(reference=submitted.reference))
        return
    if press.what != "cat":
        await query.edit_message_reply_markup(None)
    if press.what == "cat":
        info = CATEGORIES[parse_category(draft.category)]  # type: ignore[index]
        await query.edit_message_text(_("You chose: {category}").format(
            category=f"{info.emoji} {_(info.label)}"))
        emergency = emergency_for(draft.category, None)
        if described and emergency is None:
            emergency = urgent_words_in(draft.description)
        advice = render.emergency_advice(emergency, _) if emergency is not None else None
        if described:
            await _ask_photos(message, _, advice)
        else:
            await _ask_description(message, _, advice)
    elif press.what == "voice":
        await _finish_addition(context, user_id, _, voice=held_voice)
    elif press.what == "type":
        await message.reply_text(
            _("All right, please type what you saw: what, where exactly, and when.")
            if next_step is DraftStep.AWAITING_DESCRIPTION
            else _("All right, please type what you would like to add."))
    elif next_step is DraftStep.AWAITING_PLACE:
        await _ask_place(message, context, draft)
    elif next_step is DraftStep.AWAITING_ANONYMITY:
        await _ask_anonymity(message, context, draft)
    elif next_step is DraftStep.AWAITING_CONFIRM:
        await _ask_confirm(message, context, draft)


def _addition_refusal(refusal: service.Refusal) -> str:
    return TOO_MANY_ADDITIONS if refusal is service.Refusal.TOO_MANY else REFUSALS[refusal]


async def _start_addition(update: Update, context: BotContext, value: str | None) -> None:
    query = update.callback_query
    assert query is not None
    _ = context._
    tipoff_id = int(value) if value and value.isdigit() else None
    now = current_time(context)
    async with transaction(context.services.session_factory) as session:
        person = await register_person(session, identity=identity_of(query.from_user))
        view = (await service.load_view(session, tipoff_id=tipoff_id)
                if tipoff_id is not None else None)
        if view is None or view.reporter_id != person.id:
            await query.answer(_("This button is no longer valid."))
            return
        refusal = await service.may_report(session, person_id=person.id, now=now,
                                           config=config(context))
        if refusal is not None:
            await query.answer(_(_addition_refusal(refusal)), show_alert=True)
            return
        if view.status not in OPEN_STATUSES:
            await query.answer()
            if isinstance(query.message, Message):
                await query.message.reply_text(_(ALREADY_CLOSED).format(
                    reference=view.reference))
            return
        await service.start_draft(session, person=person, now=now,
                                  step=DraftStep.AWAITING_ADDITION, tipoff_id=view.id)
    index(context).ids.add(query.from_user.id)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.reply_text(_("Send me a comment, a photo or a voice message for "
                                         "{reference}.").format(reference=view.reference))


# -- /mytips --------------------------------------------------------------------------
async def my_tips(update: Update, context: BotContext) -> None:
    """List the person's reports and questions with their status (我的反映)."""
    message = update.effective_message
    if message is None or update.effective_user is None:
        return
    _ = context._
    if not await in_private(update, context):
        return
    async with context.services.session_factory() as session:
        person = await service_person(session, update.effective_user.id)
        tips = await service.my_tipoffs(session, person_id=person.id) if person else []
        questions = await my_questions(session, person_id=person.id) if person else []
    if not tips and not questions:
        await message.reply_text(_("You have not sent any reports yet. Send /report to tell "
                                   "us about a problem."))
        return
    tz = context.services.settings.tz
    lines = [_("Your reports:")] if tips else []
    for tip in tips:
        lines.append(f"{tip.reference} · {render.category_label(tip.category, _)} · "
                     f"{render.local_time(tip.created_at, tz)} · "
                     f"{_(render.STATUS_LABELS[tip.status])}")
    if questions:
        lines += ["", _("Your questions:")] if tips else [_("Your questions:")]
        lines += [f"{q.reference} · {render.local_time(q.created_at, tz)} · "
                  + (_("answered") if q.status is QuestionStatus.ANSWERED
                     else _("waiting for an answer")) for q in questions]
    open_tips = [(t.id, t.reference) for t in tips if t.status in OPEN_STATUSES][:5]
    await message.reply_text("\n".join(lines), reply_markup=keyboards.add_to(_, open_tips))


async def service_person(session: Any, telegram_id: int) -> Person | None:
    from sqlalchemy import select

    return await session.scalar(select(Person).where(Person.telegram_id == telegram_id))
