"""English plurals over the fake server (issue 13, item 8): “1 sub-area”, “Archived 1 area.”"""

from __future__ import annotations

from bot.db import transaction
from tests.factories import make_cast
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner


async def test_an_english_speaker_reads_one_area_not_one_areas(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    lee = fake.user("Lee", language_code="en")
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        cast.staff.telegram_id = lee.id
        cast.staff.language = "en"
    await lee.send("/areas")
    assert ": 1 sub-area. Tap it to open it." in lee.last_message.text
    await lee.press("3网格")
    assert "3网格: 1 sub-area." in lee.last_message.text
    await lee.press("12栋")
    await lee.press("🗄 Archive")
    await lee.press("Yes, archive")
    assert lee.last_message.text == "Archived 1 area."
