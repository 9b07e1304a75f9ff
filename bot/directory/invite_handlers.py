"""/invite: pick a team and a role, then how long the link lasts and how often it works;
the link and a QR code to print. Also a team's active links, each with a Revoke button.

Every press loads the team (or invite) afresh and asks bot.auth.can again: leaders make
and revoke member links of their own teams only; leader and staff links are for staff.
"""

from __future__ import annotations

from datetime import datetime

from telegram import Update

from bot.auth import Permission, can, directory_scope
from bot.context import BotContext
from bot.db import transaction, utcnow
from bot.directory import areas as area_service
from bot.directory.callbacks import DirCallback, InviteChoice
from bot.directory.handlers import in_private, refuse, stale
from bot.directory.invites import (
    DEFAULT_LIFETIME_CHOICE,
    DEFAULT_USES,
    LIFETIME_CHOICES,
    UNLIMITED_USES,
    USES_CHOICES,
    active_invites,
    create_invite,
    get_invite,
    invite_link,
    is_active,
    qr_png,
    revoke_invite,
)
from bot.directory.keyboards import button, markup, pick_list
from bot.directory.models import Area, Invite, InviteRole, Team
from bot.directory.teams import get_team, teams_in_scope
from bot.i18n import N_

INVITE_PAGE = 8
LIST_PAGE = 6
# Index order is part of the callback data: only append.
INVITE_ROLES = (InviteRole.MEMBER, InviteRole.LEADER, InviteRole.STAFF)
INVITE_ROLE_TEXT = {InviteRole.MEMBER: N_("Member"), InviteRole.LEADER: N_("Leader"),
                    InviteRole.STAFF: N_("Staff")}
LIFETIME_TEXT = (N_("1 day"), N_("7 days"), N_("30 days"))
USES_TEXT = (N_("1 use"), N_("10 uses"), N_("50 uses"), N_("No limit"))


def _default_choice(role: InviteRole) -> InviteChoice:
    return InviteChoice(INVITE_ROLES.index(role), DEFAULT_LIFETIME_CHOICE,
                        USES_CHOICES.index(DEFAULT_USES[role]))


def _unpack(value: int) -> InviteChoice | None:
    return InviteChoice.unpack(value, roles=len(INVITE_ROLES), lifetimes=len(LIFETIME_CHOICES),
                               uses=len(USES_CHOICES))


def _local(context: BotContext, moment: datetime) -> str:
    """A time in the community's time zone, the way a notice board would write it."""
    return moment.astimezone(context.services.settings.tz).strftime("%Y-%m-%d %H:%M")


# -- who may invite or revoke -------------------------------------------------------------

async def _target(
    update: Update, context: BotContext, team_id: int, role: InviteRole
) -> tuple[Area, Team | None] | None:
    """The area and team a new link would be for, if the actor may make it; else refuse."""
    actor = context.actor
    async with context.services.session_factory() as session:
        if team_id == 0:
            # A staff link is for the inviter's own area (admins invite staff by area later).
            area = None
            if role is InviteRole.STAFF and actor is not None and actor.area_path:
                area = await area_service.get_area(
                    session, area_id=area_service.ancestor_ids(actor.area_path)[-1])
            if area is None or area.archived or not can(
                    actor, Permission.MANAGE_DIRECTORY, area_path=area.path):
                await refuse(update, context)
                return None
            return area, None
        found = await get_team(session, team_id=team_id)
    if found is None or found[0].archived or role is InviteRole.STAFF:
        await stale(update, context)
        return None
    team, area = found
    if not can(actor, Permission.MANAGE_TEAM, area_path=area.path, team_id=team.id):
        await refuse(update, context)
        return None
    if role is not InviteRole.MEMBER and not can(actor, Permission.MANAGE_DIRECTORY,
                                                 area_path=area.path):
        await refuse(update, context)  # only staff name leaders
        return None
    return area, team


def _may_revoke(context: BotContext, invite: Invite, area: Area) -> bool:
    """Staff of the area revoke any link there; a leader, member links of their team."""
    actor = context.actor
    if invite.team_id is None or invite.role is not InviteRole.MEMBER:
        return can(actor, Permission.MANAGE_DIRECTORY, area_path=area.path)
    return can(actor, Permission.MANAGE_TEAM, area_path=area.path, team_id=invite.team_id)


# -- screens ----------------------------------------------------------------------------------

async def start_invite(update: Update, context: BotContext) -> None:
    """Choose the team the invite is for (leaders: their own teams; staff: their area's)."""
    message = update.effective_message
    if message is None:
        return
    if not can(context.actor, Permission.MANAGE_TEAM):
        await refuse(update, context)
        return
    if not await in_private(update, context):
        return
    await message.reply_text(**await _team_picker(context, 0))


async def _team_picker(context: BotContext, page: int) -> dict[str, object]:
    actor = context.actor
    _ = context._
    scope = directory_scope(actor)
    led = actor.led_team_ids if actor else frozenset()
    async with context.services.session_factory() as session:
        teams, total = await teams_in_scope(session, scope_path=scope, team_ids=led,
                                            offset=page * INVITE_PAGE, limit=INVITE_PAGE)
        names = await area_service.labels(session, paths=[t.area_path for t in teams])
    if total == 0:
        return {"text": _("Sorry, you are not allowed to do that.")}
    rows = pick_list([(t.id, f"{t.name} · {names[t.area_path]}") for t in teams], "it",
                     page=page, pages=-(-total // INVITE_PAGE), page_action="tl", page_arg=0)
    if scope is not None and actor is not None and actor.area_path:
        rows.append([button(_("Invite a staff member"), "is")])
    return {"text": _("Who is the invite for? Choose the team:"), "reply_markup": markup(rows)}


def _role_picker(context: BotContext, area: Area, team: Team) -> dict[str, object]:
    _ = context._
    staff = can(context.actor, Permission.MANAGE_DIRECTORY, area_path=area.path)
    roles = [button(_(INVITE_ROLE_TEXT[r]), "ir", team.id, i)
             for i, r in enumerate(INVITE_ROLES)
             if r is InviteRole.MEMBER or (staff and r is InviteRole.LEADER)]
    return {"text": _("An invite to {team}. As what?").format(team=team.name),
            "reply_markup": markup([roles, [button(_("📋 Active invite links"), "il",
                                                   team.id, 0)]])}


def _options(context: BotContext, area: Area, team: Team | None,
             choice: InviteChoice) -> dict[str, object]:
    """How long and how often: the current choice ticked, Make the link below."""
    _ = context._
    team_id = team.id if team else 0
    role = INVITE_ROLES[choice.role]

    def option(text: str, picked: bool, new: InviteChoice) -> object:
        return button(("✅ " if picked else "") + _(text), "io", team_id, new.pack())

    lifetimes = [option(text, i == choice.lifetime,
                        InviteChoice(choice.role, i, choice.uses))
                 for i, text in enumerate(LIFETIME_TEXT)]
    uses = [option(text, i == choice.uses, InviteChoice(choice.role, choice.lifetime, i))
            for i, text in enumerate(USES_TEXT)]
    rows = [lifetimes, uses[:2], uses[2:],
            [button(_("🔗 Make the link"), "ig", team_id, choice.pack())]]
    if team is not None:
        rows.append([button(_("◀ Back"), "it", team.id)])
    text = _("An invite to {what}, as {role}.\nHow long should the link work, and how many "
             "people may use it? Then tap “Make the link”.").format(
                 what=team.name if team else area.name, role=_(INVITE_ROLE_TEXT[role]))
    return {"text": text, "reply_markup": markup(rows)}


async def _invite_list(context: BotContext, area: Area, team: Team,
                       page: int) -> dict[str, object]:
    _ = context._
    async with context.services.session_factory() as session:
        invites, total = await active_invites(session, team_id=team.id, now=utcnow(),
                                              offset=page * LIST_PAGE, limit=LIST_PAGE)
    if total == 0:
        lines = [_("{team} has no invite links that still work.").format(team=team.name)]
    else:
        lines = [_("Invite links of {team} that still work: {count}").format(
            team=team.name, count=total)]
    rows = []
    for invite in invites:
        left = (_("no limit") if invite.uses_left is None
                else _("{count} uses left").format(count=invite.uses_left))
        lines.append(_("#{id} {role} · made by {name} · {left} · until {date}").format(
            id=invite.id, role=_(INVITE_ROLE_TEXT[invite.role]),
            name=invite.created_by or "-", left=left, date=_local(context, invite.expires_at)))
        if invite.role is InviteRole.MEMBER or can(
                context.actor, Permission.MANAGE_DIRECTORY, area_path=area.path):
            rows.append([button(_("🗑 Revoke #{id}").format(id=invite.id), "ix", invite.id)])
    paging = []
    if page > 0:
        paging.append(button("◀", "il", team.id, page - 1))
    if (page + 1) * LIST_PAGE < total:
        paging.append(button("▶", "il", team.id, page + 1))
    if paging:
        rows.append(paging)
    rows.append([button(_("◀ Back"), "it", team.id)])
    return {"text": "\n".join(lines), "reply_markup": markup(rows)}


# -- presses ----------------------------------------------------------------------------------

async def pressed(update: Update, context: BotContext, press: DirCallback) -> None:
    """Every invite button; each checks the actor's rights again before doing anything."""
    query = update.callback_query
    assert query is not None
    actor = context.actor
    if press.action == "tl":
        if not can(actor, Permission.MANAGE_TEAM) and directory_scope(actor) is None:
            await refuse(update, context)
            return
        await query.answer()
        await query.edit_message_text(**await _team_picker(context, press.b))
        return
    if press.action in {"ix", "ixy"}:
        await _revoke_pressed(update, context, press)
        return
    if press.action == "is":
        choice: InviteChoice | None = _default_choice(InviteRole.STAFF)
        team_id = 0
    elif press.action == "ir":
        if press.b >= len(INVITE_ROLES) or INVITE_ROLES[press.b] is InviteRole.STAFF:
            await stale(update, context)
            return
        choice, team_id = _default_choice(INVITE_ROLES[press.b]), press.a
    elif press.action in {"io", "ig"}:
        choice, team_id = _unpack(press.b), press.a
    else:  # "it", "il": a team's screens, as a member link would need
        choice, team_id = _default_choice(InviteRole.MEMBER), press.a
    if choice is None:
        await stale(update, context)
        return
    target = await _target(update, context, team_id, INVITE_ROLES[choice.role])
    if target is None:
        return
    area, team = target
    if press.action == "ig":
        await _send_invite(update, context, area=area, team=team, choice=choice)
        return
    await query.answer()
    if press.action == "it" and team is not None:
        await query.edit_message_text(**_role_picker(context, area, team))
    elif press.action == "il" and team is not None:
        await query.edit_message_text(**await _invite_list(context, area, team, press.b))
    else:
        await query.edit_message_text(**_options(context, area, team, choice))


async def _send_invite(update: Update, context: BotContext, *, area: Area, team: Team | None,
                       choice: InviteChoice) -> None:
    query = update.callback_query
    assert query is not None and context.actor is not None
    _ = context._
    role = INVITE_ROLES[choice.role]
    async with transaction(context.services.session_factory) as session:
        invite, token = await create_invite(
            session, area=area, team=team, role=role, now=utcnow(),
            actor_id=context.actor.person_id, lifetime=LIFETIME_CHOICES[choice.lifetime],
            max_uses=USES_CHOICES[choice.uses])
    link = invite_link(context.bot.username, token)
    what = team.name if team else area.name
    date = _local(context, invite.expires_at)
    if invite.max_uses >= UNLIMITED_USES:
        text = _("Here is the invite link for {what}, as {role}. Anyone with it can join, "
                 "until {date}:\n{link}")
    else:
        text = _("Here is the invite link for {what}, as {role}. It works {uses} times, "
                 "until {date}:\n{link}")
    text = text.format(what=what, role=_(INVITE_ROLE_TEXT[role]), uses=invite.max_uses,
                       date=date, link=link)
    await query.answer()
    await query.edit_message_text(
        text + "\n\n" + _("Forward it, or print the QR code below for the notice board."))
    assert update.effective_chat is not None
    await context.bot.send_photo(update.effective_chat.id, photo=qr_png(link),
                                 caption=_("Scan to join: {what}").format(what=what))


async def _revoke_pressed(update: Update, context: BotContext, press: DirCallback) -> None:
    """Ask, then revoke: the link and its printed QR code stop working at once."""
    query = update.callback_query
    assert query is not None
    _ = context._
    actor = context.actor
    async with transaction(context.services.session_factory) as session:
        invite = await get_invite(session, invite_id=press.a)
        area = await area_service.get_area(session, area_id=invite.area_id) if invite else None
        if invite is None or area is None:
            await stale(update, context)
            return
        found = await get_team(session, team_id=invite.team_id) if invite.team_id else None
        if not _may_revoke(context, invite, found[1] if found else area):
            await refuse(update, context)
            return
        if not is_active(invite, utcnow()):
            await stale(update, context)
            return
        if press.action == "ixy":
            await revoke_invite(session, invite=invite,
                                actor_id=actor.person_id if actor else None)
    team = found[0] if found else None
    if press.action == "ix":
        await query.answer()
        await query.edit_message_text(
            _("Revoke invite link #{id} ({role}, until {date})? The link and its QR code "
              "will stop working.").format(id=invite.id, role=_(INVITE_ROLE_TEXT[invite.role]),
                                           date=_local(context, invite.expires_at)),
            reply_markup=markup([[button(_("Yes, revoke"), "ixy", invite.id)]
                                 + ([button(_("◀ Back"), "il", team.id, 0)] if team else [])]))
        return
    await query.answer(_("Revoked."))
    if found is not None and team is not None:
        await query.edit_message_text(**await _invite_list(context, found[1], team, 0))
    else:
        await query.edit_message_text(_("Invite link #{id} is revoked.").format(id=invite.id))
