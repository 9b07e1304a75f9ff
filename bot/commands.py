"""The command menus: which commands each person sees, in their language.

`setMyCommands` takes two-letter language codes only, so zh-CN and zh-TW share
`zh`: the shared menus are for residents and strangers in zh-CN and English,
and a zh-TW speaker or anyone with more rights gets a menu of their own
(`BotCommandScopeChat`).
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError

from bot.auth import Actor, Standing
from bot.i18n import N_, translator


@dataclass(frozen=True)
class CommandSpec:
    name: str
    description: str  # an N_() msgid
    standing: Standing = Standing.STRANGER


COMMANDS: list[CommandSpec] = [
    # Everyone: what a resident needs most comes first in the menu.
    CommandSpec("start", N_("Start and choose your language")),
    CommandSpec("report", N_("Report a problem (a photo helps; you can stay anonymous)")),
    CommandSpec("mytips", N_("My reports and questions")),
    CommandSpec("ask", N_("Ask the community staff a question")),
    CommandSpec("check", N_("Check a message for scams (forward it to me)")),
    CommandSpec("help", N_("What I can do for you")),
    CommandSpec("language", N_("Change language")),
    CommandSpec("me", N_("My teams, area and subscriptions"), Standing.RESIDENT),
    CommandSpec("leave", N_("Stop receiving messages"), Standing.RESIDENT),
    # Patrol members: their shifts and signing in.
    CommandSpec("duty", N_("My patrol shifts; sign in at my post"), Standing.MEMBER),
    CommandSpec("mydata", N_("What you keep about me"), Standing.RESIDENT),
    # Team leaders: their team, its group chat, alerts to it.
    CommandSpec("alert", N_("Send an emergency alert (with “Received” confirmations)"),
                Standing.LEADER),
    CommandSpec("allclear", N_("End an alert: /allclear <number> [message]"), Standing.LEADER),
    CommandSpec("team", N_("My team: members and leaders"), Standing.LEADER),
    CommandSpec("invite", N_("Invite link and QR code for a team"), Standing.LEADER),
    CommandSpec("figures", N_("Monthly figures: charts and a spreadsheet for the meeting"),
                Standing.LEADER),
    CommandSpec("link", N_("Link a group chat to a team or area (send it in the group)"),
                Standing.LEADER),
    CommandSpec("unlink", N_("Unlink a group chat (send it in the group)"), Standing.LEADER),
    CommandSpec("today", N_("Today's patrol board: who is on duty, late, missing"),
                Standing.LEADER),
    CommandSpec("posts", N_("Patrol posts and their QR sign-in signs"), Standing.LEADER),
    CommandSpec("shifts", N_("Patrol shifts and the duty roster (排班表)"), Standing.LEADER),
    # Staff: messages, schedules, the directory, tip-off handling.
    CommandSpec("broadcast", N_("Send a tip, notice or task to teams and residents"),
                Standing.STAFF),
    CommandSpec("broadcasts", N_("My recent messages: who got them; stop what is waiting"),
                Standing.STAFF),
    CommandSpec("schedules", N_("Scheduled messages: next times, pause, change, delete"),
                Standing.STAFF),
    CommandSpec("schedule", N_("Schedule a message: once, daily, weekly, monthly"),
                Standing.STAFF),
    CommandSpec("campaigns", N_("Sensitive-period campaigns: extra daily reminders"),
                Standing.STAFF),
    CommandSpec("sensitive", N_("Sensitive period: sooner reminders for alerts"), Standing.STAFF),
    CommandSpec("quiethours", N_("Quiet hours of my community (no tips at night)"),
                Standing.STAFF),
    CommandSpec("areas", N_("Areas: communities, grids, buildings"), Standing.STAFF),
    CommandSpec("people", N_("Find a person by name or phone"), Standing.STAFF),
    CommandSpec("import", N_("Import a roster from CSV or Excel"), Standing.STAFF),
    CommandSpec("importareas", N_("Import areas from CSV or Excel"), Standing.STAFF),
    CommandSpec("export", N_("Download the roster as Excel"), Standing.STAFF),
    CommandSpec("routing", N_("Choose which team gets each kind of report"), Standing.STAFF),
    CommandSpec("tipblock", N_("Stop the sender of a report from reporting (give its code)"),
                Standing.STAFF),
    CommandSpec("tipunblock", N_("Let a blocked reporter report again (give the code)"),
                Standing.STAFF),
    # Administrators only.
    CommandSpec("reveal", N_("See who sent an anonymous report (with a reason; audited)"),
                Standing.ADMIN),
]


def commands_for(standing: Standing) -> list[CommandSpec]:
    return [spec for spec in COMMANDS if spec.standing <= standing]


def bot_commands(standing: Standing, language: str) -> list[BotCommand]:
    _ = translator(language)
    return [BotCommand(spec.name, _(spec.description)) for spec in commands_for(standing)]


async def publish_shared_menus(bot: Bot, default_language: str) -> None:
    """The menus everyone without a menu of their own sees."""
    await bot.set_my_commands(bot_commands(Standing.RESIDENT, default_language),
                              scope=BotCommandScopeDefault())
    await bot.set_my_commands(bot_commands(Standing.RESIDENT, "zh-CN"),
                              scope=BotCommandScopeDefault(), language_code="zh")
    await bot.set_my_commands(bot_commands(Standing.RESIDENT, "en"),
                              scope=BotCommandScopeDefault(), language_code="en")


async def publish_personal_menu(bot: Bot, actor: Actor) -> None:
    """Give this person the menu for their standing and language, or the shared one."""
    scope = BotCommandScopeChat(chat_id=actor.telegram_id)
    try:
        if actor.standing <= Standing.RESIDENT and actor.language != "zh-TW":
            await bot.delete_my_commands(scope=scope)
        else:
            await bot.set_my_commands(bot_commands(actor.standing, actor.language), scope=scope)
    except TelegramError:
        # A menu is a convenience; the command itself still checks rights.
        pass
