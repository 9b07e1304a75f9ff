"""Every button the bot showed anyone, pressed again by outsiders: nothing may change.

The demo's story (two communities, linked groups, a schedule, a campaign, a patrol post) is
driven by its own people through the features; every inline button any chat received (also
on messages edited or deleted since) is collected. Then a stranger, a registered resident,
and the staff member and team leader of the community next door press each one with forged
callback data, in their private chats and in the groups where the button lived. After each
press the database must be as before and no chat but the presser's own may have received
or lost anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import all_metadata, transaction
from bot.directory.models import Person
from tests.demo.story import SCAM_TEXT, Story, seed
from tests.fake_telegram import FakeGroup, FakeTelegram, FakeUser, RecordedMessage
from tests.support import BotRunner
from tests.tipoff_support import report

#: Tables that change on any update whoever sends it, each for a reason of its own:
#: `seen_updates` holds every update id (the replay check); `persisted_states` the
#: conversations' and user_data's state, kept per person (the presser's own).
CHANGES_ON_ANY_UPDATE = frozenset({"seen_updates", "persisted_states"})

#: Buttons that act for the presser alone, in their own chat: whoever presses them changes
#: their own things, so these are replayed last and may change only these tables (and still
#: reach nobody else). `None`: any outsider; otherwise only the outsiders named.
SELF_SERVICE: dict[str, tuple[frozenset[str], frozenset[str] | None]] = {
    # One's own language; a stranger's first press registers them, as /start would.
    "lang:": (frozenset({"people"}), None),
    # One's own home area and topics (staff cannot move their own area: see
    # test_forged_registration_press_cannot_move_staff_to_a_wider_area).
    "reg:": (frozenset({"people", "subscriptions", "audit_log"}), None),
    "me:": (frozenset({"people", "subscriptions", "audit_log"}), None),
    # One's own report draft, and what to do with one's own text: each outsider presses in
    # their private chat on the choices their own "你好" got, which quote it.
    "tr:": (frozenset({"tipoff_drafts"}), None),
    "ft:": (frozenset({"tipoff_drafts"}), None),
    "sc:tell": (frozenset({"tipoff_drafts"}), None),
    "qa:anon:": (frozenset({"questions", "bc_broadcast", "bc_delivery"}), None),
    # A campaign or sensitive period for the presser's own community: the staff member next
    # door may start one there (the button's data names no area; it is the presser's).
    "cmp:l:": (frozenset({"campaigns", "schedules", "sensitive_periods", "audit_log"}),
               frozenset({"other community's staff"})),
    "sp:on:": (frozenset({"sensitive_periods", "audit_log"}),
               frozenset({"other community's staff"})),
}


def replayed(buttons: dict[str, Button]) -> list[Button]:
    """One button of each shape (the data with its numbers as #: `tp:c:17` and `tp:c:18`
    are one shape), preferring one that lived in a group; those acting for the presser last,
    so until then every outsider is still who they were."""
    chosen: dict[str, Button] = {}
    for data in sorted(buttons):
        shape = re.sub(r"\d+", "#", data)
        if shape not in chosen or (buttons[data].chat_ids and min(buttons[data].chat_ids) < 0
                                   and min(chosen[shape].chat_ids) > 0):
            chosen[shape] = buttons[data]
    return sorted(chosen.values(), key=lambda b: (self_service(b.data) is not None, b.data))


def self_service(data: str) -> tuple[frozenset[str], frozenset[str] | None] | None:
    return next((rule for prefix, rule in SELF_SERVICE.items() if data.startswith(prefix)),
                None)


@dataclass
class Button:
    """One callback_data, and the chats whose messages carried it."""

    data: str
    chat_ids: set[int] = field(default_factory=set)


def known(user_record: Any, fake: FakeTelegram) -> FakeUser:
    """The story's people were made as the fake's records: a handle to act as one."""
    return FakeUser(fake, user_record)


async def snapshot(session_factory: async_sessionmaker[AsyncSession]) -> dict[str, list[str]]:
    """Every row of every table but those changing on any update, in a stable order."""
    rows: dict[str, list[str]] = {}
    async with session_factory() as session:
        for metadata in all_metadata():
            for table in metadata.sorted_tables:
                if table.name in CHANGES_ON_ANY_UPDATE:
                    continue
                result = await session.execute(select(table))
                rows[table.name] = sorted(repr(tuple(row)) for row in result)
    return rows


def chats_state(fake: FakeTelegram, except_chat: int) -> dict[int, list[tuple[Any, ...]]]:
    """What every chat but `except_chat` shows: messages, their edits, pins and deletions."""
    return {
        chat_id: [(m.message_id, m.text, m.caption, json.dumps(m.reply_markup, sort_keys=True),
                   m.deleted, m.pinned, len(m.edits)) for m in chat.messages.values()]
        for chat_id, chat in fake.chats.items() if chat_id != except_chat
    }


def callback_data(message: RecordedMessage) -> Iterable[str]:
    """The callback_data of a message's inline keyboards, now and before each edit."""
    markups = [message.reply_markup, *(edit.get("reply_markup") for edit in message.edits)]
    for markup in markups:
        for row in (markup or {}).get("inline_keyboard", []):
            for button in row:
                if "callback_data" in button:
                    yield button["callback_data"]


def collect(fake: FakeTelegram) -> dict[str, Button]:
    """Every callback_data the bot ever showed, in any chat, by data."""
    buttons: dict[str, Button] = {}
    for chat_id, chat in fake.chats.items():
        for message in chat.messages.values():
            if not message.from_bot:
                continue
            for data in callback_data(message):
                buttons.setdefault(data, Button(data)).chat_ids.add(chat_id)
    return buttons


async def explore(user: FakeUser, text: str, *, chat: FakeGroup | None = None,
                  budget: int = 6, pressed: set[tuple[int, str]]) -> None:
    """Send `text` and press through what comes back, breadth first, `budget` presses."""
    fake = user.fake
    chat_id = chat.id if chat is not None else user.id
    first = fake.chats[chat_id].next_message_id
    await user.send(text, chat=chat)
    for _ in range(budget):
        candidates = [(m, d) for m in fake.messages_to(chat_id) if m.message_id >= first
                      for d in callback_data(m) if m.button(data=d) is not None
                      and (user.id, d) not in pressed]
        if not candidates:
            return
        message, data = candidates[0]
        pressed.add((user.id, data))
        await user.press(data=data, message=message)


async def press_first(user: FakeUser, prefix: str, chat: FakeGroup | None = None) -> None:
    """Press the newest button whose callback_data starts with `prefix`."""
    for message in reversed(user.fake.messages_to(chat.id if chat else user.id)):
        for data in callback_data(message):
            if data.startswith(prefix) and message.button(data=data) is not None:
                await user.press(data=data, message=message)
                return
    raise LookupError(f"{user} has no button {prefix}…")


async def drive(fake: FakeTelegram, story: Story, groups: dict[str, FakeGroup],
                linkable: FakeGroup) -> None:
    """The story's people use the features; what they leave open stays open (an unclaimed
    card, an unanswered question, an alert nobody acknowledged, a rating not given)."""
    users = {p.key: known(fake.users[p.user_id], fake) for p in story.personas}
    staff, leader, member, resident, admin = (users[k] for k in
                                              ("cadre", "leader", "member", "resident", "admin"))
    patrol = groups["patrol"]
    pressed: set[tuple[int, str]] = set()
    await resident.send("/start")
    await press_first(resident, "lang:zh-CN")
    # A report the patrol team claims and resolves (its reporter is asked for a rating),
    # and one left open on the group's card.
    await report(resident, anonymous=False, album=0)
    await leader.press(text="✋ 认领", chat=patrol)
    await leader.press(text="✅ 已办结", chat=patrol)
    await report(resident, anonymous=True, album=0, text="楼道里堆满了纸箱")
    await leader.press(text="↪️ 转给其他队", chat=patrol)
    # A question to the community's staff, left unanswered.
    await resident.send("小区什么时候恢复供水？")
    await resident.press("💬 向社区干部咨询")
    await resident.press("🙈 不留名字")
    # A forwarded scam: its answer's buttons.
    await fake.user_message(resident.record, None, text=SCAM_TEXT, forward_origin={
        "type": "hidden_user", "sender_user_name": "95588客服", "date": 1_700_000_000})
    # An alert to the patrol team that nobody acknowledges.
    await leader.send("/alert")
    await press_first(leader, "al:t:")
    await press_first(leader, "al:ok")
    await leader.send("今晚有暴雨，请检查地下车库排水。")
    await press_first(leader, "al:s:")
    await press_first(leader, "al:r:")
    await press_first(leader, "al:go")
    await fake.wait_for(lambda: any(callback_data(m) for m in member.messages
                                    if "暴雨" in (m.text or "")))
    # A group the staff member starts to link, and the group's language.
    await staff.send("/link", chat=linkable)
    await staff.send("/language", chat=groups["community"])
    for person, text in [
        (resident, "/me"), (resident, "/mytips"), (resident, "/mydata"), (resident, "/check"),
        (member, "/duty"), (member, f"/start {story.post_payload}"), (member, "/mydata"),
        (leader, "/team"), (leader, "/invite"), (leader, "/shifts"), (leader, "/today"),
        (leader, "/posts"), (leader, "/figures"),
        (staff, "/areas"), (staff, "/people 王"), (staff, "/export"), (staff, "/import"),
        (staff, "/broadcast"), (staff, "/broadcasts"), (staff, "/schedules"),
        (staff, "/schedule"), (staff, "/campaigns"), (staff, "/sensitive"),
        (staff, "/quiethours"), (staff, "/routing"), (staff, "/posts"), (staff, "/figures"),
        (staff, "/team"), (staff, "/invite"),
        (admin, "/audit"), (admin, "/areas"),
        (member, "/me"), (staff, "/me"),
    ]:
        await explore(person, text, pressed=pressed)


def differences(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, Any]:
    """Per changed table, the rows gone and the rows new."""
    changed = {}
    for table in before:
        gone = sorted(set(before[table]) - set(after[table]))
        new = sorted(set(after[table]) - set(before[table]))
        if gone or new:
            changed[table] = {"gone": gone, "new": new}
    return changed


def reached(before: dict[int, list[tuple[Any, ...]]],
            after: dict[int, list[tuple[Any, ...]]]) -> dict[int, list[tuple[Any, ...]]]:
    """Per chat whose messages changed, the messages new or different."""
    return {chat_id: [m for m in after[chat_id] if m not in before.get(chat_id, [])]
            for chat_id in after if after[chat_id] != before.get(chat_id)}


async def quiet_world(bot: BotRunner, fake: FakeTelegram) -> None:
    """Stop what changes the world on its own: the scheduler's jobs (reminders, re-notify
    scans, schedules) and the outbox dispatcher, after what is due went out. A press that
    queues a message then shows as new outbox rows, whenever the test runs."""
    await fake.settle(quiet=1.0)
    application = bot.application
    assert application is not None and application.job_queue is not None
    application.job_queue.scheduler.pause()
    services = application.bot_data["services"]
    dispatcher, services.dispatcher = services.dispatcher, None
    if dispatcher is not None:
        await dispatcher.stop(drain=True)
    await fake.settle(quiet=0.5)


async def test_every_button_pressed_by_an_outsider_changes_nothing(
    bot: BotRunner, fake: FakeTelegram, session_factory: async_sessionmaker[AsyncSession],
    database_url: str,
) -> None:
    story = await seed(fake, database_url)
    groups = {key: FakeGroup(fake, fake.chats[chat_id]) for key, chat_id in story.groups.items()}
    staff = known(fake.users[story.persona("cadre").user_id], fake)
    stranger = fake.user("路人甲")
    neighbour = known(fake.users[story.persona("neighbour2").user_id], fake)
    other_staff, other_leader = fake.user("赵干部"), fake.user("钱队长")
    async with transaction(session_factory) as session:
        for user in (other_staff, other_leader):
            await session.execute(update(Person).where(Person.name == user.first_name)
                                  .values(telegram_id=user.id))
    await bot.restart(admin_ids=story.admin_ids)
    linkable = fake.group("8栋楼道群", [staff])
    await fake.add_bot(linkable, staff)
    groups["linkable"] = linkable
    await drive(fake, story, groups, linkable)
    buttons = collect(fake)

    outsiders = {"stranger": stranger, "registered resident": neighbour,
                 "other community's staff": other_staff,
                 "other community's leader": other_leader}
    own_message: dict[int, RecordedMessage] = {}
    for user in outsiders.values():
        for group in groups.values():
            group.add_member(user)
        # A message of their own to press on in their private chat: the choices any text
        # no feature takes gets (which registers nobody).
        own_message[user.id] = (await user.send("你好"))[-1]
    await quiet_world(bot, fake)
    async with session_factory() as session:
        assert await session.scalar(select(Person.id).where(
            Person.telegram_id == stranger.id)) is None, "the stranger is still a stranger"
    holes: list[str] = []
    rows = await snapshot(session_factory)
    for button in replayed(buttons):
        rule = self_service(button.data)
        carriers: list[RecordedMessage | None] = [None]  # None: the presser's own message
        carriers += [next(m for m in reversed(fake.messages_to(group.id, include_deleted=True))
                          if button.data in callback_data(m))
                     for group in groups.values() if group.id in button.chat_ids]
        for label, user in outsiders.items():
            for carrier in carriers:
                message = carrier or own_message[user.id]
                chats = chats_state(fake, user.id)
                await user.press(data=button.data, message=message, forged=True, quiet=0.02)
                after = await snapshot(session_factory)
                changed, rows = differences(rows, after), after
                if rule is not None and carrier is None and (rule[1] is None or label in rule[1]):
                    changed = {t: c for t, c in changed.items() if t not in rule[0]}
                sent = reached(chats, chats_state(fake, user.id))
                if changed or sent:
                    holes.append(f"{button.data} pressed by the {label} in chat "
                                 f"{message.chat_id}: tables {changed}, chats {sent}")
    assert not holes, "\n".join(holes)
