"""The monthly report over the fake Bot API: on the 1st at 09:00 (Shanghai) the community's
staff get last month's message, charts and workbook of their community, the admins those of
the street office, through the outbox — once per month, a restart included."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.db import transaction
from bot.directory.models import Role
from bot.figures.handlers import CLOCK_KEY, MONTHLY_JOB
from broadcasts.models import Broadcast
from tests.factories import make_person
from tests.figures_support import seed

BEFORE_NINE = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai on the 1st
AFTER_NINE = datetime(2026, 12, 1, 1, 5, tzinfo=UTC)
LATER_THAT_DAY = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
NEXT_MONTH = datetime(2027, 1, 1, 1, 5, tzinfo=UTC)


async def _run_job_at(bot, moment: datetime) -> None:
    """The monthly job, as its timer runs it, at `moment` on the bot's clock."""
    application = bot.application
    application.bot_data["services"].extras[CLOCK_KEY] = lambda: moment
    job = application.job_queue.get_jobs_by_name(MONTHLY_JOB)[0]
    await job.run(application)


async def _monthly_broadcasts(session_factory) -> int:
    async with session_factory() as session:
        return await session.scalar(select(func.count()).select_from(Broadcast)
                                    .where(Broadcast.kind == "figures_monthly"))


async def test_the_monthly_report_goes_once_per_month_across_a_restart(
    bot, fake, session_factory, tmp_path,
) -> None:
    await bot.restart(figures_dir=tmp_path / "figures")
    bot.application.bot_data["services"].extras[CLOCK_KEY] = lambda: BEFORE_NINE
    ids = await seed(session_factory)
    staff, admin, resident = (fake.user(name, language_code="zh-hans")
                              for name in ("Li", "Zhou", "Chen"))
    for user in (staff, admin, resident):
        user.record.started = True  # they have pressed Start in their private chats
    async with transaction(session_factory) as session:
        await make_person(session, name="李主任", role=Role.STAFF, area=ids["community"],
                          telegram_id=staff.id)
        await make_person(session, name="周书记", role=Role.ADMIN, telegram_id=admin.id)
        await make_person(session, name="陈阿姨", area=ids["community"],
                          telegram_id=resident.id)

    # Not yet 09:00 on the 1st: nothing goes.
    await _run_job_at(bot, BEFORE_NINE)
    assert await _monthly_broadcasts(session_factory) == 0

    await _run_job_at(bot, AFTER_NINE)
    await fake.wait_for(lambda: any(m.document for m in staff.messages)
                        and any(m.document for m in admin.messages))
    await fake.settle()
    texts = [m.text for m in staff.messages if m.text and m.text.startswith("📊")]
    assert len(texts) == 1 and "龙江路社区" in texts[0] and "2026年11月" in texts[0]
    assert "收到反映：5 件" in texts[0]
    assert len([m for m in staff.messages if m.photo]) == 4
    document = next(m for m in staff.messages if m.document)
    assert document.document["file_name"].startswith("figures-2026-11-")
    book = load_workbook(io.BytesIO(fake.files[document.document["file_id"]].data))
    assert len(list(book["反映明细"].iter_rows(min_row=2))) == 5
    values = {str(c.value) for sheet in book for row in sheet.iter_rows() for c in row}
    assert not [v for v in values if "陈阿姨" in v or "13800000009" in v]
    # The admin gets the street office's figures (both its communities).
    office = [m.text for m in admin.messages if m.text and m.text.startswith("📊")]
    assert len(office) == 1 and "平桥办事处" in office[0]
    assert resident.messages == []
    assert await _monthly_broadcasts(session_factory) == 6
    seen = (len(staff.messages), len(admin.messages))

    # A restart (the timer runs again) and a later run that day send nothing twice.
    await bot.restart(figures_dir=tmp_path / "figures")
    await _run_job_at(bot, LATER_THAT_DAY)
    await fake.settle()
    assert (len(staff.messages), len(admin.messages)) == seen
    assert await _monthly_broadcasts(session_factory) == 6

    # The next month, December's report goes.
    await _run_job_at(bot, NEXT_MONTH)
    await fake.wait_for(lambda: any("2026年12月" in (m.text or "") for m in staff.messages))
    assert await _monthly_broadcasts(session_factory) == 12
