"""No English on a Chinese staff member's screens (issue 13, item 7): why a broadcast did not
arrive in plain words, and /export in the reader's language, read back by /import."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import select

from bot.db import transaction
from bot.directory.models import Person
from broadcasts import Delivery, DeliveryStatus
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner
from tests.test_broadcasting_flow import compose_tip, make_world, noon, set_clock


async def test_a_broadcast_report_says_why_in_the_readers_words(
    fake: FakeTelegram, bot: BotRunner, session_factory,
) -> None:
    world = await make_world(fake, bot, session_factory)
    world.member.record.blocked = True  # blocked the bot
    world.resident.record.started = False  # never pressed Start
    set_clock(bot, noon())
    await compose_tip(world)
    await world.staff.press("✅ 现在发送")

    async def settled() -> bool:
        async with session_factory() as session:
            states = set(await session.scalars(select(Delivery.status)))
        return DeliveryStatus.PENDING not in states and DeliveryStatus.IN_FLIGHT not in states

    for _ in range(300):  # the outbox retries nothing here: both refusals are final
        if await settled():
            break
        await fake.settle(quiet=0.1)
    await world.staff.send("/broadcasts")
    text = world.staff.last_message.text
    why = next(line for line in text.splitlines() if line.startswith("原因："))
    assert "已屏蔽机器人 ×1" in why and "还没点过“开始” ×1" in why
    assert not any(word in text for word in ("Forbidden", "blocked", "initiate", "chat"))


async def test_export_is_in_the_readers_language_and_imports_again(
    fake: FakeTelegram, bot: BotRunner, session_factory,
) -> None:
    world = await make_world(fake, bot, session_factory)
    async with transaction(session_factory) as session:
        for n, person in enumerate(await session.scalars(select(Person).order_by(Person.id))):
            person.phone = f"+86138{n:08d}"  # /import needs a phone on every row
    replies = await world.staff.send("/export")
    document = replies[-1].document
    data = fake.files[document["file_id"]].uploaded
    sheet = load_workbook(io.BytesIO(data)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert sheet.title == "花名册"
    assert rows[0] == ["姓名", "电话", "队伍", "角色", "区域", "Telegram", "状态"]
    assert {r[3] for r in rows[1:]} >= {"社区干部", "队长", "队员"}
    assert {r[6] for r in rows[1:]} <= {"正常", "还没上 Telegram", "已退出"}
    assert not any(cell in {"staff", "leader", "member", "active"} for r in rows for cell in r)

    # The same file, sent back: every column is known, the people already there are updates.
    await world.staff.send_document(data, "花名册.xlsx", caption="/import")
    preview = world.staff.last_message.text
    assert "缺少" not in preview and "我不认识" not in preview
    assert "这些列用不到，已略过：状态" in preview
    # Residents are no roster's people: the importer asks what 居民 means here, once.
    assert "职务“居民”— 2 行" in preview
    await world.staff.press("跳过这些行")
    # The team's people come back as updates, their Chinese roles read back; what is
    # refused is what the importer refuses anyway (residents skipped, staff with no team).
    result = world.staff.last_message.text
    assert "新增 0 人，更新 3 人（电话相同），3 行不能导入" in result
    assert result.count("已按您的选择跳过") == 2 and result.count("缺少队伍") == 1
