"""/invite: pick a team and a role, then how long the link lasts and how often it works;
the link and a QR code to print. Also a team's active links, each with a Revoke button.
Staff links are for an area: staff invite to their own area; an admin (or a street office's
staff) first picks the community. Its active staff links are listed and revoked the same way.

Every press loads the team, area (or invite) afresh and asks bot.auth.can again: leaders
make and revoke member links of their own teams only; leader and staff links are for staff.
In the callback data a staff link's options carry the area's id where a team's carry the
team's.
"""

from __future__ import annotations

from datetime import datetime

from telegram import Update

from bot.auth import Permission, can, directory_scope
from bot.context import BotContext
from bot.db import transaction, utcnow
from bot.directory import areas as area_service
from bot.directory.callbacks import DirCallback, InviteChoice
from bot.directory.handlers import refuse, stale
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
from bot.directory.models import Area, AreaKind, Invite, InviteRole, Team
from bot.directory.teams import get_team, teams_in_scope
from bot.handler_utils import in_private
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

async def _staff_area(update: Update, context: BotContext, area_id: int) -> Area | None:
    """The area a staff link would be for, if the actor is staff there; else refuse."""
    async with context.services.session_factory() as session:
        area = await area_service.get_area(session, area_id=area_id)
    if area is None or area.archived:
        await stale(update, context)
        return None
    if not can(context.actor, Permission.MANAGE_DIRECTORY, area_path=area.path):
        await refuse(update, context)
        return None
    return area


def _own_area_id(context: BotContext) -> int | None:
    """The area a (non-admin) staff member looks after: the last one in their scope."""
    scope = directory_scope(context.actor)
    if scope is None or scope == area_service.ROOT:
        return None
    return area_service.ancestor_ids(scope)[-1]


async def _target(
    update: Update, context: BotContext, target_id: int, role: InviteRole
) -> tuple[Area, Team | None] | None:
    """The area and team a new link would be for, if the actor may make it; else refuse.
    `target_id` is the team's id, or the area's for a staff link."""
    actor = context.actor
    if role is InviteRole.STAFF:
        area = await _staff_area(update, context, target_id)
        return None if area is None else (area, None)
    async with context.services.session_factory() as session:
        found = await get_team(session, team_id=target_id)
    if found is None or found[0].archived:
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
    if total == 0 and scope is None:
        return {"text": _("Sorry, you are not allowed to do that.")}
    rows = pick_list([(t.id, f"{t.name} · {names[t.area_path]}") for t in teams], "it",
                     page=page, pages=-(-total // INVITE_PAGE), page_action="tl", page_arg=0)
    if scope is not None:
        rows.append([button(_("Invite a staff member"), "isp", 0, 0)])
    return {"text": _("Who is the invite for? Choose the team:"), "reply_markup": markup(rows)}


async def _staff_picker(context: BotContext, page: int) -> dict[str, object] | None:
    """Which community a staff link is for: an admin's pick among all communities, a street
    office's staff among theirs (their own office first). None: staff of a community (or
    below) invite to their own area only, with no choice to make."""
    _ = context._
    scope = directory_scope(context.actor)
    assert scope is not None
    own_id = _own_area_id(context)
    async with context.services.session_factory() as session:
        own = await area_service.get_area(session, area_id=own_id) if own_id else None
        if own is not None and own.kind is not AreaKind.STREET_OFFICE:
            return None
        communities, total = await area_service.areas_of_kind(
            session, kind=AreaKind.COMMUNITY, scope_path=scope, offset=page * INVITE_PAGE,
            limit=INVITE_PAGE)
    items = [(a.id, a.name) for a in communities]
    if own is not None and page == 0:
        items.insert(0, (own.id, own.name))
    rows = pick_list(items, "is", page=page, pages=max(1, -(-total // INVITE_PAGE)),
                     page_action="isp", page_arg=0)
    rows.append([button(_("◀ Back"), "tl", 0, 0)])
    return {"text": _("Staff links: for which community?"), "reply_markup": markup(rows)}


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
    target_id = team.id if team else area.id
    role = INVITE_ROLES[choice.role]

    def option(text: str, picked: bool, new: InviteChoice) -> object:
        return button(("✅ " if picked else "") + _(text), "io", target_id, new.pack())

    lifetimes = [option(text, i == choice.lifetime,
                        InviteChoice(choice.role, i, choice.uses))
                 for i, text in enumerate(LIFETIME_TEXT)]
    uses = [option(text, i == choice.uses, InviteChoice(choice.role, choice.lifetime, i))
            for i, text in enumerate(USES_TEXT)]
    rows = [lifetimes, uses[:2], uses[2:],
            [button(_("🔗 Make the link"), "ig", target_id, choice.pack())]]
    if team is not None:
        rows.append([button(_("◀ Back"), "it", team.id)])
    else:
        back = ([button(_("◀ Back"), "isp", 0, 0)] if area.id != _own_area_id(context)
                else [])
        rows.append([button(_("📋 Active invite links"), "isl", area.id, 0), *back])
    text = _("An invite to {what}, as {role}.\nHow long should the link work, and how many "
             "people may use it? Then tap “Make the link”.").format(
                 what=team.name if team else area.name, role=_(INVITE_ROLE_TEXT[role]))
    return {"text": text, "reply_markup": markup(rows)}


async def _invite_list(context: BotContext, area: Area, team: Team | None,
                       page: int) -> dict[str, object]:
    """A team's links that still work, or (no team) the area's staff links."""
    _ = context._
    async with context.services.session_factory() as session:
        invites, total = await active_invites(
            session, team_id=team.id if team else None,
            staff_area_id=None if team else area.id, now=utcnow(),
            offset=page * LIST_PAGE, limit=LIST_PAGE)
    whose = team.name if team else area.name
    if total == 0:
        lines = [_("{team} has no invite links that still work.").format(team=whose)]
    else:
        lines = [_("Invite links of {team} that still work: {count}").format(
            team=whose, count=total)]
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
    list_action, list_id = ("il", team.id) if team else ("isl", area.id)
    paging = []
    if page > 0:
        paging.append(button("◀", list_action, list_id, page - 1))
    if (page + 1) * LIST_PAGE < total:
        paging.append(button("▶", list_action, list_id, page + 1))
    if paging:
        rows.append(paging)
    rows.append([button(_("◀ Back"), "it", team.id) if team else
                 button(_("◀ Back"), "is", area.id)])
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
    if press.action in {"isp", "isl"}:
        await _staff_screens(update, context, press)
        return
    if press.action == "is":
        choice: InviteChoice | None = _default_choice(InviteRole.STAFF)
        team_id = press.a
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


async def _staff_screens(update: Update, context: BotContext, press: DirCallback) -> None:
    """`isp`: which community a staff link is for (straight to the link's options when there
    is no choice); `isl`: an area's staff links that still work."""
    query = update.callback_query
    assert query is not None
    if not can(context.actor, Permission.MANAGE_DIRECTORY) or directory_scope(
            context.actor) is None:
        await refuse(update, context)
        return
    if press.action == "isl":
        area = await _staff_area(update, context, press.a)
        if area is None:
            return
        await query.answer()
        await query.edit_message_text(**await _invite_list(context, area, None, press.b))
        return
    picker = await _staff_picker(context, press.b)
    if picker is None:
        own_id = _own_area_id(context)
        area = await _staff_area(update, context, own_id) if own_id else None
        if area is None:
            return
        picker = _options(context, area, None, _default_choice(InviteRole.STAFF))
    await query.answer()
    await query.edit_message_text(**picker)


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
            reply_markup=markup([[button(_("Yes, revoke"), "ixy", invite.id),
                                  button(_("◀ Back"), "il", team.id, 0) if team
                                  else button(_("◀ Back"), "isl", area.id, 0)]]))
        return
    await query.answer(_("Revoked."))
    await query.edit_message_text(**await _invite_list(
        context, found[1] if found else area, team, 0))
