"""Benchmark: the whole /figures for "this year" over a year of a street office's data.

The database of `bench_audience` (1 street office, 14 communities, 1,400 buildings,
100,000 people, 84 teams, subscriptions) plus, over 2026 up to 30 November: 20,000
tip-offs (claimed, closed, some escalated, a quarter rated), 500 broadcasts of
`DELIVERIES` deliveries each, and 200 alerts of 30 recipients.

Measured: `service.collect` for the street office and this year, then the message, the
four charts and the workbook, in zh-CN — `figures_year_s` (target < 3) — and, in a second
pass, the peak Python memory of the same (tracemalloc) — `figures_year_peak_mb` (< 200).

Run alone: `.venv/bin/python -m tests.bench_figures`.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from bot.alerts.models import Alert, AlertRecipient, AlertStatus, Severity
from bot.db import create_engine, create_session_factory
from bot.figures import charts, periods, render, service, workbook
from bot.figures.counting import Scope
from bot.i18n import translator
from bot.tipoffs.categories import Category
from bot.tipoffs.models import TipOff, TipOffEvent, TipOffEventKind, TipOffRating, TipOffStatus
from broadcasts.models import Broadcast, BroadcastStatus, Delivery, DeliveryStatus
from tests.bench_audience import PEOPLE, build_database

TIPOFFS = 20_000
BROADCASTS = 500
DELIVERIES = 3_000
ALERTS = 200
ALERT_RECIPIENTS = 30
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)
YEAR_START = datetime(2025, 12, 31, 16, 0, tzinfo=UTC)


def _moment(rng: random.Random) -> datetime:
    return YEAR_START + timedelta(seconds=rng.uniform(0, (NOW - YEAR_START).total_seconds()
                                                      - 86_400))


async def build(url: str, seed: int = 11) -> None:
    await build_database(url)
    rng = random.Random(seed)
    categories = [c.value for c in Category]
    statuses = [TipOffStatus.RESOLVED] * 6 + [TipOffStatus.REFERRED, TipOffStatus.REJECTED,
                                              TipOffStatus.CLAIMED, TipOffStatus.NEW]
    tipoffs: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    ratings: list[dict[str, Any]] = []
    for i in range(1, TIPOFFS + 1):
        created = _moment(rng)
        status = rng.choice(statuses)
        claimed = created + timedelta(minutes=rng.uniform(1, 600)) \
            if status is not TipOffStatus.NEW else None
        closed = claimed + timedelta(hours=rng.uniform(1, 72)) \
            if claimed is not None and status is not TipOffStatus.CLAIMED else None
        tipoffs.append({
            "id": i, "reference": f"TX-{i:06d}", "reporter_id": rng.randint(1, PEOPLE),
            "anonymous": rng.random() < 0.6, "share_phone": False,
            "category": rng.choice(categories), "urgent": False, "description": "",
            "area_id": None, "status": status, "team_id": rng.randint(1, 84),
            "claimed_at": claimed, "closed_at": closed, "routed_at": created,
            "created_at": created})
        if rng.random() < 0.05:
            events.append({"tipoff_id": i, "kind": TipOffEventKind.ESCALATED,
                           "at": created + timedelta(minutes=30)})
        if status is TipOffStatus.RESOLVED and closed is not None and rng.random() < 0.4:
            ratings.append({"tipoff_id": i, "asked_at": closed, "score": rng.randint(1, 5),
                            "rated_at": closed + timedelta(hours=1),
                            "comment": "很及时" if rng.random() < 0.1 else None})
    engine = create_engine(url)
    factory = create_session_factory(engine)
    async with factory() as session, session.begin():
        for start in range(0, len(tipoffs), 10_000):
            await session.execute(insert(TipOff.__table__), tipoffs[start:start + 10_000])
        await session.execute(insert(TipOffEvent.__table__), events)
        await session.execute(insert(TipOffRating.__table__), ratings)
        for b in range(1, BROADCASTS + 1):
            created = _moment(rng)
            await session.execute(insert(Broadcast.__table__), [{
                "id": b, "kind": rng.choice(("notice", "safety_tip", "anti_fraud")),
                "priority": 50, "content": {}, "audience": {"area_ids": [2 + b % 14]},
                "status": BroadcastStatus.DONE, "created_at": created}])
            first = rng.randint(0, PEOPLE - DELIVERIES)
            await session.execute(insert(Delivery.__table__), [{
                "broadcast_id": b, "chat_id": 500_000_000 + first + d, "language": "zh-CN",
                "priority": 50, "status": (DeliveryStatus.UNREACHABLE if d % 23 == 0
                                           else DeliveryStatus.SENT),
                "next_attempt_at": created, "created_at": created} for d in range(DELIVERIES)])
        for a in range(1, ALERTS + 1):
            sent = _moment(rng)
            await session.execute(insert(Alert.__table__), [{
                "id": a, "language": "zh-CN", "audience": {"team_ids": [1 + a % 84]},
                "area_path": "/1/", "text": "x", "severity": Severity.EMERGENCY,
                "ack_required": True, "status": AlertStatus.CLOSED, "sensitive": False,
                "renotify_every_s": 600, "renotify_max": 2, "renotify_done": 1,
                "broadcast_ids": [], "created_at": sent}])
            await session.execute(insert(AlertRecipient.__table__), [{
                "alert_id": a, "person_id": person_id, "language": "zh-CN",
                "reminders": r % 2,
                "acknowledged_at": sent + timedelta(minutes=rng.uniform(0, 90))
                if r % 5 else None}
                for r, person_id in enumerate(rng.sample(range(1, PEOPLE + 1),
                                                         ALERT_RECIPIENTS))])
    async with engine.connect() as connection:
        await connection.exec_driver_sql("ANALYZE")
    await engine.dispose()


async def _figures(factory: Any) -> None:
    """What /figures does for "this year": count, then message, charts and workbook."""
    period = periods.this_year(tz=TZ, now=NOW)
    async with factory() as session:
        report = await service.collect(
            session, scope=Scope(area_path="/1/"), period=period,
            previous=periods.previous(period, tz=TZ),
            months=periods.months_back(count=12, tz=TZ, now=NOW, ending=period))
    render.figures_text(report, scope_name="街道", _=translator("zh-CN"), language="zh-CN",
                        tz=TZ)
    charts.render_charts(report, language="zh-CN")
    workbook.build_workbook(report, scope_name="街道", language="zh-CN", tz=TZ)


async def bench_figures() -> list[tuple[str, float]]:
    """[("figures_year_s", seconds), ("figures_year_peak_mb", megabytes)]."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'figures.db'}"
        await build(url)
        engine = create_engine(url)
        factory = create_session_factory(engine)
        # The memory pass first: it also loads matplotlib's fonts and warms SQLite's page
        # cache, as a bot that has answered once has them.
        tracemalloc.start()
        await _figures(factory)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        started = time.perf_counter()
        await _figures(factory)
        seconds = time.perf_counter() - started
        await engine.dispose()
    return [("figures_year_s", seconds), ("figures_year_peak_mb", peak / 1_000_000)]


if __name__ == "__main__":
    for name, value in asyncio.run(bench_figures()):
        print(f"{name}: {value:.3f}")
