"""/quiethours: show or set the community's quiet hours."""

from __future__ import annotations

import re
from datetime import time

from telegram import Update

from bot.auth import Permission, can
from bot.broadcasting.common import refusal
from bot.broadcasting.service import (
    QuietHours,
    community_of,
    get_quiet_hours,
    set_quiet_hours,
)
from bot.context import BotContext
from bot.db import transaction

# -- /quiethours ------------------------------------------------------------------------------

QUIET_PATTERN = re.compile(r"^(\d{1,2})[:：.](\d{2})\s*[-–~～到至]\s*(\d{1,2})[:：.](\d{2})$")


def parse_quiet_hours(text: str) -> QuietHours | None:
    match = QUIET_PATTERN.match(text.strip())
    if match is None:
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        return None
    return QuietHours(time(h1, m1), time(h2, m2))


async def quiet_hours_command(update: Update, context: BotContext) -> None:
    """/quiethours — show; /quiethours 22:00-07:00 — set; /quiethours default|off."""
    message = update.effective_message
    if message is None:
        return
    _ = context._
    actor = context.actor
    if not can(actor, Permission.BROADCAST):
        await message.reply_text(refusal(_))
        return
    assert actor is not None
    argument = " ".join(context.args or []).strip()
    async with transaction(context.services.session_factory) as session:
        community = await community_of(session, area_path=actor.area_path)
        if community is None or not can(actor, Permission.BROADCAST, area_path=community.path):
            await message.reply_text(_("Quiet hours belong to a community; your account is not "
                                       "linked to one."))
            return
        if not argument:
            current = await get_quiet_hours(session, community_id=community.id)
        else:
            lowered = argument.lower()
            if lowered in {"default", "默认", "默認"}:
                wanted: QuietHours | None = None
            elif lowered in {"off", "关闭", "關閉"}:
                wanted = QuietHours(time(0, 0), time(0, 0))
            else:
                wanted = parse_quiet_hours(argument)
                if wanted is None:
                    await message.reply_text(_("Please write it like this: /quiethours "
                                               "21:30-07:30 (or “default” or “off”)."))
                    return
            current = await set_quiet_hours(session, community_id=community.id, quiet=wanted,
                                            actor_id=actor.person_id)
    if current.off:
        status = _("{community} has no quiet hours: messages go out at any time.").format(
            community=community.name)
    else:
        status = _("Quiet hours in {community}: {hours}. Tips and notices sent then wait "
                   "until the morning; emergency alerts always go at once.").format(
            community=community.name, hours=current.label())
    if not argument:
        status += "\n" + _("To change: /quiethours 22:00-07:00, or “default”, or “off”.")
    await message.reply_text(status)

