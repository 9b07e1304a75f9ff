"""/campaigns: sensitive-period campaigns started from a preset, listed, ended early."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from telegram import Update

from bot.alerts.handlers import config as alert_config
from bot.context import BotContext
from bot.db import transaction, utcnow
from bot.schedules import callbacks as cb
from bot.schedules import keyboards, render, service
from bot.schedules.common import gone, is_staff, refuse, staff_message
from bot.schedules.triggers import TriggerError

logger = logging.getLogger(__name__)

async def campaigns_command(update: Update, context: BotContext) -> None:
    """/campaigns: the campaigns on now or coming, and buttons to start a preset."""
    message = await staff_message(update, context)
    if message is None:
        return
    text, markup = await _campaign_screen(context)
    await message.reply_text(text, reply_markup=markup)


async def _campaign_screen(context: BotContext) -> tuple[str, Any]:
    assert context.actor is not None
    _ = context._
    async with context.services.session_factory() as session:
        active = await service.visible_campaigns(session, actor=context.actor, now=utcnow())
    lines = [_("Sensitive-period campaigns send extra reminders every day inside their dates.")]
    lines += [render.campaign_line(c, _) for c in active] or [_("No campaign is on now.")]
    return "\n".join(lines), keyboards.campaigns(active, _)


async def on_campaign_button(update: Update, context: BotContext) -> None:
    """Start a preset (then its length), end one early (then confirm), or back to the list."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _ = context._
    press = cb.parse_campaign(query.data)
    if press is None or (press.preset is not None
                         and press.preset not in service.CAMPAIGN_PRESETS):
        await gone(update, context)
        return
    if not is_staff(context):
        await refuse(update, context)
        return
    assert context.actor is not None
    actor = context.actor
    if press.listing:
        await query.answer()
        text, markup = await _campaign_screen(context)
        await query.edit_message_text(text, reply_markup=markup)
        return
    if press.preset is not None and press.days is None:
        preset = service.CAMPAIGN_PRESETS[press.preset]
        await query.answer()
        await query.edit_message_text(
            _("{name}: from today until when? Every day at {time} I will send the next "
              "anti-theft or anti-fraud tip.").format(name=_(preset.name),
                                                      time=preset.at.strftime("%H:%M")),
            reply_markup=keyboards.campaign_lengths(preset, _))
        return
    now = utcnow()
    if press.preset is not None and press.days is not None:
        preset = service.CAMPAIGN_PRESETS[press.preset]
        if press.days not in preset.lengths:
            await gone(update, context)
            return
        timezone = context.services.settings.timezone
        minutes = alert_config(context).sensitive_renotify_minutes
        today = now.astimezone(context.services.settings.tz).date()
        try:
            async with transaction(context.services.session_factory) as session:
                area_id = None if actor.is_admin else await service.actor_area_id(session, actor)
                if area_id is None and not actor.is_admin:
                    raise service.ScheduleRefused
                campaign, schedule = await service.create_campaign(
                    session, actor=actor, author_id=actor.person_id, name=_(preset.name),
                    preset=preset.key, area_id=area_id, starts_on=today,
                    ends_on=today + timedelta(days=press.days - 1), timezone=timezone,
                    at=preset.at, categories=preset.categories,
                    audience=await service.campaign_audience(session, area_id=area_id), now=now,
                    renotify_minutes=minutes)
                view = await service.view_of(session, schedule, now=now)
        except (service.ScheduleRefused, TriggerError):
            await query.answer(_("Sorry, you cannot start a campaign here."), show_alert=True)
            return
        logger.info("Campaign %s started by person %s", campaign.id, actor.person_id)
        await query.answer()
        await query.edit_message_text("\n".join([
            _("Started!"), render.campaign_line(campaign, _),
            _("🔴 Marked as a sensitive period: reminders every {m} minutes.").format(m=minutes),
            render.next_fires_text(view.next_fires, timezone, _)]))
        return
    assert press.campaign_id is not None
    async with transaction(context.services.session_factory) as session:
        campaign = await service.load_campaign_for(session, actor=actor,
                                                   campaign_id=press.campaign_id)
        if campaign is None or not service.campaign_active(campaign, now=now):
            await gone(update, context)
            return
        if press.end:
            await query.answer()
            await query.edit_message_text(
                _("End {name} now? Its reminders stop at once.").format(name=campaign.name),
                reply_markup=keyboards.confirm_end(campaign, _))
            return
        await service.end_campaign(session, campaign, now=now,
                                   actor_id=actor.person_id if actor else None)
    await query.answer()
    await query.edit_message_text(_("Ended: {name}.").format(name=campaign.name))

