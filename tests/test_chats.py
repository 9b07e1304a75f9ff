"""Group chats end to end: the bot joins, is linked by staff with buttons, is removed,
follows a migration to a supergroup; a person blocks the bot in private."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.audit import AuditEntry
from bot.db import transaction
from bot.directory.audience import AudienceSpec, resolve_audience
from bot.directory.models import Chat, ChatStatus, Role
from broadcasts.models import Base as BroadcastsBase
from tests.factories import Cast, add_to_team, make_cast, make_person
from tests.fake_telegram import FakeGroup, FakeTelegram, FakeUser
from tests.support import BotRunner

Factory = async_sessionmaker[AsyncSession]
HELLO = "大家好！我是社区平安小助手"
PIN_TIP = "请把我设为管理员并允许置顶消息"


@dataclass
class Scene:
    cast: Cast
    staff: FakeUser
    leader: FakeUser
    resident: FakeUser
    stranger: FakeUser
    other_staff: FakeUser


@pytest.fixture
async def scene(fake: FakeTelegram, session_factory: Factory) -> Scene:
    async with session_factory() as session:
        # The broadcasts engine's tables may not have their migration yet.
        await (await session.connection()).run_sync(
            lambda sync: BroadcastsBase.metadata.create_all(sync, checkfirst=True))
        await session.commit()
    staff, leader, resident = fake.user("李干部"), fake.user("王队长"), fake.user("陈阿姨")
    stranger, other_staff = fake.user("路人"), fake.user("赵干部")
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        cast.staff.telegram_id = staff.id
        cast.leader.telegram_id = leader.id
        cast.resident.telegram_id = resident.id
        cast.other_staff.telegram_id = other_staff.id
    return Scene(cast, staff, leader, resident, stranger, other_staff)


async def chat_row(factory: Factory, telegram_chat_id: int) -> Chat | None:
    async with factory() as session:
        return await session.scalar(select(Chat).where(Chat.telegram_chat_id == telegram_chat_id))


async def all_chat_rows(factory: Factory) -> list[Chat]:
    async with factory() as session:
        return list(await session.scalars(select(Chat).order_by(Chat.id)))


async def added_group(fake: FakeTelegram, scene: Scene, *, supergroup: bool = False) -> FakeGroup:
    group = fake.group("龙江路巡逻群", [scene.staff, scene.leader, scene.resident, scene.stranger],
                       supergroup=supergroup)
    await fake.add_bot(group, by=scene.staff)
    return group


async def test_the_bot_added_to_a_group_registers_it_and_says_hello_once(
    bot: BotRunner, fake: FakeTelegram, session_factory: Factory, scene: Scene
) -> None:
    group = await added_group(fake, scene)
    # Telegram sends both my_chat_member and the new_chat_members message: one hello.
    assert [m.text for m in group.messages if HELLO in (m.text or "")] == [group.messages[0].text]
    assert PIN_TIP in group.messages[0].text
    row = await chat_row(session_factory, group.id)
    assert row is not None
    assert (row.type, row.title, row.status, row.can_pin) == (
        "group", "龙江路巡逻群", ChatStatus.ACTIVE, False)
    await fake.promote_bot(group, by=scene.staff, can_pin=True)
    row = await chat_row(session_factory, group.id)
    assert row is not None and row.can_pin is True
    assert len(group.messages) == 1  # promotion is not a second arrival


async def test_staff_link_a_group_with_buttons_and_others_are_refused(
    bot: BotRunner, fake: FakeTelegram, session_factory: Factory, scene: Scene
) -> None:
    group = await added_group(fake, scene)
    # A resident may not even see the choices.
    replies = await scene.resident.send("/link", chat=group)
    assert [r.text for r in replies] == ["抱歉，只有社区干部或队长可以关联本群。"]
    assert (await chat_row(session_factory, group.id)).team_id is None  # type: ignore[union-attr]

    await scene.staff.send("/link", chat=group)
    choices = group.last_message
    assert choices.text == "本群属于哪个队伍或区域？请点选："
    labels = [row[0] for row in choices.buttons]
    assert "队伍：治安巡逻队" in labels and "社区：龙江路社区" in labels and "网格：3网格" in labels
    # Nothing from the other community, and no buildings.
    assert not any("青石桥" in label or "1网格" in label or "12栋" in label for label in labels)

    # A stranger presses the staff's button: refused with an alert, nothing changes.
    await scene.stranger.press("队伍：治安巡逻队", chat=group)
    answer = scene.stranger.last_callback_answer
    assert answer is not None and answer.show_alert
    assert answer.text == "抱歉，只有社区干部或队长可以操作。"
    assert group.last_message.text == choices.text
    # Staff of the neighbouring community is refused the same way (forged data too).
    await scene.other_staff.press(data=f"chl:t:{scene.cast.team.id}", chat=group)
    answer = scene.other_staff.last_callback_answer
    assert answer is not None and answer.show_alert and "不能把群关联到" in answer.text
    row = await chat_row(session_factory, group.id)
    assert row is not None and row.team_id is None and row.area_id is None

    await scene.staff.press("队伍：治安巡逻队", chat=group)
    assert group.last_message.text == "好了！本群已关联到队伍：治安巡逻队，相关通知会发到这里。"
    row = await chat_row(session_factory, group.id)
    assert row is not None and (row.team_id, row.area_id) == (scene.cast.team.id, None)

    # Relinking to an area replaces the team; /unlink removes it; each is audited.
    await scene.staff.send("/link", chat=group)
    assert group.last_message.text.startswith("本群目前关联的是：队伍：治安巡逻队。")
    await scene.staff.press("社区：龙江路社区", chat=group)
    row = await chat_row(session_factory, group.id)
    assert row is not None and (row.team_id, row.area_id) == (None, scene.cast.tree.community.id)
    replies = await scene.resident.send("/unlink", chat=group)
    assert replies[-1].text == "抱歉，只有社区干部或队长可以解除本群的关联。"
    replies = await scene.staff.send("/unlink", chat=group)
    assert replies[-1].text == "好了，本群已不再关联社区：龙江路社区。"
    row = await chat_row(session_factory, group.id)
    assert row is not None and (row.team_id, row.area_id) == (None, None)
    async with session_factory() as session:
        entries = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [(e.action, e.actor_id, e.object_id) for e in entries] == [
        ("chat.link", scene.cast.staff.id, row.id), ("chat.link", scene.cast.staff.id, row.id),
        ("chat.unlink", scene.cast.staff.id, row.id)]
    assert entries[0].after == {"team_id": scene.cast.team.id, "area_id": None,
                                "thread_id": None}


async def test_a_leader_may_link_a_group_to_their_own_team_only(
    bot: BotRunner, fake: FakeTelegram, session_factory: Factory, scene: Scene
) -> None:
    group = await added_group(fake, scene)
    await scene.staff.send("/link", chat=group)
    # The leader presses the staff's area button: not theirs to choose.
    await scene.leader.press("社区：龙江路社区", chat=group)
    answer = scene.leader.last_callback_answer
    assert answer is not None and answer.show_alert and "不能把群关联到" in answer.text
    assert (await chat_row(session_factory, group.id)).area_id is None  # type: ignore[union-attr]
    await scene.leader.send("/link", chat=group)
    assert group.last_message.buttons == [["队伍：治安巡逻队"], ["取消"]]
    await scene.leader.press("队伍：治安巡逻队", chat=group)
    row = await chat_row(session_factory, group.id)
    assert row is not None and row.team_id == scene.cast.team.id


async def test_someone_elses_link_picker_can_be_neither_paged_nor_closed(
    bot: BotRunner, fake: FakeTelegram, session_factory: Factory, scene: Scene
) -> None:
    """Found by tests/test_press_replay.py: the neighbouring community's staff turned the
    page of our staff's picker (their own teams then showed in the group) or closed it."""
    group = await added_group(fake, scene)
    await scene.staff.send("/link", chat=group)
    choices = group.last_message
    shown = (choices.text, choices.buttons)
    for data in ("chl:p:0", "chl:x"):
        await scene.other_staff.press(data=data, message=choices, forged=True)
        answer = scene.other_staff.last_callback_answer
        assert answer is not None and answer.show_alert
        assert answer.text == "这些按钮是发 /link 的人用的。请您自己发 /link 再选。"
        picker = fake.message(group.id, choices.message_id)
        assert (picker.text, picker.buttons) == shown
    await scene.staff.press("取消", chat=group)
    assert fake.message(group.id, choices.message_id).text == "好的，没有做任何更改。"


async def test_a_group_language_button_pressed_in_a_private_chat_changes_nothing(
    bot: BotRunner, fake: FakeTelegram, session_factory: Factory, scene: Scene
) -> None:
    """Found by tests/test_press_replay.py: forged in a private chat, it registered that
    chat as a group with a language of its own (and audited it)."""
    await scene.staff.send("/language")
    await scene.staff.press(data="chlang:en", forged=True)
    assert scene.staff.last_callback_answer.text == "这个按钮已经失效了。"  # type: ignore[union-attr]
    assert await chat_row(session_factory, scene.staff.id) is None
    async with session_factory() as session:
        assert await session.scalar(select(AuditEntry.id)) is None


async def test_link_in_a_private_chat_points_to_the_group(
    bot: BotRunner, fake: FakeTelegram, scene: Scene
) -> None:
    replies = await scene.staff.send("/link")
    assert [r.text for r in replies] == ["请在需要设置的群里发送这个命令。"]


async def test_the_group_language_is_for_staff_to_choose(
    bot: BotRunner, fake: FakeTelegram, session_factory: Factory, scene: Scene
) -> None:
    group = await added_group(fake, scene)
    replies = await scene.resident.send("/language", chat=group)
    assert replies[-1].text.startswith("抱歉，只有社区干部可以更改本群的语言。")
    await scene.staff.send("/language", chat=group)
    await scene.resident.press("繁體中文", chat=group)
    assert scene.resident.last_callback_answer.show_alert  # type: ignore[union-attr]
    assert (await chat_row(session_factory, group.id)).language is None  # type: ignore[union-attr]
    await scene.staff.press("English", chat=group)
    assert group.last_message.text == "Done! I will use English in this group from now on."
    assert (await chat_row(session_factory, group.id)).language == "en"  # type: ignore[union-attr]
    replies = await scene.resident.send("/link", chat=group)
    assert replies[-1].text == "Sorry, only community staff or a team leader can link this group."


async def test_the_bot_removed_from_a_group_stops_counting_it_and_comes_back_linked(
    bot: BotRunner, fake: FakeTelegram, session_factory: Factory, scene: Scene
) -> None:
    group = await added_group(fake, scene)
    await scene.staff.send("/link", chat=group)
    await scene.staff.press("队伍：治安巡逻队", chat=group)
    spec = AudienceSpec(team_ids={scene.cast.team.id}, include_linked_chats_of_teams=True)

    async def linked_groups() -> list[int]:
        async with session_factory() as session:
            return [r.chat_id async for r in resolve_audience(session, spec,
                                                              default_language="zh-CN")
                    if r.kind == "group"]

    assert await linked_groups() == [group.id]
    await fake.remove_bot(group, by=scene.staff)
    row = await chat_row(session_factory, group.id)
    assert row is not None and row.status is ChatStatus.LEFT
    assert row.team_id == scene.cast.team.id  # the link is kept for a return
    assert await linked_groups() == []
    hellos_before = len(group.messages)
    await fake.add_bot(group, by=scene.staff)
    row = await chat_row(session_factory, group.id)
    assert row is not None and row.status is ChatStatus.ACTIVE
    assert row.team_id == scene.cast.team.id
    assert len(group.messages) == hellos_before + 1 and HELLO in group.last_message.text
    assert await linked_groups() == [group.id]


async def test_a_migrated_group_keeps_its_link_under_the_new_id(
    bot: BotRunner, fake: FakeTelegram, session_factory: Factory, scene: Scene
) -> None:
    group = await added_group(fake, scene)
    await scene.staff.send("/link", chat=group)
    await scene.staff.press("网格：3网格", chat=group)
    await scene.staff.send("/language", chat=group)
    await scene.staff.press("繁體中文", chat=group)
    before = await chat_row(session_factory, group.id)
    assert before is not None

    supergroup = await fake.migrate(group, by=scene.staff)
    await fake.settle()
    rows = await all_chat_rows(session_factory)
    assert [(r.id, r.telegram_chat_id, r.type, r.status) for r in rows] == [
        (before.id, supergroup.id, "supergroup", ChatStatus.ACTIVE)]
    assert (rows[0].area_id, rows[0].language) == (scene.cast.tree.grid.id, "zh-TW")
    # The group goes on working under its new id, in its language.
    replies = await scene.staff.send("/link", chat=supergroup)
    assert replies[-1].text.startswith("本群目前關聯的是：網格：3网格。")


async def test_a_person_blocking_the_bot_is_left_out_until_they_return(
    bot: BotRunner, fake: FakeTelegram, session_factory: Factory, scene: Scene
) -> None:
    spec = AudienceSpec(area_ids={scene.cast.tree.community.id})

    async def reached() -> set[int]:
        async with session_factory() as session:
            return {r.chat_id async for r in resolve_audience(session, spec,
                                                              default_language="zh-CN")}

    assert scene.resident.id in await reached()
    await fake.block(scene.resident)
    row = await chat_row(session_factory, scene.resident.id)
    assert row is not None and (row.type, row.status) == ("private", ChatStatus.LEFT)
    assert scene.resident.id not in await reached()
    assert scene.staff.id in await reached()
    await fake.unblock(scene.resident)
    row = await chat_row(session_factory, scene.resident.id)
    assert row is not None and row.status is ChatStatus.ACTIVE
    assert scene.resident.id in await reached()


async def test_a_group_linked_to_a_team_is_not_taken_over_from_another_community(
    bot: BotRunner, fake: FakeTelegram, session_factory: Factory, scene: Scene
) -> None:
    """The patrol's group stays the patrol's: staff or a leader of the community next door
    can neither re-link it with /link nor with any press of the picker, forged or not."""
    rival = fake.user("孙队长")
    async with transaction(session_factory) as session:
        other_leader = await make_person(session, name="孙队长", role=Role.MEMBER,
                                         area=scene.cast.other.community, telegram_id=rival.id)
        await add_to_team(session, person=other_leader, team=scene.cast.other_team, leader=True)
    group = await added_group(fake, scene)
    group.add_member(scene.other_staff)
    group.add_member(rival)
    await scene.staff.send("/link", chat=group)
    await scene.staff.press("队伍：治安巡逻队", chat=group)
    linked = (scene.cast.team.id, None)
    taken = ("本群已经关联到队伍：治安巡逻队。只有该队的队长或所在社区的干部可以更改。")

    for user in (scene.other_staff, rival):
        replies = await user.send("/link", chat=group)
        assert [r.text for r in replies] == [taken]  # no picker with their own teams
    await scene.staff.send("/link", chat=group)  # a live picker to press on
    for data in (f"chl:t:{scene.cast.other_team.id}", f"chl:a:{scene.cast.other.community.id}",
                 "chl:p:0", "chl:x"):
        for user in (scene.other_staff, rival):
            await user.press(data=data, chat=group, forged=True)
            answer = user.last_callback_answer
            assert answer is not None and answer.show_alert and answer.text == taken
    row = await chat_row(session_factory, group.id)
    assert row is not None and (row.team_id, row.area_id) == linked
    async with session_factory() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert actions == ["chat.link"]

    # In the group's own language; the people who hold the link may still change it.
    await scene.staff.send("/language", chat=group)
    await scene.staff.press("English", chat=group)
    replies = await rival.send("/link", chat=group)
    assert replies[-1].text == ("This group is already linked to Team: 治安巡逻队. Only that "
                                "team's leader or the staff of its community can change this.")
    await scene.leader.send("/link", chat=group)
    await scene.leader.press("Team: 治安巡逻队", chat=group)
    await scene.staff.send("/link", chat=group)
    await scene.staff.press("Grid: 3网格", chat=group)
    row = await chat_row(session_factory, group.id)
    assert row is not None and (row.team_id, row.area_id) == (None, scene.cast.tree.grid.id)
    replies = await scene.other_staff.send("/link", chat=group)
    assert replies[-1].text == ("This group is already linked to Grid: 3网格. Only the staff "
                                "of that community can change this.")


async def test_a_button_pressed_again_on_the_screen_it_shows_is_answered_quietly(
    bot: BotRunner, fake: FakeTelegram, scene: Scene, caplog: pytest.LogCaptureFixture
) -> None:
    """A double tap: the second press would show the same screen again, which Telegram
    refuses ("message is not modified"). That is no error: no apology, no error logged."""
    group = await added_group(fake, scene)
    await scene.staff.send("/link", chat=group)
    choices = group.last_message
    with caplog.at_level(logging.ERROR):
        await scene.staff.press(data="chl:p:0", message=choices, forged=True)
    answer = scene.staff.last_callback_answer
    assert answer is not None and not answer.show_alert and not answer.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
