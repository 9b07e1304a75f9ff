"""/areas (browse, add, rename, archive) and /team (members, leaders, new teams)."""

from __future__ import annotations

import enum

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.auth import Permission, Standing, can, directory_scope
from bot.context import BotContext
from bot.db import transaction
from bot.directory import areas as area_service
from bot.directory import teams as team_service
from bot.directory.areas import AreaError
from bot.directory.callbacks import DirCallback, decode
from bot.directory.keyboards import button, markup, pick_list
from bot.directory.models import Person
from bot.directory.people import mask_phone, person_in_scope, search_people
from bot.handler_utils import in_private
from bot.i18n import N_, ngettext
from bot.persistence import InstanceSafeConversationHandler

PAGE = 6
TIMEOUT = 600


class TextState(enum.StrEnum):
    AWAITING_AREA_NAME = "awaiting_area_name"
    AWAITING_TEAM_NAME = "awaiting_team_name"
    AWAITING_PERSON_SEARCH = "awaiting_person_search"


async def _refuse(update: Update, context: BotContext) -> None:
    from bot.directory.handlers import refuse

    await refuse(update, context)


async def _stale(update: Update, context: BotContext) -> None:
    from bot.directory.handlers import stale

    await stale(update, context)


# -- /areas -------------------------------------------------------------------------------

async def areas_command(update: Update, context: BotContext) -> None:
    """Show the top of the actor's part of the tree."""
    message = update.effective_message
    actor = context.actor
    if message is None:
        return
    scope = directory_scope(actor)
    if scope is None:
        await _refuse(update, context)
        return
    if not await in_private(update, context):
        return  # its buttons work in a private chat only
    area_id = 0 if scope == "/" else area_service.ancestor_ids(scope)[-1]
    await message.reply_text(**await _area_view(context, area_id, 0))


async def _area_view(context: BotContext, area_id: int, page: int) -> dict[str, object]:
    _ = context._
    async with context.services.session_factory() as session:
        area = await area_service.get_area(session, area_id=area_id) if area_id else None
        kids, total = await area_service.children(session, parent_id=area.id if area else None,
                                                  offset=page * PAGE, limit=PAGE)
        where = await area_service.label(session, path=area.path) if area else _("All areas")
    rows = pick_list([(k.id, k.name) for k in kids], "ab", extra=0, page=page,
                     pages=-(-total // PAGE), page_action="ab", page_arg=area_id)
    actions = [button(_("➕ Add"), "aa", area_id)]
    if area is not None:
        actions += [button(_("✏️ Rename"), "ar", area_id), button(_("🗄 Archive"), "ax", area_id)]
    rows.append(actions)
    scope = directory_scope(context.actor) or ""
    if area is not None and area.parent_id is not None:
        parent_path = area.path.rsplit("/", 2)[0] + "/"
        if parent_path.startswith(scope):
            rows.append([button(_("⬆ Up"), "ab", area.parent_id, 0)])
    elif area is not None and scope == "/":
        rows.append([button(_("⬆ Up"), "ab", 0, 0)])
    text = ngettext(_, "{area}: {count} sub-area. Tap it to open it.",
                    "{area}: {count} sub-areas. Tap one to open it.", total).format(
        area=where, count=total)
    return {"text": text, "reply_markup": markup(rows)}


async def _area_allowed(context: BotContext, area_id: int) -> bool:
    if area_id == 0:
        return can(context.actor, Permission.MANAGE_DIRECTORY, area_path="/")
    async with context.services.session_factory() as session:
        area = await area_service.get_area(session, area_id=area_id)
    return area is not None and not area.archived and can(
        context.actor, Permission.MANAGE_DIRECTORY, area_path=area.path)


async def ask_text(update: Update, context: BotContext) -> TextState | int:
    """A button that needs a typed answer: a name, or a person to search for."""
    query = update.callback_query
    assert query is not None
    _ = context._
    press = decode(query.data)
    if press is None:
        await _stale(update, context)
        return ConversationHandler.END
    if not await in_private(update, context):
        return ConversationHandler.END  # the answer would be typed, and searched, in the group
    if press.action in {"aa", "ar"}:
        if not await _area_allowed(context, press.a):
            await _refuse(update, context)
            return ConversationHandler.END
        state, prompt = TextState.AWAITING_AREA_NAME, (
            _("Please type the name of the new area:") if press.action == "aa"
            else _("Please type the new name:"))
    elif press.action == "tnew":
        if not await _area_allowed(context, press.a) or press.a == 0:
            await _refuse(update, context)
            return ConversationHandler.END
        state, prompt = TextState.AWAITING_TEAM_NAME, _("Please type the name of the new team:")
    else:  # "tad", "tar"
        if await _team_if_allowed(update, context, press.a, press.action) is None:
            return ConversationHandler.END
        if press.action == "tar":
            state, prompt = TextState.AWAITING_TEAM_NAME, _("Please type the new name:")
        else:
            state, prompt = TextState.AWAITING_PERSON_SEARCH, _(
                "Who should join? Type part of their name or phone number:")
    assert context.user_data is not None
    context.user_data["directory_pending"] = (press.action, press.a)
    await query.answer()
    await query.edit_message_text(prompt + "\n" + _("(/cancel to stop)"))
    return state


async def text_received(update: Update, context: BotContext) -> int | TextState:
    """Do what the pending button asked, checking rights again."""
    message = update.effective_message
    assert message is not None and context.user_data is not None
    _ = context._
    action, target = context.user_data.pop("directory_pending", ("", 0))
    text = (message.text or "").strip()
    actor = context.actor
    actor_id = actor.person_id if actor else None
    settings = context.services.settings
    if action in {"aa", "ar", "tnew"}:
        if not await _area_allowed(context, target):
            await _refuse(update, context)
            return ConversationHandler.END
        try:
            async with transaction(context.services.session_factory) as session:
                area = await area_service.get_area(session, area_id=target) if target else None
                if action == "aa":
                    await area_service.create_area(session, parent=area, name=text,
                                                   actor_id=actor_id,
                                                   default_language=settings.default_language)
                elif action == "ar" and area is not None:
                    await area_service.rename_area(session, area=area, name=text,
                                                   actor_id=actor_id)
                elif area is not None:
                    await team_service.create_team(session, area=area, name=text,
                                                   actor_id=actor_id)
        except AreaError as exc:
            await message.reply_text(_("That does not work: {reason}. Please try again.")
                                     .format(reason=_(AREA_ERRORS.get(exc.reason, exc.reason))))
            context.user_data["directory_pending"] = (action, target)
            return (TextState.AWAITING_TEAM_NAME if action == "tnew"
                    else TextState.AWAITING_AREA_NAME)
        await message.reply_text(_("Saved."))
        if action != "tnew":
            await message.reply_text(**await _area_view(context, target, 0))
        return ConversationHandler.END
    found = await _team_if_allowed(update, context, target, action)
    if found is None:
        return ConversationHandler.END
    team, area = found
    if action == "tar":
        try:
            async with transaction(context.services.session_factory) as session:
                db_team = await session.get(team_service.Team, team.id)
                assert db_team is not None
                await team_service.rename_team(session, team=db_team, name=text,
                                               actor_id=actor_id)
        except AreaError:
            await message.reply_text(_("That name does not work. Please try again."))
            context.user_data["directory_pending"] = (action, target)
            return TextState.AWAITING_TEAM_NAME
        await message.reply_text(_("Saved."))
        return ConversationHandler.END
    community = "/".join(area.path.split("/")[:3]) + "/" if area.path.count("/") > 3 \
        else area.path
    # Leaders are volunteers: the community's phones stay with its staff.
    staff = context.actor is not None and context.actor.standing >= Standing.STAFF
    async with context.services.session_factory() as session:
        people = await search_people(session, query=text, scope_path=community, limit=PAGE,
                                     partial_phone=staff)
    if not people:
        await message.reply_text(_("Nobody found for “{query}”.").format(query=text))
        return ConversationHandler.END
    await message.reply_text(
        _("Tap the person to add to {team}:").format(team=team.name),
        reply_markup=markup([[button(f"{p.name} {p.phone or '' if staff else mask_phone(p.phone)}",
                                     "tap", team.id, p.id)] for p in people]))
    return ConversationHandler.END


AREA_ERRORS = {"bad_name": N_("the name is empty, too long or has a “/”"),
               "too_deep": N_("a building cannot have sub-areas"),
               "archived": N_("this area is archived")}


async def reask_text(update: Update, context: BotContext) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(
            context._("Please type it as a message, or send /cancel."))


async def cancel(update: Update, context: BotContext) -> int:
    if context.user_data is not None:
        context.user_data.pop("directory_pending", None)
    if update.effective_message is not None:
        await update.effective_message.reply_text(context._("Cancelled. Nothing was changed."))
    return ConversationHandler.END


# -- /team --------------------------------------------------------------------------------

async def team_command(update: Update, context: BotContext) -> None:
    """The teams this person manages: staff, their area's; leaders, their own."""
    message = update.effective_message
    if message is None:
        return
    if not can(context.actor, Permission.MANAGE_TEAM):
        await _refuse(update, context)
        return
    if not await in_private(update, context):
        return
    await message.reply_text(**await _team_list(context, 0))


async def _team_list(context: BotContext, page: int) -> dict[str, object]:
    _ = context._
    actor = context.actor
    scope = directory_scope(actor)
    async with context.services.session_factory() as session:
        teams, total = await team_service.teams_in_scope(
            session, scope_path=scope, team_ids=actor.led_team_ids if actor else frozenset(),
            offset=page * PAGE, limit=PAGE)
    rows = pick_list([(t.id, f"{t.name} ({t.members})") for t in teams], "tv", page=page,
                     pages=-(-total // PAGE), page_action="tl", page_arg=1)
    if scope is not None and actor is not None and actor.area_path:
        rows.append([button(_("➕ New team"), "tnew",
                            area_service.ancestor_ids(actor.area_path)[-1])])
    return {"text": _("Your teams. Tap one to see its members:"), "reply_markup": markup(rows)}


# What each team button asks of the person: the team screen shows a button only to those
# this allows, and its press (and the typed answer after it) asks the very same question.
# Leaders add and remove members; naming leaders, renaming, moving and archiving are staff's.
TEAM_ACTIONS: dict[str, Permission] = {
    "tv": Permission.MANAGE_TEAM,  # the member list
    "tad": Permission.MANAGE_TEAM, "tap": Permission.MANAGE_TEAM,  # add (ask, pick)
    "trm": Permission.MANAGE_TEAM,  # remove
    "tld": Permission.MANAGE_DIRECTORY, "tun": Permission.MANAGE_DIRECTORY,  # leaders
    "tar": Permission.MANAGE_DIRECTORY,  # rename
    "tz": Permission.MANAGE_DIRECTORY, "tzs": Permission.MANAGE_DIRECTORY,  # zone
    "tax": Permission.MANAGE_DIRECTORY, "taxy": Permission.MANAGE_DIRECTORY,  # archive
}


def may_on_team(context: BotContext, action: str, team: team_service.Team,
                area: team_service.Area) -> bool:
    permission = TEAM_ACTIONS.get(action)
    return permission is not None and can(context.actor, permission, area_path=area.path,
                                          team_id=team.id)


async def _team_if_allowed(
    update: Update, context: BotContext, team_id: int, action: str
) -> tuple[team_service.Team, team_service.Area] | None:
    """The team and its zone if this person may do `action` on it; else they were told."""
    async with context.services.session_factory() as session:
        found = await team_service.get_team(session, team_id=team_id)
    if found is None or found[0].archived:
        await _stale(update, context)
        return None
    if not may_on_team(context, action, *found):
        await _refuse(update, context)
        return None
    return found


async def _team_view(context: BotContext, team_id: int, mode: str = "") -> dict[str, object]:
    _ = context._
    async with context.services.session_factory() as session:
        found = await team_service.get_team(session, team_id=team_id)
        members = await team_service.members_of(session, team_id=team_id)
    assert found is not None
    team, _area = found
    lines = [ngettext(_, "{team}: {count} member", "{team}: {count} members",
                      len(members)).format(team=team.name, count=len(members))]
    for m in members:
        mark = "⭐ " if m.is_leader else "· "
        pending = " " + _("(not yet on Telegram)") if m.pending else ""
        lines.append(f"{mark}{m.name} {m.phone or ''}{pending}")
    if mode in {"trm", "tld", "tun"}:
        chosen = [m for m in members if (mode != "tld" or not m.is_leader)
                  and (mode != "tun" or m.is_leader)][:12]
        rows = [[button(m.name, mode, team_id, m.person_id)] for m in chosen]
        rows.append([button(_("◀ Back"), "tv", team_id)])
        lines.append("")
        lines.append({"trm": _("Tap the person to remove:"), "tld": _("Tap the new leader:"),
                      "tun": _("Tap the leader to step down:")}[mode])
    else:
        layout = [[(_("➕ Add member"), "tad", None), (_("➖ Remove"), "trm", 0)],
                  [(_("⭐ Make leader"), "tld", 0), (_("Leader steps down"), "tun", 0)],
                  [(_("✏️ Rename"), "tar", None), (_("📍 Change zone"), "tz", 0)],
                  [(_("🗄 Archive team"), "tax", None)]]
        rows = [row for row in ([button(text, action, team_id, b) for text, action, b in line
                                 if may_on_team(context, action, team, _area)]
                                for line in layout) if row]
        rows.insert(1, [button(_("🔗 Invite link"), "it", team_id)])  # it checks each role
        if may_on_team(context, "tz", team, _area):
            zone = await _zone_label(context, _area.path)
            lines.insert(1, _("Zone: {area}").format(area=zone))
        rows.append([button(_("◀ Back"), "tl", 1, 0)])
    return {"text": "\n".join(lines), "reply_markup": markup(rows)}


async def _zone_label(context: BotContext, path: str) -> str:
    async with context.services.session_factory() as session:
        return await area_service.label(session, path=path)


async def _zone_view(context: BotContext, team: team_service.Team, page: int) -> dict[str, object]:
    """The areas of the team's community to move its zone to, a page at a time."""
    _ = context._
    async with context.services.session_factory() as session:
        areas, total = await team_service.zone_choices(session, team=team, offset=page * PAGE,
                                                       limit=PAGE)
        names = await area_service.labels(session, paths=[a.path for a in areas])
    rows = [[button(("✅ " if a.id == team.area_id else "") + names[a.path], "tzs", team.id,
                    a.id)] for a in areas]
    nav = []
    if page > 0:
        nav.append(button("«", "tz", team.id, page - 1))
    if (page + 1) * PAGE < total:
        nav.append(button("»", "tz", team.id, page + 1))
    if nav:
        rows.append(nav)
    rows.append([button(_("◀ Back"), "tv", team.id)])
    return {"text": _("Where does {team} work? Tap the area:").format(team=team.name),
            "reply_markup": markup(rows)}


# -- buttons ----------------------------------------------------------------------------------

async def pressed(update: Update, context: BotContext, press: DirCallback) -> None:
    """Area and team buttons that need no typing."""
    query = update.callback_query
    assert query is not None
    _ = context._
    actor = context.actor
    actor_id = actor.person_id if actor else None
    if press.action == "ab":
        if not await _area_allowed(context, press.a):
            await _refuse(update, context)
            return
        await query.answer()
        await query.edit_message_text(**await _area_view(context, press.a, press.b))
        return
    if press.action in {"ax", "axy"}:
        if press.a == 0 or not await _area_allowed(context, press.a):
            await _refuse(update, context)
            return
        if press.action == "ax":
            await query.answer()
            await query.edit_message_text(
                _("Archive this area and everything under it? It will no longer be offered."),
                reply_markup=markup([[button(_("Yes, archive"), "axy", press.a),
                                      button(_("◀ Back"), "ab", press.a, 0)]]))
            return
        async with transaction(context.services.session_factory) as session:
            area = await area_service.get_area(session, area_id=press.a)
            assert area is not None
            count = await area_service.archive_area(session, area=area, actor_id=actor_id)
        await query.answer()
        await query.edit_message_text(ngettext(
            _, "Archived {count} area.", "Archived {count} areas.", count).format(count=count))
        return
    if press.action == "tl":
        if not can(actor, Permission.MANAGE_TEAM):
            await _refuse(update, context)
            return
        await query.answer()
        await query.edit_message_text(**await _team_list(context, press.b))
        return
    found = await _team_if_allowed(update, context, press.a, press.action)
    if found is None:
        return
    team, area = found
    if press.action == "tv" or (press.action in {"trm", "tld", "tun"} and press.b == 0):
        await query.answer()
        mode = "" if press.action == "tv" else press.action
        await query.edit_message_text(**await _team_view(context, team.id, mode))
        return
    if press.action == "tax":
        await query.answer()
        await query.edit_message_text(
            _("Archive {team}? It will no longer be offered, and its members stay in the "
              "records.").format(team=team.name),
            reply_markup=markup([[button(_("Yes, archive"), "taxy", team.id),
                                  button(_("◀ Back"), "tv", team.id)]]))
        return
    if press.action == "tz":
        await query.answer()
        await query.edit_message_text(**await _zone_view(context, team, press.b))
        return
    if press.action in {"taxy", "tzs"}:
        async with transaction(context.services.session_factory) as session:
            db_team = await session.get(team_service.Team, team.id)
            assert db_team is not None
            if press.action == "taxy":
                await team_service.archive_team(session, team=db_team, actor_id=actor_id)
            else:
                choices = await area_service.get_area(session, area_id=press.b)
                community = team_service.community_path(area.path)
                if (choices is None or choices.archived
                        or not choices.path.startswith(community)
                        or not can(actor, Permission.MANAGE_DIRECTORY, area_path=choices.path)):
                    await _stale(update, context)
                    return
                await team_service.set_zone(session, team=db_team, area=choices,
                                            actor_id=actor_id)
        await query.answer(_("Saved."))
        if press.action == "taxy":
            await query.edit_message_text(_("{team} is archived.").format(team=team.name))
        else:
            await query.edit_message_text(**await _team_view(context, team.id))
        return
    async with transaction(context.services.session_factory) as session:
        if press.action == "tap":
            person = await session.get(Person, press.b)
            community = "/".join(area.path.split("/")[:3]) + "/"
            if person is None or not await person_in_scope(session, person_id=person.id,
                                                           scope_path=community):
                await _stale(update, context)
                return
            db_team = await session.get(team_service.Team, team.id)
            assert db_team is not None
            await team_service.add_member(session, team=db_team, person=person,
                                          actor_id=actor_id)
            done = True
        elif press.action == "trm":
            done = await team_service.remove_member(session, team_id=team.id,
                                                    person_id=press.b, actor_id=actor_id)
        else:
            done = await team_service.set_leader(session, team_id=team.id, person_id=press.b,
                                                 leader=press.action == "tld",
                                                 actor_id=actor_id)
    if not done:
        await _stale(update, context)
        return
    await query.answer(_("Saved."))
    await query.edit_message_text(**await _team_view(context, team.id))


TEXT_BUTTONS = r"^dir:(aa|ar|tnew|tad|tar):\d{1,12}$"


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    typing = InstanceSafeConversationHandler(
        entry_points=[CallbackQueryHandler(ask_text, pattern=TEXT_BUTTONS)],
        states={
            state: [MessageHandler(filters.TEXT & ~filters.COMMAND, text_received),
                    MessageHandler(filters.ALL & ~filters.COMMAND, reask_text)]
            for state in TextState
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        conversation_timeout=TIMEOUT,
        name="directory_typing",
        persistent=True,
    )
    return [
        typing,
        CommandHandler("areas", areas_command),
        CommandHandler("team", team_command),
    ]
