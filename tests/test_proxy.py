"""TELEGRAM_PROXY: every call the bot makes to the Bot API goes through the proxy —
long polling, replies and the outbox's sends alike."""

from __future__ import annotations

from tests.fake_telegram import FakeTelegram
from tests.socks_proxy import SocksProxy
from tests.support import BotRunner


async def test_polling_and_sending_go_through_the_proxy(bot: BotRunner,
                                                        fake: FakeTelegram) -> None:
    proxy = SocksProxy()
    await proxy.start()
    try:
        await bot.restart(telegram_proxy=proxy.url)
        alice = fake.user("Alice", language_code="zh-hans")
        await alice.send("/start")
        assert alice.messages and "平安小助手" in alice.messages[0].text
    finally:
        await bot.stop()
        await proxy.stop()
    assert {"getUpdates", "sendMessage"} <= set(proxy.methods), proxy.methods
