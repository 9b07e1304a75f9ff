"""The scam check's records and early warning over a real database (no Telegram): one
warning per community and kind per window even when checks race, a new round after the
window, and the counts the monthly figures read."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.db import transaction
from bot.directory.models import Area, Role
from bot.scamcheck import service
from bot.scamcheck.checker import Verdict
from bot.scamcheck.models import ScamWarning
from bot.scamcheck.rules import default_rules
from broadcasts import Broadcast
from tests.factories import make_person, make_tree

NOW = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)
DAY = service.WarningRule(askers=3, window=timedelta(hours=24))


async def _check(session_factory, community: Area | None, *, kind: str | None = "brushing",
                 verdict: Verdict = Verdict.HIGH, at: datetime = NOW, repeat: bool = False,
                 rule: service.WarningRule = DAY) -> bool:
    async with transaction(session_factory) as session:
        return await service.record_check(
            session, kind=kind, verdict=verdict, community=community, repeat=repeat, now=at,
            rule=rule, rules=default_rules(), default_language="zh-CN")


async def _warnings_queued(session_factory) -> int:
    async with session_factory() as session:
        return await session.scalar(select(func.count(Broadcast.id)).where(
            Broadcast.kind == "scam_warning")) or 0


async def test_racing_checks_give_one_warning_and_a_new_round_only_after_the_window(
    session_factory,
) -> None:
    async with transaction(session_factory) as session:
        tree = await make_tree(session)
        await make_person(session, role=Role.STAFF, area=tree.community, telegram_id=41)
    community = tree.community
    rule = service.WarningRule(askers=2, window=DAY.window)
    assert not await _check(session_factory, community, rule=rule)
    # Two more askers at once: each sees enough askers, only one may warn.
    results = await asyncio.gather(*(_check(session_factory, community, rule=rule)
                                     for _ in range(2)))
    assert sorted(results) == [False, True]
    assert await _warnings_queued(session_factory) == 1

    # Within the window nothing more; repeats and clean checks never count.
    assert not await _check(session_factory, community, at=NOW + timedelta(hours=23),
                            rule=rule)
    # After the window: the old askers no longer count; two new ones start round 2.
    later = NOW + timedelta(hours=48)
    assert not await _check(session_factory, community, at=later, rule=rule)
    assert not await _check(session_factory, community, at=later, repeat=True, rule=rule)
    assert not await _check(session_factory, community, at=later, kind=None,
                            verdict=Verdict.NONE, rule=rule)
    assert await _check(session_factory, community, at=later, rule=rule)
    async with session_factory() as session:
        warning = await session.scalar(select(ScamWarning))
    assert warning is not None and (warning.round, warning.warned_at) == (2, later)
    assert await _warnings_queued(session_factory) == 2


async def test_no_staff_no_warning_and_no_claim(session_factory) -> None:
    async with transaction(session_factory) as session:
        tree = await make_tree(session)
    for _ in range(3):
        assert not await _check(session_factory, tree.community)
    async with session_factory() as session:
        assert await session.scalar(select(ScamWarning)) is None


async def test_check_counts_by_kind_and_verdict_for_an_area_and_a_period(
    session_factory,
) -> None:
    async with transaction(session_factory) as session:
        tree = await make_tree(session)
        other = await make_tree(session, community="青石桥社区", parent=tree.street_office)
        elsewhere = await make_tree(session, street_office="城东办事处", community="东门社区")
    for community, kind, verdict, at in [
        (tree.community, "brushing", Verdict.HIGH, NOW),
        (tree.community, "brushing", Verdict.HIGH, NOW + timedelta(hours=1)),
        (tree.community, "medical_card", Verdict.SUSPICIOUS, NOW),
        (tree.community, None, Verdict.NONE, NOW),
        (other.community, "brushing", Verdict.HIGH, NOW),
        (elsewhere.community, "brushing", Verdict.HIGH, NOW),
        (None, "fake_police", Verdict.HIGH, NOW),
        (tree.community, "brushing", Verdict.HIGH, NOW + timedelta(days=1)),  # after the end
        (tree.community, "brushing", Verdict.HIGH, NOW - timedelta(seconds=1)),  # before
    ]:
        await _check(session_factory, community, kind=kind, verdict=verdict, at=at)
    start, end = NOW, NOW + timedelta(days=1)

    def as_tuples(counts: list[service.CheckCount]) -> list[tuple[str | None, str, int]]:
        return [(c.kind, c.verdict.value, c.checks) for c in counts]

    async with session_factory() as session:
        community = await service.check_counts(session, area_path=tree.community.path,
                                               start=start, end=end)
        office = await service.check_counts(session, area_path=tree.street_office.path,
                                            start=start, end=end)
        everywhere = await service.check_counts(session, area_path="/", start=start, end=end)
        grid = await service.check_counts(session, area_path=tree.grid.path, start=start,
                                          end=end)
    assert as_tuples(community) == [("brushing", "high", 2),
                                    ("medical_card", "suspicious", 1), (None, "none", 1)]
    assert as_tuples(office) == [("brushing", "high", 3), ("medical_card", "suspicious", 1),
                                 (None, "none", 1)]
    assert as_tuples(everywhere) == [("brushing", "high", 4), ("fake_police", "high", 1),
                                     ("medical_card", "suspicious", 1), (None, "none", 1)]
    assert grid == []  # checks are kept per community only
