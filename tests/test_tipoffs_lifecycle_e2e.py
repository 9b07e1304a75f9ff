"""Tip-offs end to end, the rest of the life of a report: reassign, refer, reject, routing
rules, a photo sent as a file, reveal, block — and an anonymous reporter kept out of every
team message and every log line."""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from bot.audit import AuditEntry
from bot.db import transaction
from bot.directory.models import Chat, ChatStatus, Person, Role
from bot.tipoffs import routing
from bot.tipoffs.models import (
    ReporterBlock,
    TipOff,
    TipOffEvent,
    TipOffEventKind,
    TipOffPhoto,
    TipOffStatus,
)
from tests.factories import add_to_team, make_person
from tests.fake_telegram import FakeTelegram, FakeUser
from tests.support import BotRunner
from tests.tipoff_support import Scene, card_in, patrol_scene, report


async def _the_tipoff(session_factory) -> TipOff:
    async with session_factory() as session:
        tipoff = await session.scalar(select(TipOff).order_by(TipOff.id.desc()))
    assert tipoff is not None
    return tipoff


async def _events(session_factory, tipoff_id: int) -> list[str]:
    async with session_factory() as session:
        return [e.kind.value for e in await session.scalars(
            select(TipOffEvent).where(TipOffEvent.tipoff_id == tipoff_id)
            .order_by(TipOffEvent.id))]


async def _mediation_group(fake: FakeTelegram, session_factory, scene: Scene):
    """The mediation team gets a leader (Chen) and a linked group chat."""
    chen = fake.user("Chen", language_code="zh-hans")
    chen.record.started = True
    group = fake.group("调解队群", [chen])
    group.record.bot_status = "member"
    async with transaction(session_factory) as session:
        person = await make_person(session, name="陈调解员", role=Role.MEMBER,
                                   area=scene.town.community, telegram_id=chen.id)
        await add_to_team(session, person=person, team=scene.town.mediation, leader=True)
        session.add(Chat(telegram_chat_id=group.id, type="group", title="调解队群",
                         team_id=scene.town.mediation.id, status=ChatStatus.ACTIVE))
    return chen, group


def _leaks(texts: list[str], who: FakeUser) -> list[str]:
    return [t for t in texts if who.first_name in t or str(who.id) in t]


def _everything_sent_to(fake: FakeTelegram, chat_ids: list[int]) -> list[str]:
    """Every version of every message (edits and deleted ones included), buttons too."""
    out: list[str] = []
    for chat_id in chat_ids:
        for m in fake.messages_to(chat_id, include_deleted=True):
            out.append(f"{m.text} {m.caption} {m.reply_markup} {m.raw_text}")
            out.extend(str(e) for e in m.edits)
    return out


async def test_reassign_then_refer_tells_the_reporter_and_never_shows_who_it_was(
    bot: BotRunner, fake: FakeTelegram, session_factory, caplog: pytest.LogCaptureFixture,
) -> None:
    # Everything at INFO (how the bot runs), and the bot's own modules at DEBUG too.
    # (broadcasts.dispatcher logs each delivery's chat id at DEBUG — the reporter's
    # private chat included: the engine's, reported, not checked here.)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="bot")
    scene = await patrol_scene(fake, session_factory)
    chen, mediation_group = await _mediation_group(fake, session_factory, scene)
    alice = fake.user("Alice", language_code="zh-hans", username="alice_on_3rd_floor")
    await report(alice, anonymous=True, album=2)
    await fake.wait_for(lambda: card_in(scene.group.messages) is not None)
    tipoff = await _the_tipoff(session_factory)

    # The patrol leader claims it, then sees it is a neighbours' matter and passes it on.
    await scene.leader.press(text="✋ 认领", chat=scene.group)
    await fake.wait_for(lambda: "已经接手处理您反映的" in (alice.last_message.text or ""))
    await scene.leader.press(text="↪️ 转给其他队", chat=scene.group)
    assert "转给哪个队伍" in scene.group.messages[-1].text
    await scene.leader.press(text="民事调解队", chat=scene.group)
    assert f"已把 {tipoff.reference} 转给民事调解队" in scene.group.messages[-1].text
    tipoff = await _the_tipoff(session_factory)
    assert tipoff.team_id == scene.town.mediation.id and tipoff.status is TipOffStatus.NEW
    assert tipoff.claimed_by_id is None
    await fake.wait_for(lambda: card_in(mediation_group.messages) is not None)
    await fake.wait_for(lambda: "已转给民事调解队" in (alice.last_message.text or ""))
    assert len([m for m in mediation_group.messages if m.media_group_id]) == 2

    # The old team's card no longer works for them.
    await scene.member.press(text="🚓 转派出所", chat=scene.group)
    assert "只有负责这条线索的队伍可以操作" in (scene.member.last_callback_answer.text or "")
    assert (await _the_tipoff(session_factory)).status is TipOffStatus.NEW

    # The mediation team refers it to the police station; the reporter is told.
    await chen.press(text="🚓 转派出所", chat=mediation_group)
    tipoff = await _the_tipoff(session_factory)
    assert tipoff.status is TipOffStatus.REFERRED and tipoff.closed_at is not None
    assert "状态：已转派出所" in card_in(mediation_group.messages).text
    await fake.wait_for(lambda: "已转给派出所跟进" in (alice.last_message.text or ""))
    assert await _events(session_factory, tipoff.id) == [
        "created", "routed", "claimed", "reassigned", "referred"]

    # Nobody on any team, in any chat, saw who reported it.
    await fake.settle()
    team_side = [scene.group.id, mediation_group.id, scene.leader.id, scene.member.id,
                 scene.cadre.id, chen.id]
    seen = _everything_sent_to(fake, team_side)
    assert len(seen) > 8  # albums, cards, edits, prompts: the check has material
    assert _leaks(seen, alice) == []
    assert all("alice_on_3rd_floor" not in t for t in seen)
    # … and no log line names them either (message or structured extras).
    lines = [f"{r.getMessage()} {r.__dict__}" for r in caplog.records]
    assert any(tipoff.reference in line for line in lines)  # the flow was logged
    assert _leaks(lines, alice) == []
    assert all("alice_on_3rd_floor" not in line for line in lines)


async def test_reject_asks_for_a_reason_and_the_reporter_hears_it(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    alice = fake.user("Alice", language_code="zh-hans")
    await report(alice, anonymous=False, album=0)
    await fake.wait_for(lambda: card_in(scene.group.messages) is not None)
    await scene.member.press(text="✖️ 不受理", chat=scene.group)
    prompt = scene.group.messages[-1]
    assert prompt.text.startswith("✍️") and "原因" in prompt.text
    # Someone else answering the prompt changes nothing.
    await scene.leader.send("我来回答", chat=scene.group, reply_to=prompt)
    assert (await _the_tipoff(session_factory)).status is TipOffStatus.NEW
    await scene.member.send("和昨天那条重复了", chat=scene.group, reply_to=prompt)
    tipoff = await _the_tipoff(session_factory)
    assert tipoff.status is TipOffStatus.REJECTED and tipoff.outcome_note == "和昨天那条重复了"
    assert "已结束，并已告知反映人" in scene.group.messages[-1].text
    await fake.wait_for(lambda: "未予受理" in (alice.last_message.text or ""))
    assert "和昨天那条重复了" in alice.last_message.text
    assert await _events(session_factory, tipoff.id) == ["created", "routed", "rejected"]
    # A closed report's buttons are gone; a forged press is told it is closed.
    card = card_in(scene.group.messages)
    assert card.buttons == [] and "状态：未受理" in card.text and "和昨天那条重复了" in card.text
    await scene.member.press(data=f"tp:c:{tipoff.id}", message=card, forged=True)
    assert "已经结束" in (scene.member.last_callback_answer.text or "")
    assert (await _the_tipoff(session_factory)).status is TipOffStatus.REJECTED


async def test_the_most_specific_routing_rule_wins(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    _chen, mediation_group = await _mediation_group(fake, session_factory, scene)
    alice = fake.user("Alice", language_code="zh-hans")
    town = scene.town
    async with transaction(session_factory) as session:
        await make_person(session, name="Alice", area=town.building, telegram_id=alice.id)
        # The whole community's suspicious reports go to the cadres, but the grid's to
        # the mediation team: a report from a building in that grid goes to mediation.
        await routing.set_rule(session, category="suspicious", area_id=town.community.id,
                               team_id=town.cadres.id, created_by_id=None)
        await routing.set_rule(session, category="suspicious", area_id=town.grid.id,
                               team_id=town.mediation.id, created_by_id=None)
    await report(alice, anonymous=True, album=0, place=town.building.name)
    await fake.wait_for(lambda: card_in(mediation_group.messages) is not None)
    tipoff = await _the_tipoff(session_factory)
    assert tipoff.team_id == town.mediation.id and tipoff.area_id == town.building.id
    assert "12栋" in card_in(mediation_group.messages).text
    await fake.settle()
    assert card_in(scene.group.messages) is None
    assert card_in(scene.cadre.messages) is None


async def test_a_photo_sent_as_a_file_reaches_the_team_without_its_gps(
    bot: BotRunner, fake: FakeTelegram, session_factory, tmp_path,
) -> None:
    await bot.restart(media_download=True, media_dir=tmp_path / "media")
    scene = await patrol_scene(fake, session_factory)
    original = _jpeg_with_gps()
    assert _gps_of(original)  # the test photo really carries a location
    alice = fake.user("Alice", language_code="zh-hans")
    await alice.send("/report")
    await alice.press(text="👀 可疑人员或行为")
    await alice.send("楼下有人翻垃圾桶找快递单")
    replies = await alice.send_photo(image=original, as_document=True)
    assert any("我已去掉这张图片里隐藏的信息" in (m.caption or "") for m in replies)
    await alice.press(text="✅ 完成")
    await alice.send_location(31.2304, 121.4737)
    await alice.press(text="🙈 匿名")
    await alice.press(text="✅ 发送")
    await fake.wait_for(lambda: card_in(scene.group.messages) is not None)

    # The team got a photo (not the file) whose bytes, as the bot uploaded them (before
    # Telegram's recompression, which alone would drop EXIF), carry no EXIF or GPS.
    photos = [m for m in scene.group.messages if m.photo]
    assert len(photos) == 1
    assert not any(m.document for m in scene.group.messages)
    uploaded = fake.files[photos[0].photo[-1]["file_id"]].uploaded
    assert uploaded != original and _gps_of(uploaded) == {}
    with Image.open(io.BytesIO(uploaded)) as image:
        assert image.getexif() == {} and "exif" not in image.info
    # The photo the bot showed Alice is the team's.
    async with session_factory() as session:
        stored = await session.scalar(select(TipOffPhoto))
    assert stored.stripped and stored.team_file_id != stored.file_id
    assert stored.team_file_id in {s["file_id"] for m in alice.messages if m.photo
                                   for s in m.photo}
    # The evidence copy is the original, kept with its hash.
    assert stored.sha256 == hashlib.sha256(original).hexdigest()
    assert (tmp_path / "media").exists() and stored.local_path is not None
    assert _gps_of(Path(stored.local_path).read_bytes())  # noqa: ASYNC240


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (120, 90), (180, 60, 60))
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0132] = "2024:05:01 08:30:00"  # DateTime
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (31.0, 14.0, 2.0)
    gps[3], gps[4] = "E", (121.0, 28.0, 30.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def _gps_of(data: bytes) -> dict:
    with Image.open(io.BytesIO(data)) as image:
        return dict(image.getexif().get_ifd(0x8825))


async def test_reveal_is_for_admins_only_and_is_audited(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    admin = fake.user("Admin", language_code="zh-hans")
    staff = fake.user("Staff", language_code="zh-hans")
    async with transaction(session_factory) as session:
        await make_person(session, name="管理员", role=Role.ADMIN, telegram_id=admin.id)
        await make_person(session, name="社区干部", role=Role.STAFF,
                          area=scene.town.community, telegram_id=staff.id)
    alice = fake.user("Alice", language_code="zh-hans")
    await report(alice, anonymous=True, album=0)
    tipoff = await _the_tipoff(session_factory)

    for who in (scene.leader, staff):
        await who.send(f"/reveal {tipoff.reference} 想知道是谁")
        assert "只有管理员可以查看反映人" in who.last_message.text
        assert "Alice" not in who.last_message.text
    await admin.send(f"/reveal {tipoff.reference}")  # no reason: asked for one
    assert "Alice" not in admin.last_message.text
    async with session_factory() as session:
        assert (await session.scalars(select(AuditEntry))).all() == []

    await admin.send(f"/reveal {tipoff.reference} 派出所需要证人笔录")
    assert f"{tipoff.reference} 的反映人是 Alice" in admin.last_message.text
    assert "已记入操作日志" in admin.last_message.text
    async with session_factory() as session:
        (entry,) = (await session.scalars(select(AuditEntry))).all()
        admin_person = await session.scalar(select(Person).where(
            Person.telegram_id == admin.id))
    assert entry.action == "tipoff.reveal_reporter" and entry.object_id == tipoff.id
    assert entry.reason == "派出所需要证人笔录" and entry.actor_id == admin_person.id
    assert "revealed" in await _events(session_factory, tipoff.id)


async def test_staff_block_and_unblock_a_reporter_without_seeing_who_it_is(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    staff = fake.user("Staff", language_code="zh-hans")
    async with transaction(session_factory) as session:
        await make_person(session, name="社区干部", role=Role.STAFF,
                          area=scene.town.community, telegram_id=staff.id)
    alice = fake.user("Alice", language_code="zh-hans")
    await report(alice, anonymous=True, album=0)
    tipoff = await _the_tipoff(session_factory)

    # A team member is not staff: refused, nothing changes.
    await scene.leader.send(f"/tipblock {tipoff.reference} 乱报")
    assert "只有社区干部可以这样操作" in scene.leader.last_message.text
    async with session_factory() as session:
        assert await session.get(ReporterBlock, tipoff.reporter_id) is None

    await staff.send(f"/tipblock {tipoff.reference} 一天报了十几次假情况")
    assert "已禁止" in staff.last_message.text and "Alice" not in staff.last_message.text
    async with session_factory() as session:
        block = await session.get(ReporterBlock, tipoff.reporter_id)
        actions = [e.action for e in await session.scalars(select(AuditEntry))]
    assert block is not None and block.reason == "一天报了十几次假情况"
    assert actions == ["tipoff.block_reporter"]
    await alice.send("/report")
    assert "您暂时不能反映情况" in alice.last_message.text
    assert alice.last_message.button(text="👀 可疑人员或行为") is None

    await staff.send(f"/tipunblock {tipoff.reference}")
    assert "可以重新反映了" in staff.last_message.text
    async with session_factory() as session:
        assert await session.get(ReporterBlock, tipoff.reporter_id) is None
    await alice.send("/report")
    assert alice.last_message.button(text="👀 可疑人员或行为") is not None
    assert TipOffEventKind.REVEALED not in await _events(session_factory, tipoff.id)
