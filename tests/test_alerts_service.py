"""Unit tests of the alert service (no Telegram): who must acknowledge, one count per
person, re-notify due times, escalation grouped by leader, an idempotent all-clear."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.alerts import service
from bot.alerts.models import Alert, AlertRecipient, AlertStatus, Severity
from bot.audit import AuditEntry
from bot.auth import Actor
from bot.db import transaction, utcnow
from bot.directory.models import Chat, ChatStatus, Person, Role, Team
from broadcasts import Broadcast, Delivery
from tests.factories import Tree, add_to_team, make_person, make_team, make_tree

CONFIG = service.AlertConfig(renotify_minutes=10, sensitive_renotify_minutes=3, renotify_max=2)
NOW = utcnow().replace(microsecond=0)


@dataclass
class World:
    tree: Tree
    author: Actor
    patrol: Team
    mediation: Team
    people: dict[str, Person]  # by name


async def _world(session_factory) -> World:
    async with transaction(session_factory) as session:
        tree = await make_tree(session)
        patrol = await make_team(session, area=tree.community, name="巡逻队")
        mediation = await make_team(session, area=tree.community, name="调解队")
        staff = await make_person(session, name="李干部", role=Role.STAFF, area=tree.community,
                                  telegram_id=1000)
        people: dict[str, Person] = {}
        for i, (name, team, leader) in enumerate([
            ("巡逻组长", patrol, True), ("巡逻甲", patrol, False), ("巡逻乙", patrol, False),
            ("调解组长", mediation, True), ("调解甲", mediation, False),
        ]):
            person = await make_person(session, name=name, role=Role.MEMBER, area=tree.grid,
                                       telegram_id=2000 + i)
            await add_to_team(session, person=person, team=team, leader=leader)
            people[name] = person
        # In both teams: one person, two copies, one count.
        await add_to_team(session, person=people["巡逻甲"], team=mediation)
        people["居民"] = await make_person(session, name="居民", role=Role.RESIDENT,
                                           area=tree.building, telegram_id=3000)
        session.add(Chat(telegram_chat_id=-500, type="group", title="巡逻群", team_id=patrol.id,
                         status=ChatStatus.ACTIVE, can_pin=True))
    author = Actor(telegram_id=1000, name="李干部", language="zh-CN", person_id=staff.id,
                   role=Role.STAFF, area_path=tree.community.path)
    return World(tree, author, patrol, mediation, people)


async def _create(session_factory, world: World, spec, *, ack: bool = True,
                  now=NOW) -> service.Created:
    async with transaction(session_factory) as session:
        return await service.create_alert(
            session, author=world.author, spec=spec, text="注意防火", photo=None,
            severity=Severity.EMERGENCY, ack_required=ack, config=CONFIG,
            default_language="zh-CN", now=now)


@pytest.mark.parametrize(("audience", "expected"), [
    ("patrol", {"巡逻组长", "巡逻甲", "巡逻乙"}),
    ("mediation", {"调解组长", "调解甲", "巡逻甲"}),
    ("both", {"巡逻组长", "巡逻甲", "巡逻乙", "调解组长", "调解甲"}),
    ("grid", {"巡逻组长", "巡逻甲", "巡逻乙", "调解组长", "调解甲", "居民"}),  # building below
    # The author (李干部, staff of the community) is not asked to acknowledge their own alert.
    ("community", {"巡逻组长", "巡逻甲", "巡逻乙", "调解组长", "调解甲", "居民"}),
    ("patrol-author", {"巡逻甲", "巡逻乙"}),  # the patrol's leader alerts their own team
])
async def test_who_must_acknowledge(session_factory, audience: str, expected: set[str]) -> None:
    world = await _world(session_factory)
    if audience == "patrol-author":
        leader = world.people["巡逻组长"]
        world.author = Actor(telegram_id=leader.telegram_id, name=leader.name, language="zh-CN",
                             person_id=leader.id, role=Role.MEMBER, area_path=world.tree.grid.path,
                             team_ids=frozenset({world.patrol.id}),
                             led_team_ids=frozenset({world.patrol.id}))
        audience = "patrol"
    teams = {"patrol": {world.patrol.id}, "mediation": {world.mediation.id},
             "both": {world.patrol.id, world.mediation.id}}.get(audience, set())
    areas = {"grid": {world.tree.grid.id},
             "community": {world.tree.community.id}}.get(audience, set())
    created = await _create(session_factory, world, service.spec_for(teams, areas))
    async with session_factory() as session:
        names = set(await session.scalars(
            select(Person.name).join(AlertRecipient, AlertRecipient.person_id == Person.id)
            .where(AlertRecipient.alert_id == created.alert_id)))
    assert names == expected
    assert created.people == len(expected)
    assert created.groups == (1 if audience in ("patrol", "both", "community") else 0)


@pytest.mark.parametrize("presses", [
    [("group", "RECORDED"), ("private", "ALREADY")],
    [("private", "RECORDED"), ("private", "ALREADY"), ("group", "ALREADY")],
    [("group", "RECORDED"), ("group", "ALREADY")],
])
async def test_counted_once_per_person_across_copies(session_factory, presses) -> None:
    world = await _world(session_factory)
    created = await _create(session_factory, world, service.spec_for({world.patrol.id}, ()))
    person = world.people["巡逻甲"]
    first_at = None
    for n, (where, expected) in enumerate(presses):
        async with transaction(session_factory) as session:
            ack = await service.acknowledge(
                session, alert_id=created.alert_id, person_id=person.id,
                chat_id=-500 if where == "group" else person.telegram_id,
                now=NOW + timedelta(minutes=n))
        assert ack.result is service.AckResult[expected]
        first_at = first_at or ack.at
        assert ack.at == first_at == NOW  # always the first press's time
    async with session_factory() as session:
        figures = await service.figures(session, created.alert_id)
    assert figures is not None and (figures.acknowledged, figures.people) == (1, 3)


@pytest.mark.parametrize(("period", "minutes", "sensitive"), [
    (None, 10, False),
    ("community", 3, True),
    ("everywhere", 3, True),
    ("other-community", 10, False),
])
async def test_renotify_due_times(session_factory, period, minutes, sensitive) -> None:
    world = await _world(session_factory)
    if period is not None:
        async with transaction(session_factory) as session:
            area_id = None
            if period == "community":
                area_id = world.tree.community.id
            elif period == "other-community":
                area_id = (await make_tree(session, community="青石桥社区",
                                           parent=world.tree.street_office)).community.id
            await service.start_period(session, area_id=area_id, hours=24, renotify_minutes=3,
                                       created_by_id=None, now=NOW - timedelta(hours=1))
    created = await _create(session_factory, world, service.spec_for({world.patrol.id}, ()))
    assert created.sensitive is sensitive
    due = NOW + timedelta(minutes=minutes)
    async with transaction(session_factory) as session:
        alert = await session.get(Alert, created.alert_id)
        assert alert is not None and alert.next_renotify_at == due
        early = await service.run_scan(session, now=due - timedelta(seconds=1),
                                       default_language="zh-CN")
        on_time = await service.run_scan(session, now=due, default_language="zh-CN")
        again = await service.run_scan(session, now=due, default_language="zh-CN")
    assert (early.changed, on_time.renotified, again.changed) == (False, [created.alert_id],
                                                                   False)
    async with session_factory() as session:
        alert = await session.get(Alert, created.alert_id)
        assert alert.renotify_done == 1 and alert.next_renotify_at == due + timedelta(
            minutes=minutes)


async def test_no_ack_required_means_no_chase(session_factory) -> None:
    world = await _world(session_factory)
    created = await _create(session_factory, world, service.spec_for({world.patrol.id}, ()),
                            ack=False)
    async with transaction(session_factory) as session:
        result = await service.run_scan(session, now=NOW + timedelta(days=1),
                                        default_language="zh-CN")
    assert not result.changed and created.alert_id


@pytest.mark.parametrize(("acked", "expected"), [
    # leader → the names they get (a leader is never told about themself; the author is
    # told about a leader nobody else leads)
    ((), {"巡逻组长": {"巡逻甲", "巡逻乙"}, "调解组长": {"调解甲", "巡逻甲"},
          "李干部": {"巡逻组长", "调解组长"}}),
    (("巡逻甲",), {"巡逻组长": {"巡逻乙"}, "调解组长": {"调解甲"},
                  "李干部": {"巡逻组长", "调解组长"}}),
    (("巡逻甲", "巡逻乙", "调解甲", "巡逻组长"), {"李干部": {"调解组长"}}),
])
async def test_escalation_grouped_by_team_leader(session_factory, acked, expected) -> None:
    world = await _world(session_factory)
    created = await _create(session_factory, world,
                            service.spec_for({world.patrol.id, world.mediation.id}, ()))
    async with transaction(session_factory) as session:
        for name in acked:
            await service.acknowledge(session, alert_id=created.alert_id,
                                      person_id=world.people[name].id, chat_id=1, now=NOW)
    now = NOW
    for _round in range(3):  # two reminders, then the escalation
        now += timedelta(minutes=10)
        async with transaction(session_factory) as session:
            await service.run_scan(session, now=now, default_language="zh-CN")
    async with session_factory() as session:
        rows = (await session.execute(
            select(Person.name, Broadcast.content)
            .join(Delivery, Delivery.broadcast_id == Broadcast.id)
            .join(Person, Person.telegram_id == Delivery.chat_id)
            .where(Broadcast.kind == "alert_escalation"))).all()
        alert = await session.get(Alert, created.alert_id)
    everyone = {"巡逻组长", "巡逻甲", "巡逻乙", "调解组长", "调解甲"}
    got = {leader: {n for n in everyone if f"• {n}\n" in content["zh-CN"]["text"] + "\n"}
           for leader, content in rows}
    assert got == expected
    assert len(rows) == len(expected)  # one note per leader
    assert alert.escalated_at == now and alert.next_renotify_at is None


async def test_all_clear_is_idempotent_and_stops_the_chase(session_factory) -> None:
    world = await _world(session_factory)
    created = await _create(session_factory, world, service.spec_for({world.patrol.id}, ()))
    async with transaction(session_factory) as session:
        first = await service.close_alert(session, alert_id=created.alert_id,
                                          by_person_id=world.author.person_id, note="已处理",
                                          now=NOW + timedelta(minutes=1))
    async with transaction(session_factory) as session:
        second = await service.close_alert(session, alert_id=created.alert_id,
                                           by_person_id=None, note=None,
                                           now=NOW + timedelta(minutes=2))
        scan = await service.run_scan(session, now=NOW + timedelta(hours=1),
                                      default_language="zh-CN")
        ack = await service.acknowledge(session, alert_id=created.alert_id,
                                        person_id=world.people["巡逻甲"].id, chat_id=1,
                                        now=NOW + timedelta(hours=1))
    assert first is not None and second is None and not scan.changed
    assert ack.result is service.AckResult.CLOSED
    async with session_factory() as session:
        alert = await session.get(Alert, created.alert_id)
        clears = list(await session.scalars(select(Broadcast.kind).where(
            Broadcast.kind.like("alert_clear%"))))
    assert alert.status is AlertStatus.CLOSED and alert.all_clear_text == "已处理"
    assert alert.closed_at == NOW + timedelta(minutes=1) and alert.next_renotify_at is None
    assert sorted(clears) == ["alert_clear_group", "alert_clear_private"]  # once, not twice


@pytest.mark.parametrize(("who", "may"), [
    ("author, still staff", True),
    ("author, now a resident", False),
    ("staff of the same community", True),
    ("a resident", False),
])
async def test_who_may_manage_an_alert(session_factory, who: str, may: bool) -> None:
    world = await _world(session_factory)
    created = await _create(session_factory, world, service.spec_for({world.patrol.id}, ()))
    actors = {
        "author, still staff": world.author,
        "author, now a resident": Actor(telegram_id=1000, name="李干部", language="zh-CN",
                                        person_id=world.author.person_id, role=Role.RESIDENT),
        "staff of the same community": Actor(telegram_id=1001, name="王干部", language="zh-CN",
                                             person_id=None, role=Role.STAFF,
                                             area_path=world.tree.community.path),
        "a resident": Actor(telegram_id=3000, name="居民", language="zh-CN",
                            person_id=world.people["居民"].id, role=Role.RESIDENT),
    }
    async with session_factory() as session:
        alert = await session.get(Alert, created.alert_id)
        assert alert is not None
        assert await service.may_manage(session, actors[who], alert) is may


async def test_alert_sent_all_clear_and_sensitive_periods_are_audited(session_factory) -> None:
    world = await _world(session_factory)
    created = await _create(session_factory, world, service.spec_for({world.patrol.id}, ()))
    async with transaction(session_factory) as session:
        await service.close_alert(session, alert_id=created.alert_id,
                                  by_person_id=world.author.person_id, note="已处理",
                                  now=NOW + timedelta(minutes=1))
        period = await service.start_period(
            session, area_id=world.tree.community.id, hours=24, renotify_minutes=5,
            created_by_id=world.author.person_id, now=NOW)
        await service.end_period(session, period_id=period.id, now=NOW + timedelta(hours=1),
                                 actor_id=world.author.person_id)
    async with session_factory() as session:
        entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    assert [(e.action, e.actor_id) for e in entries] == [
        ("alert.send", world.author.person_id), ("alert.all_clear", world.author.person_id),
        ("alert.sensitive_start", world.author.person_id),
        ("alert.sensitive_end", world.author.person_id)]
    sent, cleared, started, ended = entries
    assert sent.object_id == cleared.object_id == created.alert_id
    assert (sent.after["people"], sent.after["groups"]) == (created.people, created.groups)
    assert (cleared.before, cleared.after, cleared.reason) == (
        {"status": "open"}, {"status": "closed"}, "已处理")
    assert started.after == {"area_id": world.tree.community.id, "hours": 24,
                             "renotify_minutes": 5}
    assert ended.after == {"ends_at": (NOW + timedelta(hours=1)).isoformat()}
