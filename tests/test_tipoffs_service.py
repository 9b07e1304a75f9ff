"""Unit tests of tip-off routing and lifecycle services (no Telegram)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.db import transaction
from bot.directory.models import TeamKind
from bot.tipoffs import routing, service
from bot.tipoffs.models import TipOff, TipOffDraft, TipOffEvent, TipOffStatus
from broadcasts import Broadcast
from tests.factories import make_area, make_team, make_tree
from tests.tipoff_support import make_community

NOW = datetime(2025, 3, 5, 9, 0, tzinfo=UTC)
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def town(session_factory):
    async with transaction(session_factory) as session:
        return await make_community(session, leader_id=700_900_001, member_id=700_900_002,
                                    cadre_id=700_900_003, patrol_chat_id=-4_100_000_001)


# -- routing ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rules", "place", "expected", "via"),
    [
        # No rule: the category's default kind (suspicious → patrol).
        ((), "building", "patrol", "default"),
        # A rule for everywhere beats the default.
        ((("everywhere", "mediation"),), "building", "mediation", "rule"),
        # The deepest area containing the place wins, whatever the order of creation.
        ((("community", "cadres"), ("grid", "mediation")), "building", "mediation", "rule"),
        ((("grid", "mediation"), ("community", "cadres")), "building", "mediation", "rule"),
        ((("everywhere", "cadres"), ("building", "mediation")), "building", "mediation",
         "rule"),
        # A rule for a deeper area does not apply above it.
        ((("building", "mediation"),), "community", "patrol", "default"),
        # No place known: only rules for everywhere apply.
        ((("community", "mediation"),), None, "patrol", "default"),
        ((("everywhere", "mediation"),), None, "mediation", "rule"),
    ],
)
async def test_routing_most_specific_rule_wins(session_factory, town, rules, place, expected,
                                               via) -> None:
    areas = {"community": town.community, "grid": town.grid, "building": town.building,
             "everywhere": None}
    teams = {"patrol": town.patrol, "cadres": town.cadres, "mediation": town.mediation}
    async with transaction(session_factory) as session:
        for area_name, team_name in rules:
            area = areas[area_name]
            await routing.set_rule(session, category="suspicious",
                                   area_id=area.id if area else None,
                                   team_id=teams[team_name].id, created_by_id=None)
        chosen = await routing.route(session, category="suspicious",
                                     area_id=areas[place].id if place else None)
    assert chosen == routing.Route(teams[expected].id, via)


@pytest.mark.parametrize(
    ("category", "expected", "via"),
    [
        ("dispute", "mediation", "default"),  # a mediation team exists
        ("pyramid", "cadres", "cadres"),  # no anti-pyramid team: the duty cadres
        ("hazard", "cadres", "default"),  # hazard goes to the cadres by default
        ("not-a-category", "cadres", "default"),  # unknown: treated like "other"
    ],
)
async def test_routing_falls_back_to_the_cadres(session_factory, town, category, expected,
                                                via) -> None:
    async with session_factory() as session:
        chosen = await routing.route(session, category=category, area_id=town.building.id)
    assert chosen.team_id == getattr(town, expected).id and chosen.via == via


async def test_routing_prefers_the_nearest_team_of_the_kind(session_factory, town) -> None:
    async with transaction(session_factory) as session:
        grid_patrol = await make_team(session, area=town.grid, name="3网格巡逻组",
                                      kind=TeamKind.PATROL)
    async with session_factory() as session:
        in_grid = await routing.route(session, category="theft", area_id=town.building.id)
        above = await routing.route(session, category="theft", area_id=town.community.id)
    assert in_grid.team_id == grid_patrol.id
    assert above.team_id == town.patrol.id


async def test_a_rule_is_replaced_not_duplicated(session_factory, town) -> None:
    async with transaction(session_factory) as session:
        for team in (town.patrol, town.mediation):
            await routing.set_rule(session, category="theft", area_id=town.grid.id,
                                   team_id=team.id, created_by_id=None)
        rules = await routing.list_rules(session, within_path=None)
    assert [(r.category, r.area_id, r.team_id) for r in rules] == [
        ("theft", town.grid.id, town.mediation.id)]


# -- lifecycle -------------------------------------------------------------------------
async def _submitted(session_factory, town, *, anonymous: bool = True) -> int:
    async with transaction(session_factory) as session:
        draft = await service.start_draft(session, person=town.member, now=NOW)
        draft.category, draft.description, draft.anonymous = "theft", "电动车被偷了", anonymous
        draft.area_id = town.building.id
        submitted = await service.submit(session, draft=draft, now=NOW,
                                         default_language="zh-CN", tz=TZ)
    return submitted.tipoff_id


async def _kinds(session, tipoff_id: int) -> list[str]:
    return [e.kind.value for e in await session.scalars(
        select(TipOffEvent).where(TipOffEvent.tipoff_id == tipoff_id).order_by(TipOffEvent.id))]


async def test_submit_routes_queues_the_card_and_drops_the_draft(session_factory, town) -> None:
    tipoff_id = await _submitted(session_factory, town)
    async with session_factory() as session:
        tipoff = await session.get(TipOff, tipoff_id)
        kinds = [b.kind for b in await session.scalars(select(Broadcast))]
        assert (await session.scalars(select(TipOffDraft))).all() == []
        assert await _kinds(session, tipoff_id) == ["created", "routed"]
    assert tipoff.team_id == town.patrol.id and tipoff.status is TipOffStatus.NEW
    assert kinds == ["tipoff_card"]  # no photos: no album


@pytest.mark.parametrize(
    ("steps", "status", "events", "updates"),
    [
        (["claim"], TipOffStatus.CLAIMED, ["claimed"], 1),
        (["claim", "resolve"], TipOffStatus.RESOLVED, ["claimed", "resolved"], 2),
        (["refer"], TipOffStatus.REFERRED, ["referred"], 1),
        (["claim", "reject"], TipOffStatus.REJECTED, ["claimed", "rejected"], 2),
        (["reassign"], TipOffStatus.NEW, ["reassigned"], 1),
        (["claim", "reassign"], TipOffStatus.NEW, ["claimed", "reassigned"], 2),
        # After closing, nothing more happens (no event, no message).
        (["resolve", "claim"], TipOffStatus.RESOLVED, ["resolved"], 1),
        (["refer", "reject"], TipOffStatus.REFERRED, ["referred"], 1),
        (["reject", "reassign"], TipOffStatus.REJECTED, ["rejected"], 1),
    ],
)
async def test_lifecycle_steps(session_factory, town, steps, status, events, updates) -> None:
    tipoff_id = await _submitted(session_factory, town)
    actor = town.leader.id
    for step in steps:
        async with transaction(session_factory) as session:
            if step == "claim":
                await service.claim(session, tipoff_id=tipoff_id, person_id=actor, now=NOW,
                                    default_language="zh-CN")
            elif step == "reassign":
                await service.reassign(session, tipoff_id=tipoff_id, team_id=town.mediation.id,
                                       person_id=actor, now=NOW, default_language="zh-CN",
                                       tz=TZ)
            else:
                closing = {"resolve": TipOffStatus.RESOLVED, "refer": TipOffStatus.REFERRED,
                           "reject": TipOffStatus.REJECTED}[step]
                await service.close(session, tipoff_id=tipoff_id, person_id=actor,
                                    status=closing, note="备注", now=NOW,
                                    default_language="zh-CN")
    async with session_factory() as session:
        tipoff = await session.get(TipOff, tipoff_id)
        kinds = await _kinds(session, tipoff_id)
        to_reporter = (await session.scalars(
            select(Broadcast).where(Broadcast.kind == "tipoff_update"))).all()
    assert tipoff.status is status
    assert kinds == ["created", "routed", *events]
    assert len(to_reporter) == updates
    if "reassign" in steps and status is TipOffStatus.NEW:
        assert tipoff.team_id == town.mediation.id and tipoff.claimed_by_id is None


async def test_a_second_claim_is_told_who_was_first(session_factory, town) -> None:
    tipoff_id = await _submitted(session_factory, town)
    async with transaction(session_factory) as session:
        first = await service.claim(session, tipoff_id=tipoff_id, person_id=town.leader.id,
                                    now=NOW, default_language="zh-CN")
    async with transaction(session_factory) as session:
        second = await service.claim(session, tipoff_id=tipoff_id, person_id=town.cadre.id,
                                     now=NOW, default_language="zh-CN")
    assert first.outcome is service.Outcome.DONE
    assert second.outcome is service.Outcome.TAKEN and second.by_name == "王队长"


@pytest.mark.parametrize("anonymous", [True, False])
async def test_card_facts_carry_the_name_only_when_not_anonymous(session_factory, town,
                                                                 anonymous) -> None:
    tipoff_id = await _submitted(session_factory, town, anonymous=anonymous)
    async with session_factory() as session:
        facts = await service.card_facts(session, tipoff_id=tipoff_id)
    assert facts.reporter_name == (None if anonymous else "张队员")
    assert facts.reporter_phone is None


@pytest.mark.parametrize(
    ("urgent", "age_minutes", "escalated"),
    [(False, 29, False), (False, 31, True), (True, 4, False), (True, 6, True)],
)
async def test_escalation_is_due_after_its_time_and_happens_once(
    session_factory, town, urgent, age_minutes, escalated,
) -> None:
    tipoff_id = await _submitted(session_factory, town)
    async with transaction(session_factory) as session:
        tipoff = await session.get(TipOff, tipoff_id)
        tipoff.urgent = urgent
    later = NOW + timedelta(minutes=age_minutes)
    results = []
    for _ in range(2):
        async with transaction(session_factory) as session:
            results.append(await service.run_scan(session, now=later,
                                                  config=service.TipoffConfig(),
                                                  default_language="zh-CN", tz=TZ))
    assert results[0].escalated == ([tipoff_id] if escalated else [])
    assert results[1].escalated == []


async def test_buildings_of_the_same_name_in_two_grids_are_told_apart(session_factory) -> None:
    """Two grids each with a “3栋”: the reporter's keyboard names them by their grid too, and
    each label leads to its own building (a name alone picked the other grid's)."""
    async with transaction(session_factory) as session:
        tree = await make_tree(session, grid="1网格", building="3栋")
        grid2 = await make_area(session, name="2网格", parent=tree.community)
        other = await make_area(session, name="3栋", parent=grid2)
        choices = await service.place_choices(session, home_area_id=tree.building.id)
    by_name = {c.name: c.id for c in choices}
    assert len(by_name) == len(choices)
    assert by_name["3栋 · 1网格"] == tree.building.id and by_name["3栋 · 2网格"] == other.id
    assert by_name["1网格"] == tree.grid.id
