"""Retention (PIPL art. 47, issue 13 item 12): a closed report's photos and voice notes,
and someone who left, are deleted by the daily job once their time is up — counted from
the database, so a restart in between changes nothing."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.audit import AuditEntry
from bot.db import transaction, utcnow
from bot.directory.models import Person, PersonStatus
from bot.privacy import retention
from bot.tipoffs.intake import CLOCK_KEY as TIPOFF_CLOCK
from bot.tipoffs.models import TipOff, TipOffPhoto, TipOffStatus
from broadcasts import OutgoingMessage, Priority, enqueue_broadcast
from tests.factories import make_person
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner
from tests.tipoff_support import card_in, patrol_scene, report


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def use(bot: BotRunner, clock: Clock) -> None:
    extras = bot.application.bot_data["services"].extras
    extras[TIPOFF_CLOCK] = extras[retention.CLOCK_KEY] = clock


async def run_retention(bot: BotRunner) -> None:
    (job,) = bot.application.job_queue.get_jobs_by_name(retention.JOB)
    await job.run(bot.application)


async def test_a_closed_reports_media_are_deleted_after_their_time_even_across_a_restart(
    bot: BotRunner, fake: FakeTelegram, session_factory, tmp_path: Path,
) -> None:
    media_dir = tmp_path / "media"
    await bot.restart(media_download=True, media_dir=media_dir, media_keep_days=30)
    clock = Clock()
    use(bot, clock)
    scene = await patrol_scene(fake, session_factory)
    alice = fake.user("Alice", language_code="zh-hans")
    await report(alice, anonymous=True, album=2)
    await fake.wait_for(lambda: card_in(scene.group.messages) is not None)
    copies = sorted(media_dir.iterdir())
    assert len(copies) == 2
    # A second, still open report with a photo of its own keeps it whatever its age.
    bob = fake.user("Bob", language_code="zh-hans")
    await bob.send("/report")
    await bob.press(text="👀 可疑人员或行为")
    await bob.send("楼道里堆了很多纸箱")
    await bob.send_photo()
    await bob.press(text="✅ 完成")
    await bob.send_location(31.2304, 121.4737)
    await bob.press(text="🙈 匿名")
    await bob.press(text="✅ 发送")
    await fake.wait_for(lambda: len([m for m in scene.group.messages
                                     if (m.text or "").startswith("🔔")]) == 2)
    async with session_factory() as session:
        first, second = (await session.scalars(select(TipOff).order_by(TipOff.id))).all()
    card = card_in(scene.group.messages, first.reference)
    await scene.member.press(text="✋ 认领", chat=scene.group, message=card)
    await scene.member.press(text="✅ 已办结", chat=scene.group, message=card)
    await scene.member.send("已处理", chat=scene.group, reply_to=scene.group.messages[-1])
    async with session_factory() as session:
        closed = await session.get_one(TipOff, first.id)
    assert closed.status is TipOffStatus.RESOLVED and closed.closed_at == clock.now

    clock.advance(days=29, hours=23)
    await run_retention(bot)  # not due yet
    async with session_factory() as session:
        photos = await session.scalar(select(func.count()).select_from(TipOffPhoto))
    assert photos == 3 and set(copies) <= set(media_dir.iterdir())

    await bot.restart(media_download=True, media_dir=media_dir, media_keep_days=30)
    use(bot, clock)
    clock.advance(hours=2)
    await run_retention(bot)
    await run_retention(bot)  # a second run finds nothing more to do
    async with session_factory() as session:
        closed = await session.get_one(TipOff, first.id)
        left = list(await session.scalars(select(TipOffPhoto.tipoff_id)))
        audits = await session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "tipoff.media_deleted"))
    # The report stays as a fact for the figures; its photos and their copies are gone.
    assert closed.status is TipOffStatus.RESOLVED and closed.media_deleted_at == clock.now
    assert closed.voice_file_id is None and left == [second.id] and audits == 1
    remaining = list(media_dir.iterdir())
    assert len(remaining) == 1 and not set(copies) & set(remaining)


async def test_someone_who_left_is_forgotten_after_their_time(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    await bot.restart(left_keep_days=90)
    clock = Clock()
    use(bot, clock)
    amy = fake.user("Amy", language_code="zh-hans")
    stays = fake.user("Ben", language_code="zh-hans")
    async with transaction(session_factory) as session:
        person = await make_person(session, name="陈阿姨", phone="13912345678",
                                   telegram_id=amy.id)
        await make_person(session, name="李先生", phone="13800000000", telegram_id=stays.id)
    await amy.send("/leave")
    await amy.press("确定退出")
    clock.advance(days=89)
    await run_retention(bot)
    async with session_factory() as session:
        assert (await session.get_one(Person, person.id)).phone == "13912345678"

    await bot.restart(left_keep_days=90)
    use(bot, clock)
    clock.advance(days=2)
    await run_retention(bot)
    await run_retention(bot)
    async with session_factory() as session:
        gone = await session.get_one(Person, person.id)
        kept = await session.scalar(select(Person).where(Person.telegram_id == stays.id))
        forgotten = await session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "person.forget"))
    assert gone.phone is None and gone.telegram_id is None and gone.left_at is None
    assert gone.status is PersonStatus.LEFT and forgotten == 1
    assert kept is not None and kept.phone == "13800000000"


async def test_old_monthly_figures_files_go_unless_a_delivery_still_waits_for_them(
    bot: BotRunner, fake: FakeTelegram, session_factory, tmp_path: Path,
) -> None:
    figures_dir = tmp_path / "figures"
    figures_dir.mkdir()
    await bot.restart(figures_dir=figures_dir)
    clock = Clock()
    use(bot, clock)
    made = {name: figures_dir / f"{name}.xlsx" for name in ("old", "waiting", "recent")}
    for name, path in made.items():
        path.write_bytes(b"PK")
        age = retention.FIGURES_KEEP + timedelta(days=1) if name != "recent" else timedelta(days=3)
        stamp = (clock.now - age).timestamp()
        os.utime(path, (stamp, stamp))
    async with transaction(session_factory) as session:  # a chat that is paused, say
        await enqueue_broadcast(session, kind="figures_monthly", priority=Priority.NORMAL,
                                content={"zh-CN": OutgoingMessage(document=str(made["waiting"]))},
                                recipients=[(424242, "zh-CN")],
                                not_before=clock.now + timedelta(days=365))

    await run_retention(bot)

    assert sorted(p.name for p in figures_dir.iterdir()) == ["recent.xlsx", "waiting.xlsx"]
