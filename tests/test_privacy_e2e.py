"""PIPL: /mydata shows what the bot keeps; forget-me from /leave deletes the person
everywhere while their report still counts (issue 13, items 11 and 13)."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.audit import AuditEntry, record
from bot.db import all_metadata, transaction
from bot.directory.models import Area, Person, PersonStatus, Role, SubscriptionTopic
from bot.tipoffs.models import TipOff
from tests.factories import add_to_team, make_person, make_tree
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner
from tests.test_residents_e2e import open_a_long_building_list
from tests.tipoff_support import patrol_scene, report

NAME, PHONE, USERNAME = "陈阿姨", "13912345678", "amy_chen"


async def anything_mentions(session_factory, secrets: list[str]) -> list[str]:
    """Every (table, column) whose value holds one of the secrets, in every table."""
    found = []
    async with session_factory() as session:
        for metadata in all_metadata():
            for table in metadata.sorted_tables:
                for row in (await session.execute(select(table))).mappings():
                    for column, value in row.items():
                        text = str(value)
                        if any(secret in text for secret in secrets):
                            found.append(f"{table.name}.{column}")
    return found


async def test_forget_me_removes_the_person_everywhere_but_their_report_still_counts(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    amy = fake.user("Amy", language_code="zh-hans", username=USERNAME)
    amy.record.started = True
    async with transaction(session_factory) as session:
        person = await make_person(session, name=NAME, phone=PHONE, telegram_id=amy.id,
                                   area=await session.get(Area, scene.town.building.id),
                                   topics=tuple(SubscriptionTopic))
        person.username = USERNAME
        await add_to_team(session, person=person, team=scene.town.patrol)
        # As a roster import or a phone match would have written it.
        await record(session, actor_id=person.id, action="person.match_phone",
                     object_type="person", object_id=person.id,
                     after={"phone": PHONE, "username": USERNAME, "name": NAME})
    await report(amy, anonymous=False, album=0)  # the team's card names her
    await fake.wait_for(lambda: any(NAME in (m.text or "") for m in scene.group.messages))
    await amy.send("小区什么时候恢复供水？")
    await amy.press("💬 向社区干部咨询")
    await amy.press("🙋 留下我的名字")
    # a search waiting for her next text, kept in the database by her id
    await open_a_long_building_list(amy, session_factory, scene.town.grid.id)
    secrets = [NAME, PHONE, str(amy.id), USERNAME]
    # the check can see them
    assert "persisted_states.telegram_id" in await anything_mentions(session_factory, secrets)

    await amy.send("/mydata")
    mine = amy.last_message.text
    assert PHONE in mine and NAME in mine and "TX-" in mine and "Q-" in mine

    await amy.send("/leave")
    await amy.press("🗑 退出并删除我的数据")
    assert "无法恢复" in amy.last_message.text  # confirm first
    async with session_factory() as session:
        assert await session.scalar(select(Person.phone).where(Person.id == person.id)) == PHONE
    await amy.press("是的，删除我的数据")
    assert "已经删除" in amy.last_message.text

    assert await anything_mentions(session_factory, secrets) == []
    async with session_factory() as session:
        placeholder = await session.get(Person, person.id)
        tipoffs = (await session.scalars(select(TipOff))).all()
        forgotten = await session.scalar(select(AuditEntry).where(
            AuditEntry.action == "person.forget"))
        reports_by_category = await session.scalar(
            select(func.count()).select_from(TipOff).where(TipOff.category == tipoffs[0].category))
    assert placeholder.telegram_id is None and placeholder.status is PersonStatus.LEFT
    assert len(tipoffs) == 1 and tipoffs[0].anonymous and reports_by_category == 1
    assert forgotten is not None and forgotten.object_id == person.id
    assert forgotten.before is None and forgotten.after is None  # audited without the data

    # Coming back is starting afresh.
    await amy.send("/mydata")
    assert "我没有保存任何关于您的信息" in amy.last_message.text


async def test_forget_me_needs_the_persons_own_confirmation(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    amy = fake.user("Amy", language_code="zh-hans")
    async with transaction(session_factory) as session:
        person = await make_person(session, name=NAME, phone=PHONE, telegram_id=amy.id)
    await amy.send("/leave")
    await amy.press("🗑 退出并删除我的数据")
    await amy.press("不删，保留")
    async with session_factory() as session:
        kept = await session.get(Person, person.id)
    assert kept.phone == PHONE and kept.status is PersonStatus.ACTIVE
    stranger = fake.user("Mallory", language_code="zh-hans")
    await stranger.send("/language")
    await stranger.press(data="pv:yes", forged=True)  # knows nobody: nothing to delete
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Person)) == 1


async def test_staff_forget_a_resident_on_request_and_forged_presses_are_refused(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    """Issue 13 item 11: staff of the person's area forget them when they ask, from /people;
    staff of another community, a team leader, or a press on a staff member, change nothing."""
    scene = await patrol_scene(fake, session_factory)
    amy = fake.user("Amy", language_code="zh-hans", username=USERNAME)
    amy.record.started = True
    lee = fake.user("Lee", language_code="zh-hans")
    zhao = fake.user("Zhao", language_code="zh-hans")
    async with transaction(session_factory) as session:
        person = await make_person(session, name=NAME, phone=PHONE, telegram_id=amy.id,
                                   area=await session.get(Area, scene.town.building.id),
                                   topics=tuple(SubscriptionTopic))
        person.username = USERNAME
        community = await session.get(Area, scene.town.community.id)
        staff = await make_person(session, name="刘干部", role=Role.STAFF, area=community,
                                  telegram_id=lee.id)
        colleague = await make_person(session, name="周干部", role=Role.STAFF, area=community,
                                      phone="13700000009")
        elsewhere = await make_tree(session, community="青石桥社区", grid="1网格", building="3栋")
        await make_person(session, name="赵干部", role=Role.STAFF, area=elsewhere.community,
                          telegram_id=zhao.id)
    await report(amy, anonymous=False, album=0)
    await fake.wait_for(lambda: any(NAME in (m.text or "") for m in scene.group.messages))

    async def unchanged() -> bool:
        async with session_factory() as session:
            phones = set(await session.scalars(select(Person.phone).where(
                Person.id.in_([person.id, colleague.id]))))
            forgotten = await session.scalar(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.action == "person.forget"))
        return phones == {PHONE, "13700000009"} and forgotten == 0

    for someone in (zhao, scene.leader):
        await someone.send("/language")  # a message with buttons to forge presses on
        for data in (f"pv:sa:{person.id}", f"pv:sy:{person.id}"):
            await someone.press(data=data, forged=True)
            answer = someone.last_callback_answer
            assert answer is not None and answer.show_alert, (someone, data)
    await lee.send("/language")
    await lee.press(data=f"pv:sy:{colleague.id}", forged=True)  # staff leave by themselves
    assert lee.last_callback_answer.show_alert
    group = fake.group("居民群", [lee])
    await fake.add_bot(group, by=lee)
    await lee.send("/language", chat=group)
    await lee.press(data=f"pv:sy:{person.id}", chat=group, forged=True)  # private chats only
    assert "私聊" in lee.last_callback_answer.text
    assert await unchanged()

    await lee.send("/people 陈")
    await lee.press("🗑 按本人要求删除资料：陈阿姨")
    assert "无法恢复" in lee.last_message.text and NAME in lee.last_message.text
    assert await unchanged()  # confirm first
    await lee.press("是的，删除 陈阿姨 的资料")
    assert "已经删除" in lee.last_message.text

    assert await anything_mentions(session_factory, [NAME, PHONE, str(amy.id), USERNAME]) == []
    async with session_factory() as session:
        placeholder = await session.get(Person, person.id)
        tipoffs = (await session.scalars(select(TipOff))).all()
        forgotten = await session.scalar(select(AuditEntry).where(
            AuditEntry.action == "person.forget"))
    assert placeholder.telegram_id is None and placeholder.status is PersonStatus.LEFT
    assert len(tipoffs) == 1 and tipoffs[0].anonymous  # the report still counts
    assert forgotten.actor_id == staff.id and forgotten.object_id == person.id
    assert forgotten.before is None and forgotten.after is None
    assert "staff" in forgotten.reason
