"""Unit tests of the figures: seeded reports, broadcasts and alerts with known times, and
the values worked out by hand (no Telegram)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.db import transaction
from bot.directory.models import PersonStatus, Role, SubscriptionTopic
from bot.figures import periods, reach, tipoffs
from bot.figures.counting import Scope, percentile
from bot.figures.people import people_figures
from bot.tipoffs.models import TipOffStatus
from tests.factories import make_area, make_person
from tests.figures_support import seed, utc

TZ = ZoneInfo("Asia/Shanghai")
#: Early December in Shanghai: November is complete, December is running.
NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
NOVEMBER = periods.month_period(2026, 11, tz=TZ, now=NOW)


def test_months_are_local_calendar_months() -> None:
    # 1 November 00:00 in Shanghai is 31 October 16:00 UTC.
    assert NOVEMBER.start == utc(2026, 10, 31, 16)
    assert NOVEMBER.end == utc(2026, 11, 30, 16)
    assert NOVEMBER.complete
    running = periods.this_month(tz=TZ, now=NOW)
    assert (running.month, running.start, running.end, running.complete) == (
        12, utc(2026, 11, 30, 16), NOW, False)


def test_previous_period_is_like_for_like() -> None:
    before = periods.previous(NOVEMBER, tz=TZ)
    assert (before.month, before.start, before.end) == (10, utc(2026, 9, 30, 16),
                                                         utc(2026, 10, 31, 16))
    # The 1st to the 5th of December (10:00 local) against the same days of November.
    running = periods.previous(periods.this_month(tz=TZ, now=NOW), tz=TZ)
    assert (running.start, running.end) == (utc(2026, 10, 31, 16), utc(2026, 11, 5, 2))
    # 31 March running → compared with February up to its last day.
    march = periods.this_month(tz=TZ, now=utc(2027, 3, 31, 4))
    assert periods.previous(march, tz=TZ).end == utc(2027, 2, 28, 4)
    year = periods.previous(periods.this_year(tz=TZ, now=NOW), tz=TZ)
    assert (year.year, year.start, year.end) == (2025, utc(2024, 12, 31, 16),
                                                 utc(2025, 12, 5, 2))


def test_months_back_ends_with_the_running_month() -> None:
    months = periods.months_back(count=12, tz=TZ, now=NOW)
    assert [(m.year, m.month) for m in months][:2] == [(2026, 1), (2026, 2)]
    assert (months[-1].month, months[-1].complete) == (12, False)
    # Twelve months up to a month picked in the past end with that month.
    picked = periods.months_back(count=12, tz=TZ, now=NOW, ending=NOVEMBER)
    assert [(m.year, m.month) for m in (picked[0], picked[-1])] == [(2025, 12), (2026, 11)]
    assert picked[-1] == NOVEMBER


@pytest.mark.parametrize(("values", "p", "expected"), [
    ([], 50, None), ([5.0], 90, 5.0), ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
    ([1.0, 2.0, 3.0, 4.0], 90, 3.7), ([4.0, 1.0, 3.0], 50, 3.0),
])
def test_percentile_interpolates_between_ranks(values, p, expected) -> None:
    assert percentile(values, p) == (None if expected is None
                                             else pytest.approx(expected))


@pytest.fixture
async def seeded(session_factory):
    return await seed(session_factory)


async def test_tipoff_figures_over_seeded_reports(session_factory, seeded) -> None:
    scope = Scope(area_path=seeded["community"].path)
    previous = periods.previous(NOVEMBER, tz=TZ)
    async with session_factory() as session:
        rows = await tipoffs.load_tipoffs(session, scope=scope, since=previous.start,
                                          until=NOVEMBER.end)
    figures = tipoffs.tipoff_figures(rows, NOVEMBER)
    # Received in November (local): 1 Nov 01:00 yes, 1 Dec 00:30 no, next door no.
    assert figures.received == 5
    assert figures.by_category == {"suspicious": 2, "theft": 1, "dispute": 2}
    assert figures.by_status == {TipOffStatus.CLAIMED: 1, TipOffStatus.RESOLVED: 2,
                                 TipOffStatus.REFERRED: 1, TipOffStatus.REJECTED: 1}
    # Claimed in November after 10, 20, 30, 40 minutes; the October dispute was claimed
    # on 1 Nov 11:00 local after 49 hours; the rejected one was never claimed.
    claims = sorted(tipoffs.claim_seconds(rows, NOVEMBER))
    assert claims == [600, 1200, 1800, 2400, 49 * 3600]
    assert figures.claim_median_s == 1800
    assert figures.claim_p90_s == pytest.approx(2400 + 0.6 * (49 * 3600 - 2400))
    # Closed in November after 2, 6, 4, 10 hours and 3 days.
    assert sorted(tipoffs.close_seconds(rows, NOVEMBER)) == [7200, 14400, 21600, 36000,
                                                             3 * 86400]
    assert figures.close_median_s == 21600
    assert (figures.escalated, figures.referred) == (1, 1)
    # Disputes closed in November: two resolved (one from October), one rejected.
    assert (figures.mediation.resolved, figures.mediation.closed) == (2, 3)
    assert figures.mediation.rate == pytest.approx(2 / 3)
    before = tipoffs.tipoff_figures(rows, previous)
    assert before.received == 2 and before.mediation.rate is None


async def test_by_area_counts_the_grids_below_the_community(session_factory, seeded) -> None:
    scope = Scope(area_path=seeded["community"].path)
    async with session_factory() as session:
        rows = await tipoffs.load_tipoffs(session, scope=scope, since=NOVEMBER.start,
                                          until=NOVEMBER.end)
        areas = await tipoffs.child_areas(session, path=seeded["community"].path)
    # The building lies in 3网格; reports without a place count where their team is.
    assert tipoffs.by_area(rows, NOVEMBER, areas) == {"3网格": 1, "5网格": 1, "": 3}


async def test_monthly_received_counts_in_local_months(session_factory, seeded) -> None:
    months = periods.months_back(count=3, tz=TZ, now=NOW)
    async with session_factory() as session:
        counts = await tipoffs.monthly_received(
            session, scope=Scope(area_path=seeded["community"].path), months=months)
    assert counts == [2, 5, 1]  # October, November, December (1 Dec 00:30 local)


async def test_a_leaders_figures_are_their_teams_only(session_factory, seeded) -> None:
    scope = Scope(team_ids=frozenset({seeded["patrol"].id}))
    async with session_factory() as session:
        rows = await tipoffs.load_tipoffs(session, scope=scope, since=NOVEMBER.start,
                                          until=NOVEMBER.end)
        broadcasts = await reach.load_broadcasts(session, scope=scope, since=NOVEMBER.start,
                                                   until=NOVEMBER.end)
        alerts = await reach.load_alerts(session, scope=scope, since=NOVEMBER.start,
                                           until=NOVEMBER.end)
    assert tipoffs.tipoff_figures(rows, NOVEMBER).received == 3
    assert broadcasts == []  # the November notice went to the area, not to the team
    assert len(alerts) == 1


async def test_broadcast_reach(session_factory, seeded) -> None:
    async with session_factory() as session:
        rows = await reach.load_broadcasts(
            session, scope=Scope(area_path=seeded["community"].path), since=NOVEMBER.start,
            until=NOVEMBER.end)
    figures = reach.broadcast_figures(rows)
    # Only the community's notice: 4 recipients (the cancelled row is not one), 3 delivered.
    assert (figures.sent, figures.recipients, figures.delivered, figures.unreachable) == (
        1, 4, 3, 1)
    assert figures.delivered_rate == 0.75 and figures.by_kind == {"notice": 1}


async def test_alert_acknowledgement(session_factory, seeded) -> None:
    async with session_factory() as session:
        rows = await reach.load_alerts(
            session, scope=Scope(area_path=seeded["community"].path), since=NOVEMBER.start,
            until=NOVEMBER.end)
        next_door = await reach.load_alerts(
            session, scope=Scope(area_path=seeded["other"].path), since=NOVEMBER.start,
            until=NOVEMBER.end)
    figures = reach.alert_figures(rows)
    assert (figures.sent, figures.expected, figures.acknowledged) == (1, 4, 3)
    assert figures.acknowledged_rate == 0.75
    assert figures.median_ack_s == 240
    assert (figures.reminders, figures.escalated) == (2, 1)
    assert reach.ack_curve(rows, [0, 2, 5, 30, 60]) == [0, 0.25, 0.5, 0.75, 0.75]
    assert next_door == []


async def test_people_figures(session_factory, seeded) -> None:
    async with session_factory() as session:
        people = await people_figures(
            session, scope=Scope(area_path=seeded["community"].path),
            period=periods.this_month(tz=TZ, now=datetime.now(UTC)))
    # 陈阿姨 lives in 12栋, the community's one building, and subscribes to tips.
    assert (people.residents, people.new_residents) == (1, 1)
    assert (people.buildings, people.covered_buildings, people.coverage) == (1, 1, 1.0)
    assert people.team_sizes == {seeded["patrol"].id: 1, seeded["mediation"].id: 0}


async def test_coverage_counts_buildings_where_an_active_resident_subscribes(
    session_factory, seeded,
) -> None:
    community = seeded["community"]
    async with transaction(session_factory) as session:
        grid = await make_area(session, name="7网格", parent=community)
        quiet = await make_area(session, name="14栋", parent=grid)  # nobody subscribes there
        await make_person(session, area=quiet, telegram_id=711_000_001)
        await make_person(session, area=quiet, role=Role.STAFF, telegram_id=711_000_002,
                          topics=(SubscriptionTopic.SAFETY_TIPS,))
        await make_person(session, area=quiet, status=PersonStatus.LEFT,
                          topics=(SubscriptionTopic.SAFETY_TIPS,))
        busy = await make_area(session, name="15栋", parent=grid)  # one of two subscribes
        await make_person(session, area=busy, telegram_id=711_000_003)
        await make_person(session, area=busy, telegram_id=711_000_004,
                          topics=(SubscriptionTopic.NOTICES,))
    async with session_factory() as session:
        people = await people_figures(
            session, scope=Scope(area_path=community.path),
            period=periods.this_month(tz=TZ, now=datetime.now(UTC)))
    assert (people.residents, people.new_residents) == (4, 4)
    assert (people.buildings, people.covered_buildings) == (3, 2)  # 12栋 and 15栋
