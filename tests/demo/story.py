"""The demo's story, seeded through the bot's own services into the demo's database, and
the matching people and group chats in the fake Telegram.

A street office with two communities (grids, buildings, the default teams each community
gets), leaders and members, two group chats linked to a team and to a community, a dozen
residents, a routing rule, a schedule, a campaign and a patrol post with a shift.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auth import Actor
from bot.chats import service as chats
from bot.db import create_engine, create_session_factory, transaction, upgrade_database_async
from bot.directory.areas import create_area
from bot.directory.audience import AudienceSpec
from bot.directory.models import (
    Area,
    Person,
    PersonStatus,
    Role,
    Subscription,
    SubscriptionTopic,
    Team,
    TeamKind,
)
from bot.directory.people import TelegramIdentity, load_actor
from bot.directory.teams import add_member
from bot.patrol import service as patrol
from bot.schedules import service as schedules
from bot.schedules.triggers import TriggerKind, TriggerSpec
from bot.tipoffs.routing import set_rule
from broadcasts.models import utcnow
from tests.fake_telegram import FakeTelegram
from tests.fake_telegram.state import UserRecord

TIMEZONE = "Asia/Shanghai"
RESIDENTS = ("刘奶奶", "周大爷", "吴阿姨", "郑师傅", "孙老师", "钱大姐", "冯叔叔", "陈先生",
             "褚阿婆", "卫大哥", "蒋阿姨", "沈爷爷")

SCAM_TEXT = ("【医保中心】您的医保卡已被冻结，请立即添加客服QQ 2836xxxx，"
             "按提示把验证码发给工作人员，并转账到安全账户完成解冻。")


@dataclass
class Persona:
    """Someone the page lets you be."""

    key: str
    name: str
    role: str  # shown under the name
    user_id: int
    main: bool = True  # the five of the story; the residents are listed below them

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Story:
    """What was seeded: the personas, the post's sign-in payload, the groups."""

    personas: list[Persona] = field(default_factory=list)
    admin_ids: tuple[int, ...] = ()
    post_payload: str = ""
    groups: dict[str, int] = field(default_factory=dict)

    def persona(self, key: str) -> Persona:
        return next(p for p in self.personas if p.key == key)

    def to_json(self) -> dict[str, Any]:
        return {"personas": [p.to_json() for p in self.personas],
                "post_payload": self.post_payload, "groups": self.groups}


def _shift_hours(now: datetime) -> tuple[time, time]:
    """A shift starting within the next half hour, so signing in now is on time."""
    local = now.astimezone(ZoneInfo(TIMEZONE)) + timedelta(minutes=20)
    starts = local.replace(minute=local.minute // 10 * 10, second=0, microsecond=0)
    ends = starts + timedelta(hours=4)
    return starts.time(), ends.time() if ends.date() == starts.date() else time(23, 59)


def _started(fake: FakeTelegram, name: str) -> UserRecord:
    """A person who has pressed Start with the bot before the demo begins."""
    user = fake.add_user(name, "zh-hans")
    user.started = True
    return user


async def _team(session: AsyncSession, area: Area, kind: TeamKind) -> Team:
    return await session.scalar(select(Team).where(Team.area_id == area.id, Team.kind == kind))  # type: ignore[return-value]


async def _person(session: AsyncSession, user: UserRecord | None, name: str, role: Role,
                  area: Area, topics: tuple[SubscriptionTopic, ...] = ()) -> Person:
    person = Person(name=name, role=role, area_id=area.id, status=PersonStatus.ACTIVE,
                    telegram_id=user.id if user else None, telegram_language="zh-hans")
    session.add(person)
    await session.flush()
    session.add_all(Subscription(person_id=person.id, topic=t) for t in topics)
    return person


async def _actor(session: AsyncSession, person: Person, admin_ids: tuple[int, ...]) -> Actor:
    assert person.telegram_id is not None
    return await load_actor(session, identity=TelegramIdentity(telegram_id=person.telegram_id,
                                                               name=person.name),
                            default_language="zh-CN", admin_ids=admin_ids)


async def _link(session: AsyncSession, chat_id: int, title: str, target: chats.Target,
                actor_id: int) -> None:
    registration = await chats.register_group(session, telegram_chat_id=chat_id,
                                              chat_type="group", title=title, can_pin=True)
    await chats.link_chat(session, chat=registration.chat, target=target, thread_id=None,
                          actor_id=actor_id)


async def seed(fake: FakeTelegram, database_url: str) -> Story:
    """Migrate the demo database and fill it and the fake with the story."""
    await upgrade_database_async(database_url)
    aunt = fake.add_user("陈阿姨", "zh-hans")  # not registered yet: that is the first step
    member = _started(fake, "张队员")
    leader = _started(fake, "王队长")
    cadre = _started(fake, "李干部")
    admin = _started(fake, "管理员")
    neighbours = [_started(fake, name) for name in RESIDENTS]
    patrol_group = fake.add_group("龙江路巡逻队", [leader, member])
    community_group = fake.add_group("龙江路社区平安群", [cadre, leader, member, *neighbours[:6]])
    for group in (patrol_group, community_group):
        group.bot_status = "administrator"  # added and made admin before the demo began
        group.bot_rights = {"can_pin_messages": True, "can_delete_messages": True}
    # Chatter the bot does not see (privacy mode): something for a neighbour to forward to it.
    fake.record_user_message(neighbours[4], community_group, text=SCAM_TEXT)
    admin_ids = (admin.id,)
    now = utcnow()
    engine = create_engine(database_url)
    try:
        async with transaction(create_session_factory(engine)) as session:
            office = await create_area(session, parent=None, name="平桥街道办事处", actor_id=None)
            towns = []
            for name, grids in (("龙江路社区", {"1网格": (1, 2, 3), "2网格": (5, 6, 7)}),
                                ("青石桥社区", {"1网格": (1, 2, 3)})):
                town = await create_area(session, parent=office, name=name, actor_id=None)
                buildings = []
                for grid_name, numbers in grids.items():
                    grid = await create_area(session, parent=town, name=grid_name, actor_id=None)
                    for number in numbers:
                        buildings.append(await create_area(session, parent=grid,
                                                           name=f"{number}栋", actor_id=None))
                towns.append((town, buildings))
            (longjiang, buildings), (qingshi, other_buildings) = towns
            await _person(session, admin, "管理员", Role.ADMIN, office)
            staff = await _person(session, cadre, "李干部", Role.STAFF, longjiang)
            await _person(session, None, "赵干部", Role.STAFF, qingshi)
            patrol_team = await _team(session, longjiang, TeamKind.PATROL)
            cadres_team = await _team(session, longjiang, TeamKind.CADRES)
            wang = await _person(session, leader, "王队长", Role.MEMBER, longjiang)
            zhang = await _person(session, member, "张队员", Role.MEMBER, longjiang)
            await add_member(session, team=patrol_team, person=wang, actor_id=None, leader=True)
            await add_member(session, team=patrol_team, person=zhang, actor_id=None)
            await add_member(session, team=cadres_team, person=staff, actor_id=None, leader=True)
            other_patrol = await _team(session, qingshi, TeamKind.PATROL)
            other_leader = await _person(session, None, "钱队长", Role.MEMBER, qingshi)
            await add_member(session, team=other_patrol, person=other_leader, actor_id=None,
                             leader=True)
            for i, user in enumerate(neighbours):
                home = buildings[i % len(buildings)] if i < 9 else other_buildings[i % 3]
                await _person(session, user, user.first_name, Role.RESIDENT, home,
                              tuple(SubscriptionTopic))
            area_target = chats.Target(chats.TargetKind.AREA, longjiang.id, longjiang.name,
                                       longjiang.path, longjiang.kind)
            team_target = chats.Target(chats.TargetKind.TEAM, patrol_team.id, patrol_team.name,
                                       longjiang.path)
            await _link(session, patrol_group.id, patrol_group.title or "", team_target, staff.id)
            await _link(session, community_group.id, community_group.title or "", area_target,
                        staff.id)
            # Disputes in 龙江路 go to the patrol team rather than the mediators (a /routing rule).
            await set_rule(session, category="dispute", area_id=longjiang.id,
                           team_id=patrol_team.id, created_by_id=staff.id)
            actor = await _actor(session, staff, admin_ids)
            audience = AudienceSpec(area_ids={longjiang.id})
            await schedules.create_schedule(
                session, actor=actor, author_id=staff.id, now=now,
                new=schedules.NewSchedule(
                    name="每周防诈骗提示", timezone=TIMEZONE, audience=audience,
                    trigger=TriggerSpec(TriggerKind.WEEKLY, at=time(9, 0), weekdays=(0,)),
                    content=schedules.tip_content(["anti_fraud"])))
            today = date.today()
            await schedules.create_campaign(
                session, actor=actor, author_id=staff.id, name="冬季防火防盗", preset=None,
                area_id=longjiang.id, starts_on=today, ends_on=today + timedelta(days=14),
                timezone=TIMEZONE, at=time(10, 0), categories=["anti_theft"],
                audience=await schedules.campaign_audience(session, area_id=longjiang.id),
                now=now)
            post = await patrol.create_post(session, team_id=patrol_team.id, name="东门岗",
                                            now=now)
            starts, ends = _shift_hours(now)
            shift = await patrol.create_shift(session, post=post, name="巡逻班", starts=starts,
                                              ends=ends, sensitive_only=False, now=now)
            for weekday in range(7):
                await patrol.toggle_rotation(session, shift=shift, person_id=zhang.id,
                                             weekday=weekday)
            post_payload = f"post_{post.token}"
    finally:
        await engine.dispose()
    personas = [
        Persona("resident", "陈阿姨", "居民（还没登记）", aunt.id),
        Persona("member", "张队员", "巡逻队员", member.id),
        Persona("leader", "王队长", "巡逻队长", leader.id),
        Persona("cadre", "李干部", "社区干部", cadre.id),
        Persona("admin", "管理员", "管理员", admin.id),
        *(Persona(f"neighbour{i}", u.first_name, "居民", u.id, main=False)
          for i, u in enumerate(neighbours, 1)),
    ]
    return Story(personas, admin_ids, post_payload,
                 {"patrol": patrol_group.id, "community": community_group.id})

