"""Benchmark: resolving an audience out of 100,000 people and 5,000 chats.

A SQLite database (file, WAL, as deployed) with an area tree of 1 street office,
14 communities, 140 grids and 1,400 buildings; 100,000 people living in buildings,
a few thousand of them in 84 teams; resident subscriptions; 5,000 chats (group chats
linked to teams and areas, some the bot left, private chats that blocked the bot).

Measured: one community's subtree plus two teams, with their linked group chats, as a
notice resolves it (residents only if subscribed to notices), streamed to the end
(target < 0.3 s), and the peak Python memory while doing it (tracemalloc), which must
stay flat — the stream is paged, never loaded whole.

Run alone: `.venv/bin/python -m tests.bench_audience`.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bot.db import all_metadata, create_engine, create_session_factory, utcnow
from bot.directory.audience import AudienceSpec, count_audience, resolve_audience
from bot.directory.models import (
    Area,
    AreaKind,
    Chat,
    ChatStatus,
    Membership,
    Person,
    PersonStatus,
    Role,
    Subscription,
    SubscriptionTopic,
    Team,
    TeamKind,
)

PEOPLE = 100_000
CHATS = 5_000
COMMUNITIES = 14
GRIDS_PER_COMMUNITY = 10
BUILDINGS_PER_GRID = 10
TEAMS_PER_COMMUNITY = 6
TEAM_SIZE = 40
NOTICE = SubscriptionTopic.NOTICES
LANGUAGE_CODES = ("zh-hans", "zh-hant", "zh", "en", "zh-hk", None, "fr")


async def build_database(url: str, seed: int = 7) -> dict[str, Any]:
    """Fill a fresh database; returns the ids the benchmark's spec uses."""
    rng = random.Random(seed)
    engine = create_engine(url)
    async with engine.begin() as connection:
        for metadata in all_metadata():
            await connection.run_sync(metadata.create_all)
    now = utcnow()
    areas: list[dict[str, Any]] = [{"id": 1, "parent_id": None, "kind": AreaKind.STREET_OFFICE,
                                    "name": "街道", "path": "/1/", "created_at": now}]
    communities: list[int] = []
    buildings_by_community: dict[int, list[int]] = {}
    next_id = 2
    for c in range(COMMUNITIES):
        community = next_id
        next_id += 1
        communities.append(community)
        areas.append({"id": community, "parent_id": 1, "kind": AreaKind.COMMUNITY,
                      "name": f"社区{c}", "path": f"/1/{community}/", "created_at": now})
        buildings_by_community[community] = []
        for g in range(GRIDS_PER_COMMUNITY):
            grid = next_id
            next_id += 1
            areas.append({"id": grid, "parent_id": community, "kind": AreaKind.GRID,
                          "name": f"网格{g}", "path": f"/1/{community}/{grid}/",
                          "created_at": now})
            for b in range(BUILDINGS_PER_GRID):
                building = next_id
                next_id += 1
                areas.append({"id": building, "parent_id": grid, "kind": AreaKind.BUILDING,
                              "name": f"{b}号楼", "path": f"/1/{community}/{grid}/{building}/",
                              "created_at": now})
                buildings_by_community[community].append(building)
    all_buildings = [b for bs in buildings_by_community.values() for b in bs]

    people: list[dict[str, Any]] = []
    for i in range(1, PEOPLE + 1):
        roll = rng.random()
        role = (Role.STAFF if roll < 0.005 else Role.MEMBER if roll < 0.05 else Role.RESIDENT)
        status = (PersonStatus.LEFT if rng.random() < 0.03
                  else PersonStatus.PENDING if rng.random() < 0.02 else PersonStatus.ACTIVE)
        people.append({
            "id": i, "telegram_id": None if status is PersonStatus.PENDING else 500_000_000 + i,
            "name": f"居民{i}", "role": role, "status": status,
            "language": rng.choice((None, None, None, "zh-TW", "en")),
            "telegram_language": rng.choice(LANGUAGE_CODES),
            "area_id": rng.choice(all_buildings), "created_at": now,
        })

    teams: list[dict[str, Any]] = []
    memberships: list[dict[str, Any]] = []
    kinds = list(TeamKind)
    team_id = 0
    for community in communities:
        for t in range(TEAMS_PER_COMMUNITY):
            team_id += 1
            teams.append({"id": team_id, "kind": kinds[t], "name": f"队{team_id}",
                          "area_id": community, "archived": False, "created_at": now})
            for person_id in rng.sample(range(1, PEOPLE + 1), TEAM_SIZE):
                memberships.append({"person_id": person_id, "team_id": team_id,
                                    "is_leader": False, "created_at": now})
    # A few people in two of the benchmark's teams and in its area: the dedupe path.
    for person_id in (10, 20, 30):
        for t in (1, 2):
            memberships.append({"person_id": person_id, "team_id": t, "is_leader": False,
                                "created_at": now})
    memberships = list({(m["person_id"], m["team_id"]): m for m in memberships}.values())

    subscriptions: list[dict[str, Any]] = []
    topics = list(SubscriptionTopic)
    for i in range(1, PEOPLE + 1):
        if rng.random() < 0.6:
            for topic in rng.sample(topics, rng.randint(1, len(topics))):
                subscriptions.append({"person_id": i, "topic": topic, "created_at": now})

    chats: list[dict[str, Any]] = []
    blocked_people = iter(rng.sample(range(1, PEOPLE + 1), CHATS // 5))
    for i in range(1, CHATS + 1):
        if i % 5 == 0:  # a private chat whose person blocked the bot
            chats.append({"id": i, "telegram_chat_id": 500_000_000 + next(blocked_people),
                          "type": "private", "title": "", "team_id": None, "area_id": None,
                          "language": None, "status": ChatStatus.LEFT,
                          "can_pin": False, "created_at": now})
            continue
        linked_team = rng.randint(1, team_id) if i % 2 else None
        linked_area = None if linked_team else rng.choice(areas[1:1 + 11 * COMMUNITIES])["id"]
        chats.append({"id": i, "telegram_chat_id": -1_000_000_000_000 - i, "type": "supergroup",
                      "title": f"群{i}", "team_id": linked_team, "area_id": linked_area,
                      "language": rng.choice((None, "zh-TW", "en")),
                      "status": ChatStatus.LEFT if i % 17 == 0 else ChatStatus.ACTIVE,
                      "can_pin": True, "created_at": now})
    blocked = {c["telegram_chat_id"] for c in chats if c["type"] == "private"}

    factory = create_session_factory(engine)
    async with factory() as session, session.begin():
        await session.execute(insert(Area.__table__), areas)
        for start in range(0, len(people), 10_000):
            await session.execute(insert(Person.__table__), people[start:start + 10_000])
        await session.execute(insert(Team.__table__), teams)
        await session.execute(insert(Membership.__table__), memberships)
        for start in range(0, len(subscriptions), 20_000):
            await session.execute(insert(Subscription.__table__),
                                  subscriptions[start:start + 20_000])
        await session.execute(insert(Chat.__table__), chats)
    async with engine.connect() as connection:
        await connection.exec_driver_sql("ANALYZE")
    await engine.dispose()
    return {"community": communities[3], "teams": (1, 2), "blocked": blocked}


async def bench_audience() -> list[tuple[str, float]]:
    """[("audience_100k_s", seconds), ("audience_100k_peak_mb", megabytes)]."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'audience.db'}"
        ids = await build_database(url)
        engine = create_engine(url)
        factory = create_session_factory(engine)
        spec = AudienceSpec(area_ids=frozenset({ids["community"]}),
                            team_ids=frozenset(ids["teams"]),
                            include_linked_chats_of_teams=True,
                            include_linked_chats_of_areas=True)
        async with factory() as session:  # warm the connection and SQLite's page cache
            expected = await count_audience(session, spec, topic=NOTICE)
            async for _ in resolve_audience(session, spec, default_language="zh-CN",
                                            topic=NOTICE):
                pass

        best = float("inf")
        for _ in range(3):
            async with factory() as session:
                started = time.perf_counter()
                seen = 0
                async for _recipient in resolve_audience(session, spec,
                                                         default_language="zh-CN",
                                                         topic=NOTICE):
                    seen += 1
                best = min(best, time.perf_counter() - started)
        assert seen == expected.total, (seen, expected)

        tracemalloc.start()
        async with factory() as session:
            tracemalloc.reset_peak()
            baseline = tracemalloc.get_traced_memory()[0]
            async for _recipient in resolve_audience(session, spec, default_language="zh-CN",
                                                     topic=NOTICE):
                pass
            peak = tracemalloc.get_traced_memory()[1] - baseline
        tracemalloc.stop()
        await engine.dispose()
    print(f"audience: {expected.people} people + {expected.groups} group chats "
          f"resolved in {best:.3f} s, peak {peak / 1e6:.2f} MB")
    return [("audience_100k_s", best), ("audience_100k_peak_mb", peak / 1e6)]


if __name__ == "__main__":
    for name, value in asyncio.run(bench_audience()):
        print(f"{name}\t{value:.4f}")
