"""Several instances on one PostgreSQL database: one sender, and a successor when it goes."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import LEADERSHIP_KEY, LIMITER_KEY, REPLY_SHARE, BotApplication, build_application
from bot.context import Services
from bot.settings import Settings
from tests.databases import on_postgresql
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner
from tests.tipoff_support import patrol_scene

pytestmark = pytest.mark.skipif(not on_postgresql(),
                                reason="several instances need PostgreSQL (TEST_DATABASE_URL)")


def services(application: BotApplication | None) -> Services:
    assert application is not None
    return application.bot_data["services"]


async def second_instance(settings: Settings,
                          session_factory: async_sessionmaker[AsyncSession]) -> BotApplication:
    """Another instance on the same database; it takes no updates (one poller per token)."""
    application = build_application(settings, session_factory=session_factory)
    await application.initialize()
    assert application.post_init is not None
    await application.post_init(application)
    await application.start()
    return application


async def stop_instance(application: BotApplication) -> None:
    await application.stop()
    assert application.post_stop is not None
    await application.post_stop(application)
    await application.shutdown()


async def test_one_instance_sends_and_another_takes_over_when_it_stops(
    bot: BotRunner, settings: Settings, session_factory, fake: FakeTelegram,
) -> None:
    other = await second_instance(settings, session_factory)
    try:
        first = services(bot.application)
        assert first.extras[LEADERSHIP_KEY].is_leader and first.dispatcher is not None
        assert not services(other).extras[LEADERSHIP_KEY].is_leader
        assert services(other).dispatcher is None
        await bot.stop()
        for _ in range(600):  # it retries every 2 s
            if services(other).dispatcher is not None:
                break
            await asyncio.sleep(0.1)
        assert services(other).extras[LEADERSHIP_KEY].is_leader
        assert services(other).dispatcher is not None
    finally:
        await stop_instance(other)


async def test_a_report_begun_on_one_instance_continues_on_the_other(
    bot: BotRunner, settings: Settings, session_factory, fake: FakeTelegram,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    other = await second_instance(settings, session_factory)

    def other_busy() -> bool:
        return (not other.update_queue.empty()
                or other.update_processor.current_concurrent_updates > 0)

    fake.busy_checks.append(other_busy)
    try:
        alice = fake.user("Alice Reporter", language_code="zh-hans")
        await alice.send("/report")
        await alice.press(text="👀 可疑人员或行为")
        # Her next message reaches the other instance (behind one webhook address, any may).
        assert bot.application is not None and bot.application.updater is not None
        await bot.application.updater.stop()
        assert other.updater is not None
        await other.updater.start_polling(poll_interval=0.0, timeout=1)
        await alice.send("有个人一直在撬电动车的锁")
        await alice.press(text="⏭ 没有照片")
        await alice.send_location(31.2304, 121.4737)
        await alice.press(text="🙈 匿名")
        await alice.press(text="✅ 发送")
        assert "已发送，编号是 TX-" in alice.last_message.text
        await fake.wait_for(lambda: any("🔔" in (m.text or "") for m in scene.group.messages))
    finally:
        fake.busy_checks.remove(other_busy)
        if other.updater is not None and other.updater.running:
            await other.updater.stop()
        await stop_instance(other)


async def test_the_instances_share_telegrams_budget(
    bot: BotRunner, settings: Settings, session_factory,
) -> None:
    other = await second_instance(settings, session_factory)
    try:
        overall = settings.rate_overall_per_s
        sender = services(bot.application).extras[LIMITER_KEY]
        replier = services(other).extras[LIMITER_KEY]
        for _ in range(600):  # the sender counts the instances every 2 s
            if sender.limits.overall_per_s < overall:
                break
            await asyncio.sleep(0.1)
        assert replier.limits.overall_per_s == pytest.approx(overall * REPLY_SHARE)
        assert sender.limits.overall_per_s == pytest.approx(overall * (1 - REPLY_SHARE))
    finally:
        await stop_instance(other)
