"""Staff tools: /routing (list and set rules with buttons), /tipblock, /tipunblock, /reveal."""

from __future__ import annotations

from sqlalchemy import func, select
from telegram import Message, Update
from telegram.constants import ChatType

from bot.audit import record
from bot.auth import Permission, can
from bot.context import BotContext
from bot.db import transaction
from bot.directory.models import Area, Team
from bot.handler_utils import acting_person_id, parsed_press
from bot.tipoffs import callbacks as cb
from bot.tipoffs import keyboards, render, routing, service
from bot.tipoffs.references import normalize_reference


async def show_routing(update: Update, context: BotContext) -> None:
    """List the rules in the staff member's area and offer to set one."""
    message = update.effective_message
    actor = context.actor
    if message is None:
        return
    _ = context._
    if actor is None or not can(actor, Permission.MANAGE_DIRECTORY):
        await message.reply_text(_("Sorry, only community staff can change where reports go."))
        return
    within = None if actor.is_admin else actor.area_path
    async with context.services.session_factory() as session:
        rules = await routing.list_rules(session, within_path=within)
    lines = [_("Where reports go (the most specific place wins; otherwise the usual team for "
               "the category, then the duty cadres):")]
    for rule in rules:
        lines.append(f"• {render.category_label(rule.category, _)} · "
                     f"{rule.area_name or _('everywhere')} → {rule.team_name}")
    if not rules:
        lines.append(_("No special rules yet: every report goes to the usual team."))
    lines.append("")
    lines.append(_("To set a rule, choose the category:"))
    await message.reply_text("\n".join(lines), reply_markup=keyboards.routing_categories(_))


async def on_routing_button(update: Update, context: BotContext) -> None:
    """Category → area → team; the last press saves the rule (and audits it)."""
    pressed = await parsed_press(update, context, cb.parse_routing)
    if pressed is None:
        return
    query, press = pressed
    actor = context.actor
    _ = context._
    if actor is None or not can(actor, Permission.MANAGE_DIRECTORY):
        await query.answer(_("Sorry, only community staff can change where reports go."),
                           show_alert=True)
        return
    message = query.message if isinstance(query.message, Message) else None
    async with transaction(context.services.session_factory) as session:
        if press.step == "cat":
            stmt = (select(Area.id, Area.name, Area.path)
                    .where(Area.kind.in_(["community", "grid"]), Area.archived.is_(False))
                    .order_by(Area.path).limit(20))
            if not actor.is_admin:
                stmt = stmt.where(Area.path.startswith(actor.area_path or "/none/"))
            areas: list[tuple[int | None, str]] = [
                (a.id, a.name) for a in (await session.execute(stmt)).all()]
            if actor.is_admin:
                areas.insert(0, (None, _("Everywhere")))
            await query.answer()
            if message is not None:
                await message.edit_text(_("For which place?"),
                                        reply_markup=keyboards.routing_areas(press.category,
                                                                             areas))
            return
        area_id = press.area_id or None
        path = await routing.area_path(session, area_id) if area_id else None
        if (area_id is None and not actor.is_admin) or (
                area_id is not None and (path is None or not can(
                    actor, Permission.MANAGE_DIRECTORY, area_path=path))):
            await query.answer(_("This button is no longer valid."))
            return
        if press.step == "area":
            stmt = (select(Team.id, Team.name).join(Area, Area.id == Team.area_id)
                    .where(Team.archived.is_(False)).order_by(func.length(Area.path), Team.name)
                    .limit(20))
            if not actor.is_admin:
                stmt = stmt.where(Area.path.startswith(actor.area_path or "/none/"))
            elif path is not None:
                stmt = stmt.where(Area.path.startswith(path.rsplit("/", 2)[0] + "/"))
            teams = [(t.id, t.name) for t in (await session.execute(stmt)).all()]
            await query.answer()
            if message is not None:
                await message.edit_text(_("Which team should get these reports?"),
                                        reply_markup=keyboards.routing_teams(press.category,
                                                                             area_id, teams))
            return
        team = await session.get(Team, press.team_id)
        team_path = await routing.area_path(session, team.area_id) if team else None
        if team is None or team.archived or team_path is None or not can(
                actor, Permission.MANAGE_DIRECTORY, area_path=team_path):
            await query.answer(_("This button is no longer valid."))
            return
        actor_id = await acting_person_id(session, actor, query.from_user)
        rule = await routing.set_rule(session, category=press.category.value, area_id=area_id,
                                      team_id=team.id, created_by_id=actor_id)
        await record(session, actor_id=actor_id, action="tipoff.routing_rule",
                     object_type="routing_rule", object_id=rule.id,
                     after={"category": press.category.value, "area_id": area_id,
                            "team_id": team.id})
    await query.answer(_("Saved."))
    if message is not None:
        await message.edit_text(_("Saved: {category} → {team}.").format(
            category=render.category_label(press.category.value, _), team=team.name))


async def _tipoff_from_args(update: Update, context: BotContext
                            ) -> tuple[Message, service.TipOffView, str] | None:
    message = update.effective_message
    if message is None:
        return None
    _ = context._
    args = context.args or []
    reference = normalize_reference(args[0]) if args else None
    if reference is None:
        await message.reply_text(_("Please give the reference, like this: /{command} TX-7K3F "
                                   "reason").format(command=(message.text or "/").split()[0]
                                                    .lstrip("/").split("@")[0]))
        return None
    async with context.services.session_factory() as session:
        tipoff = await service.find_by_reference(session, reference=reference)
        view = await service.load_view(session, tipoff_id=tipoff.id) if tipoff else None
    if view is None:
        await message.reply_text(_("I cannot find a report {reference}.").format(
            reference=reference))
        return None
    return message, view, " ".join(args[1:]).strip()


async def _staff_tipoff(
    update: Update, context: BotContext
) -> tuple[Message, service.TipOffView, str] | None:
    """The report named in a staff command, once the sender may act on it (else a reply)."""
    _ = context._
    if context.actor is None or not can(context.actor, Permission.MANAGE_DIRECTORY):
        if update.effective_message:
            await update.effective_message.reply_text(_("Sorry, only community staff can do "
                                                        "that."))
        return None
    found = await _tipoff_from_args(update, context)
    if found is None:
        return None
    message, view, rest = found
    if not can(context.actor, Permission.MANAGE_DIRECTORY, area_path=view.scope_path or "/"):
        await message.reply_text(_("Sorry, that report is outside your area."))
        return None
    return message, view, rest


async def block(update: Update, context: BotContext) -> None:
    """/tipblock REF [reason]: the reporter of REF may not report any more (stays hidden)."""
    found = await _staff_tipoff(update, context)
    if found is None or context.actor is None:
        return
    message, view, reason = found
    assert update.effective_user is not None
    async with transaction(context.services.session_factory) as session:
        actor_id = await acting_person_id(session, context.actor, update.effective_user)
        await service.block_reporter(session, tipoff_id=view.id, actor_id=actor_id,
                                     reason=reason or None)
    await _reload_drafts(context)  # the blocked person's draft is gone
    await message.reply_text(context._(
        "The person who sent {reference} can no longer send reports. "
        "Send /tipunblock {reference} to undo.").format(reference=view.reference))


async def _reload_drafts(context: BotContext) -> None:
    async with context.services.session_factory() as session:
        ids = await service.drafting_telegram_ids(session)
    context.application.bot_data["tipoff_drafts"].ids = ids


async def unblock(update: Update, context: BotContext) -> None:
    """/tipunblock REF: let the reporter of REF report again."""
    found = await _staff_tipoff(update, context)
    if found is None or context.actor is None:
        return
    message, view, _reason = found
    assert update.effective_user is not None
    async with transaction(context.services.session_factory) as session:
        actor_id = await acting_person_id(session, context.actor, update.effective_user)
        await service.unblock_reporter(session, tipoff_id=view.id, actor_id=actor_id)
    await message.reply_text(context._("The person who sent {reference} can send reports "
                                       "again.").format(reference=view.reference))


async def reveal(update: Update, context: BotContext) -> None:
    """/reveal REF reason: an admin learns who reported it; written to the audit log."""
    message = update.effective_message
    if message is None:
        return
    _ = context._
    if context.actor is None or not can(context.actor, Permission.REVEAL_REPORTER):
        await message.reply_text(_("Sorry, only an administrator can see who sent a report."))
        return
    if update.effective_chat is None or update.effective_chat.type != ChatType.PRIVATE:
        await message.reply_text(_("For the reporter's safety, ask me this in a private chat."))
        return
    found = await _tipoff_from_args(update, context)
    if found is None:
        return
    message, view, reason = found
    if len(reason) < 5:
        await message.reply_text(_("Please give the reason as well, like this: /reveal "
                                   "{reference} police asked for a witness statement").format(
                                       reference=view.reference))
        return
    assert update.effective_user is not None
    async with transaction(context.services.session_factory) as session:
        actor_id = await acting_person_id(session, context.actor, update.effective_user)
        who = await service.reveal_reporter(session, tipoff_id=view.id, actor_id=actor_id,
                                            reason=reason)
    text = _("{reference} was sent by {name}.").format(reference=view.reference, name=who.name)
    if who.phone:
        text += "\n" + _("Phone: {phone}").format(phone=who.phone)
    text += "\n" + _("This look-up has been written to the audit log.")
    await message.reply_text(text)
