"""Ask the committee, end to end: a resident's question reaches the community's staff
group as a card, a duty cadre replies, and the answer reaches the resident through the bot
without naming who answered (issue 13, item 4)."""

from __future__ import annotations

from sqlalchemy import select

from bot.db import transaction
from bot.directory.models import Area, Chat, ChatStatus, Person, Role
from bot.questions.models import Question, QuestionStatus
from tests.factories import make_person, make_tree
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner
from tests.tipoff_support import patrol_scene


async def test_a_question_reaches_staff_and_the_answer_comes_back_unnamed(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    amy = fake.user("Amy Resident", language_code="zh-hans")
    amy.record.started = True
    staff_group = fake.group("社区干部群", [scene.cadre, scene.member])
    staff_group.record.bot_status = "member"
    async with transaction(session_factory) as session:
        await make_person(session, name="陈阿姨", telegram_id=amy.id,
                          area=await session.get(Area, scene.town.building.id))
        session.add(Chat(telegram_chat_id=staff_group.id, type="group", title="社区干部群",
                         area_id=scene.town.community.id, status=ChatStatus.ACTIVE))
    await amy.send("小区什么时候恢复供水？")
    await amy.press("💬 向社区干部咨询")
    assert "要让他们看到您的名字吗" in amy.last_message.text
    await amy.press("🙈 不留名字")
    assert "已转给社区干部，编号是 Q-" in amy.last_message.text
    await fake.wait_for(lambda: any("❓" in (m.text or "") for m in staff_group.messages))
    card = staff_group.messages[-1]
    assert "小区什么时候恢复供水？" in card.text and "咨询人：匿名" in card.text
    assert "Amy" not in card.text and "陈阿姨" not in card.text and "12栋" not in card.text
    assert card.buttons == [["💬 回复"], ["💬 署名回复"]]

    # A patrol member in the group is not community staff: refused, nothing asked.
    await scene.member.press(text="💬 回复", chat=staff_group)
    assert "只有本社区的干部可以回复" in (scene.member.last_callback_answer.text or "")
    assert staff_group.messages[-1].message_id == card.message_id

    # The duty cadre answers by replying to the prompt.
    await scene.cadre.press(text="💬 回复", chat=staff_group)
    prompt = staff_group.messages[-1]
    assert prompt.text.startswith("✏️")
    await scene.cadre.send("明天上午九点恢复供水。", chat=staff_group, reply_to=prompt)
    await fake.wait_for(lambda: "明天上午九点恢复供水" in (amy.last_message.text or ""))
    answer = amy.last_message.text
    assert "社区干部回复了您的咨询 Q-" in answer
    assert "李干部" not in answer and "Li" not in answer  # who answered is not named
    card = fake.message(staff_group.id, card.message_id)
    assert card.buttons == [] and "明天上午九点恢复供水" in card.text
    async with session_factory() as session:
        question = await session.scalar(select(Question))
        cadre = await session.scalar(select(Person).where(Person.telegram_id == scene.cadre.id))
    assert question.status is QuestionStatus.ANSWERED and question.answered_by_id == cadre.id
    await scene.cadre.press(text="💬 署名回复", chat=staff_group, message=card, forged=True,
                            data=f"qa:named:{question.id}")
    assert "已经回复过了" in (scene.cadre.last_callback_answer.text or "")

    # /mytips (我的反映) lists the question with its state.
    await amy.send("/mytips")
    assert question.reference in amy.last_message.text and "已回复" in amy.last_message.text
    # Nothing the staff's chats received names the anonymous asker.
    for chat_id in (staff_group.id, scene.cadre.id, scene.member.id):
        for m in fake.messages_to(chat_id, include_deleted=True):
            assert "Amy" not in (m.text or "") and str(amy.id) not in (m.text or "")


async def test_a_named_question_goes_to_staff_privately_and_a_named_reply_says_who(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    """No staff group: the community's staff get the card privately; staff of another
    community cannot answer it, even with a forged press."""
    lee, zhao = fake.user("Lee", language_code="zh-hans"), fake.user("Zhao",
                                                                     language_code="zh-hans")
    amy = fake.user("Amy", language_code="zh-hans")
    for user in (lee, zhao, amy):
        user.record.started = True
    async with transaction(session_factory) as session:
        tree = await make_tree(session)
        other = await make_tree(session, community="青石桥社区", parent=tree.street_office)
        await make_person(session, name="李干部", role=Role.STAFF, area=tree.community,
                          telegram_id=lee.id)
        await make_person(session, name="赵干部", role=Role.STAFF, area=other.community,
                          telegram_id=zhao.id)
        await make_person(session, name="陈阿姨", area=tree.building, telegram_id=amy.id)
    await amy.send("/ask 楼道灯坏了找谁修？")
    await amy.press("🙋 留下我的名字")
    await fake.wait_for(lambda: any("❓" in (m.text or "") for m in lee.messages))
    card = lee.last_message
    assert "咨询人：陈阿姨" in card.text and "楼道灯坏了找谁修？" in card.text
    assert not any("❓" in (m.text or "") for m in zhao.messages)
    async with session_factory() as session:
        question = await session.scalar(select(Question))
    await zhao.send("/me")  # a keyboard to forge from
    await zhao.press(data=f"qa:reply:{question.id}", forged=True)
    assert "只有本社区的干部可以回复" in (zhao.last_callback_answer.text or "")
    await lee.press("💬 署名回复")
    await lee.send("物业电话 12345，我也帮您说一声。", reply_to=lee.last_message)
    await fake.wait_for(lambda: "物业电话" in (amy.last_message.text or ""))
    assert "社区干部 李干部" in amy.last_message.text
