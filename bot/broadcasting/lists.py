"""/broadcasts: recent broadcasts with their delivery reports; stop what is still pending."""

from __future__ import annotations

from sqlalchemy import select
from telegram import Update

from bot.audit.service import record
from bot.auth import Permission, can
from bot.broadcasting import callbacks, keyboards
from bot.broadcasting.common import refusal
from bot.broadcasting.service import (
    KIND_HEADERS,
    BroadcastKind,
)
from bot.context import BotContext
from bot.db import transaction
from bot.i18n import N_, Translate, ngettext
from broadcasts import Broadcast, BroadcastStatus, broadcast_report, cancel_broadcast

#: Telegram's error descriptions (FACTS.md), as the stored reason holds them, in plain words.
FAILURE_REASONS = (
    ("blocked by the user", N_("blocked the bot")),
    ("user is deactivated", N_("account deleted")),
    ("can't initiate conversation", N_("never pressed Start")),
    ("chat not found", N_("never pressed Start, or the chat is gone")),
    ("kicked from the", N_("the bot was removed from the group")),
    ("not a member of", N_("the bot is not in the group")),
    ("chat was deleted", N_("the group was deleted")),
    ("upgraded to a supergroup", N_("the group was upgraded")),
    ("too many requests", N_("Telegram asked to slow down")),
    ("gave up after", N_("no connection to Telegram")),
)


def reason_text(_: Translate, reason: str) -> str:
    """A failed delivery's reason for staff, never Telegram's English."""
    lowered = reason.lower()
    for fragment, text in FAILURE_REASONS:
        if fragment in lowered:
            return _(text)
    return _("other error")

# -- /broadcasts ----------------------------------------------------------------------------

async def _list_view(context: BotContext) -> dict[str, object]:
    _ = context._
    actor = context.actor
    assert actor is not None
    tz = context.services.settings.tz
    stmt = select(Broadcast).order_by(Broadcast.id.desc()).limit(8)
    if not actor.is_admin:
        stmt = stmt.where(Broadcast.author_id == actor.person_id,
                          Broadcast.kind.in_([k.value for k in BroadcastKind]))
    lines: list[str] = []
    cancellable: list[int] = []
    async with context.services.session_factory() as session:
        broadcasts = list(await session.scalars(stmt))
        for b in broadcasts:
            report = await broadcast_report(session, b.id)
            header = KIND_HEADERS.get(b.kind) if b.kind in set(BroadcastKind) else None
            title = _(header) if header else b.kind
            lines.append(f"#{b.id} {title} · {b.created_at.astimezone(tz):%m-%d %H:%M}")
            lines.append(_("Sent {sent} · failed {failed} · unreachable {unreachable} · "
                           "waiting {pending}").format(
                sent=report.sent, failed=report.failed, unreachable=report.unreachable,
                pending=report.pending))
            if report.cancelled:
                lines.append(_("Stopped before sending: {count}").format(count=report.cancelled))
            if report.failure_reasons:
                why: dict[str, int] = {}
                for reason, n in report.failure_reasons.items():
                    text = reason_text(_, reason)
                    why[text] = why.get(text, 0) + n
                lines.append(_("Why: {reasons}").format(reasons="; ".join(
                    f"{text} ×{n}" for text, n in sorted(why.items(), key=lambda kv: -kv[1])[:3])))
            if b.not_before is not None and report.pending:
                lines.append(_("Waiting for the end of quiet hours ({time}).").format(
                    time=f"{b.not_before.astimezone(tz):%m-%d %H:%M}"))
            lines.append("")
            if (report.pending and b.status in (BroadcastStatus.PENDING, BroadcastStatus.SENDING)
                    and (actor.is_admin or b.author_id == actor.person_id)):
                cancellable.append(b.id)
    if not broadcasts:
        return {"text": _("You have not sent any messages yet. Send /broadcast to start."),
                "reply_markup": None}
    text = _("Your recent messages:") + "\n\n" + "\n".join(lines).strip()
    return {"text": text, "reply_markup": keyboards.list_keyboard(cancellable, _)}


async def list_command(update: Update, context: BotContext) -> None:
    """/broadcasts: recent broadcasts with their reports."""
    message = update.effective_message
    if message is None:
        return
    if not can(context.actor, Permission.BROADCAST):
        await message.reply_text(refusal(context._))
        return
    await message.reply_text(**await _list_view(context))


async def list_pressed(update: Update, context: BotContext) -> None:
    """Stop a pending broadcast (its author or an admin), or refresh the list."""
    query = update.callback_query
    assert query is not None
    _ = context._
    if not can(context.actor, Permission.BROADCAST):
        await query.answer(refusal(_), show_alert=True)
        return
    parsed = callbacks.decode_list(query.data)
    if parsed is None:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    action, broadcast_id = parsed
    actor = context.actor
    assert actor is not None
    if action == "x" and broadcast_id is not None:
        async with transaction(context.services.session_factory) as session:
            broadcast = await session.get(Broadcast, broadcast_id)
            if broadcast is None or not (actor.is_admin or (
                    broadcast.author_id is not None and broadcast.author_id == actor.person_id)):
                await query.answer(_("Sorry, only the sender or an administrator can stop "
                                     "this."), show_alert=True)
                return
            if broadcast.status not in (BroadcastStatus.PENDING, BroadcastStatus.SENDING):
                await query.answer(_("This one has already finished."), show_alert=True)
                return
            stopped = await cancel_broadcast(session, broadcast_id)
            await record(session, actor_id=actor.person_id, action="broadcast.cancel",
                         object_type="broadcast", object_id=broadcast_id,
                         after={"cancelled": stopped})
        await query.answer(ngettext(_, "Stopped. {count} message will not be sent.",
                                    "Stopped. {count} messages will not be sent.",
                                    stopped).format(count=stopped))
    else:
        await query.answer()
    view = await _list_view(context)
    if query.message is not None and (
            getattr(query.message, "text", None) != view["text"]):
        await query.edit_message_text(**view)  # type: ignore[arg-type]

