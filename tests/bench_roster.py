"""Benchmark: a 5,000-row roster imported with /import, and /help answered meanwhile.

The real Application (polling, the /import conversation, the file read in a worker
thread) against the in-process fake Bot API server with Telegram's real limits. The
roster is an XLSX as committees make it: a merged title row over the header (序号, 姓名,
联系电话, 所属队伍, 职务, 网格/楼栋), 5,000 people of the community's patrol team.

- ``roster_import_5000_s``: from the staff member sending the file (with /import as its
  caption) to the "imported" message, through the dry run's preview and the press on
  Confirm (pressed as soon as the preview arrives). Target < 10.
- ``roster_import_help_latency_s``: meanwhile other users send /help again and again;
  the longest wait for its answer. Target < 1. The users take turns (one /help at a
  time), so no chat asks faster than Telegram's one message a second per chat: one user
  alone, answered at that pace, would measure the limiter's wait instead (about 0.95 s).

Run alone: `.venv/bin/python -m tests.bench_roster`.
"""

from __future__ import annotations

import asyncio
import io
import tempfile
import time
from pathlib import Path

from openpyxl import Workbook

from bot.db import create_engine, create_session_factory, transaction, upgrade_database_async
from bot.settings import load_settings
from tests.factories import make_cast
from tests.fake_telegram import FakeTelegram, FakeUser, Limits
from tests.support import BotRunner

ROWS = 5000
HELPERS = 8  # taking turns: each chat gets one /help a second at most
HEADER = ["序号", "姓名", "联系电话", "所属队伍", "职务", "网格/楼栋"]


def roster_xlsx(rows: int = ROWS) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["龙江路社区平安志愿者花名册（2026年11月）"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    sheet.append(HEADER)
    for i in range(1, rows + 1):
        sheet.append([i, f"志愿者{i:04d}", f"138{i:08d}", "治安巡逻队", "队员", "3网格/12栋"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _has(user: FakeUser, text: str) -> bool:
    return any(text in (m.text or "") for m in user.messages)


async def _help_waits(fake: FakeTelegram, helpers: list[FakeUser], done: asyncio.Event,
                      waits: list[float], tasks: list[asyncio.Task[object]]) -> None:
    """/help over and over until `done`, from each helper in turn, each time timing the
    wait for the answer."""
    turn = 0
    last: dict[int, float] = {}
    while not done.is_set():
        helper = helpers[turn % len(helpers)]
        turn += 1
        await asyncio.sleep(last.get(helper.id, 0.0) + 1.0 - time.perf_counter())
        before = len(helper.messages)
        started = last[helper.id] = time.perf_counter()
        tasks.append(asyncio.create_task(helper.send("/help", timeout=120)))
        await fake.wait_for(lambda helper=helper, before=before: len(helper.messages) > before,
                            timeout=120,
                            interval=0.002)
        waits.append(time.perf_counter() - started)
        await asyncio.sleep(0.05)


async def bench_roster() -> list[tuple[str, float]]:
    data = roster_xlsx()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await upgrade_database_async(url)
        engine = create_engine(url)
        session_factory = create_session_factory(engine)
        fake = FakeTelegram(limits=Limits())  # Telegram's own limits
        await fake.start(port=0)
        settings = load_settings(bot_token=fake.token, database_url=url,
                                 telegram_api_url=fake.base_url, admin_ids=(1,),
                                 _env_file=None)
        runner = BotRunner(settings=settings, session_factory=session_factory, fake=fake)
        await runner.start()
        try:
            staff = fake.user("李干部")
            helpers = [fake.user(f"王阿姨{i}") for i in range(HELPERS)]
            async with transaction(session_factory) as session:
                cast = await make_cast(session)
                cast.staff.telegram_id = staff.id
            for helper in helpers:  # warm: the helpers are known, their menus are set
                await helper.send("/help")
            done = asyncio.Event()
            waits: list[float] = []
            tasks: list[asyncio.Task[object]] = []
            started = time.perf_counter()
            tasks.append(asyncio.create_task(
                staff.send_document(data, "花名册.xlsx", caption="/import", timeout=120)))
            helping = asyncio.create_task(_help_waits(fake, helpers, done, waits, tasks))
            await fake.wait_for(lambda: _has(staff, f"新增 {ROWS} 人"), timeout=120,
                                interval=0.002)
            tasks.append(asyncio.create_task(staff.press(f"导入 {ROWS} 人", timeout=120)))
            await fake.wait_for(lambda: _has(staff, f"已导入 {ROWS} 人"), timeout=120,
                                interval=0.002)
            elapsed = time.perf_counter() - started
            done.set()
            await helping
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            await runner.stop()
            await fake.stop()
            await engine.dispose()
    return [("roster_import_5000_s", elapsed), ("roster_import_help_latency_s", max(waits)),
            ("roster_import_help_answers", len(waits))]


def main() -> None:
    for name, value in asyncio.run(bench_roster()):
        print(f"{name}: {value}" if isinstance(value, int) else f"{name}: {value:.3f}")


if __name__ == "__main__":
    main()
