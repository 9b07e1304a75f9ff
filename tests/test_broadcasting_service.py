"""send_broadcast: per-language content, quiet hours, tip rotation, idempotent fires."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.broadcasting.models import TipSent
from bot.broadcasting.quiet import QuietRequest, find_communities, parse_request
from bot.broadcasting.service import (
    BroadcastKind,
    FixedContent,
    NextTip,
    QuietHours,
    audience_key,
    defer_until,
    get_quiet_hours,
    quiet_hours_for_audience,
    render_text,
    season_for,
    send_broadcast,
    set_quiet_hours,
)
from bot.db import transaction
from bot.directory.audience import AudienceSpec
from bot.directory.models import Chat, Role, SubscriptionTopic
from broadcasts import Delivery, content_from_json
from broadcasts.tips import TipItem
from tests.factories import make_cast, make_person, make_tree

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOON = datetime(2026, 5, 12, 12, 0, tzinfo=SHANGHAI)  # an ordinary spring day
LATE = datetime(2026, 5, 12, 22, 15, tzinfo=SHANGHAI)  # inside 21:30–07:30

Factory = async_sessionmaker[AsyncSession]


def _tip(tip_id: str, category: str = "anti_theft", seasons: tuple[str, ...] = ("any",)) -> TipItem:
    return TipItem(id=tip_id, category=category, seasons=seasons,
                   texts={"zh-CN": f"{tip_id} 简", "zh-TW": f"{tip_id} 繁", "en": f"{tip_id} en"})


LIBRARY = (_tip("a-1"), _tip("a-2"), _tip("a-3"), _tip("f-1", "fire_safety"))


async def _send(session: AsyncSession, spec: AudienceSpec, content: FixedContent | NextTip,
                now: datetime = NOON, **kw: object):
    return await send_broadcast(
        session, kind=kw.pop("kind", BroadcastKind.SAFETY_TIP), audience=spec, content=content,
        author_id=None, now=now, default_language="zh-CN", tz=SHANGHAI, tip_library=LIBRARY,
        **kw)  # type: ignore[arg-type]


async def _deliveries(session: AsyncSession, broadcast_id: int) -> dict[int, str]:
    rows = await session.execute(select(Delivery.chat_id, Delivery.language)
                                 .where(Delivery.broadcast_id == broadcast_id))
    return {chat_id: language for chat_id, language in rows}


# -- pure helpers -------------------------------------------------------------------------

@pytest.mark.parametrize(("local", "expected"), [
    (datetime(2026, 5, 12, 21, 29), None),
    (datetime(2026, 5, 12, 21, 30), datetime(2026, 5, 13, 7, 30)),
    (datetime(2026, 5, 12, 23, 59), datetime(2026, 5, 13, 7, 30)),
    (datetime(2026, 5, 13, 0, 0), datetime(2026, 5, 13, 7, 30)),
    (datetime(2026, 5, 13, 7, 29), datetime(2026, 5, 13, 7, 30)),
    (datetime(2026, 5, 13, 7, 30), None),
])
def test_defer_until_default_window(local: datetime, expected: datetime | None) -> None:
    result = defer_until(local.replace(tzinfo=SHANGHAI), SHANGHAI, QuietHours())
    assert result == (expected.replace(tzinfo=SHANGHAI).astimezone(UTC) if expected else None)
    if result is not None:
        assert result.tzinfo is UTC


def test_defer_until_same_day_window_and_off() -> None:
    afternoon = QuietHours(time(12, 0), time(14, 0))
    at = datetime(2026, 5, 12, 13, 0, tzinfo=SHANGHAI)
    assert defer_until(at, SHANGHAI, afternoon) == datetime(2026, 5, 12, 14, 0, tzinfo=SHANGHAI)
    assert defer_until(at, SHANGHAI, QuietHours(time(0, 0), time(0, 0))) is None


@pytest.mark.parametrize(("day", "season"), [
    (date(2026, 2, 17), "spring_festival"),
    (date(2026, 3, 5), "two_sessions"),
    (date(2026, 3, 20), "spring"),
    (date(2026, 7, 1), "summer"),
    (date(2026, 9, 3), "school_term"),
    (date(2026, 10, 1), "national_day"),
    (date(2026, 11, 11), "autumn"),
    (date(2026, 12, 24), "winter"),
])
def test_season_for(day: date, season: str) -> None:
    assert season_for(day) == season


def test_render_text_has_the_kind_in_the_readers_language() -> None:
    assert render_text(BroadcastKind.NOTICE, "hi", "en").endswith("\n\nhi")
    assert render_text(BroadcastKind.NOTICE, "hi", "en") != render_text(
        BroadcastKind.NOTICE, "hi", "zh-CN")


def test_audience_key_is_stable_and_per_category() -> None:
    a = AudienceSpec(team_ids={2, 1}, area_ids={5})
    b = AudienceSpec(area_ids=[5], team_ids=[1, 2])
    assert audience_key(a, "anti_fraud") == audience_key(b, "anti_fraud")
    assert audience_key(a, "anti_fraud") != audience_key(a, "fire_safety")
    assert audience_key(a, None) != audience_key(AudienceSpec(team_ids={1}), None)


# -- against the database -----------------------------------------------------------------

async def test_tip_goes_to_each_recipient_in_their_language(session_factory: Factory) -> None:
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        tw = await make_person(session, role=Role.MEMBER, area=cast.tree.community,
                               telegram_id=700_001, language="zh-TW")
        en = await make_person(session, role=Role.RESIDENT, area=cast.tree.grid,
                               telegram_id=700_002, language="en",
                               topics=tuple(SubscriptionTopic))
        group = Chat(telegram_chat_id=-100_555, type="supergroup", title="巡逻队群",
                     team_id=cast.team.id, language="zh-TW")
        session.add(group)
        await session.flush()
        from tests.factories import add_to_team
        await add_to_team(session, person=tw, team=cast.team)
        spec = AudienceSpec(team_ids={cast.team.id}, include_linked_chats_of_teams=True,
                            area_ids={cast.tree.grid.id})
        broadcast = await _send(session, spec, NextTip("anti_theft"))
        assert broadcast is not None
        deliveries = await _deliveries(session, broadcast.id)
    assert deliveries == {
        cast.leader.telegram_id: "zh-CN", cast.member.telegram_id: "zh-CN",
        tw.telegram_id: "zh-TW", en.telegram_id: "en", cast.resident.telegram_id: "zh-CN",
        -100_555: "zh-TW",
    }
    content = content_from_json(broadcast.content)
    assert list(content) == ["zh-CN", "zh-TW", "en"]
    assert content["zh-TW"].text.endswith("a-1 繁")
    assert content["en"].text.endswith("a-1 en")
    assert broadcast.not_before is None
    assert broadcast.audience["tip_id"] == "a-1"


async def test_fixed_text_with_photo_and_one_text_for_all(session_factory: Factory) -> None:
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        broadcast = await _send(session, AudienceSpec(team_ids={cast.team.id}),
                                FixedContent(text="明早八点集合", photo="PHOTO-ID"),
                                kind=BroadcastKind.TASK)
    assert broadcast is not None
    content = content_from_json(broadcast.content)
    assert {m.photo for m in content.values()} == {"PHOTO-ID"}
    assert all(m.text.endswith("明早八点集合") for m in content.values())
    assert broadcast.kind == "task"


async def test_quiet_hours_defer_and_urgent_does_not(session_factory: Factory) -> None:
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        spec = AudienceSpec(team_ids={cast.team.id})
        # Tomorrow night (the engine's clock is real, so the deferral must lie ahead).
        tomorrow = datetime.now(SHANGHAI).date() + timedelta(days=1)
        late_at = datetime.combine(tomorrow, time(22, 15), tzinfo=SHANGHAI)
        early_at = datetime.combine(tomorrow + timedelta(days=1), time(6, 0), tzinfo=SHANGHAI)
        late = await _send(session, spec, FixedContent(text="x"), now=late_at)
        early = await _send(session, spec, FixedContent(text="x"), now=early_at)
        urgent = await _send(session, spec, FixedContent(text="x"), now=late_at, urgent=True,
                             kind=BroadcastKind.NOTICE)
        assert late is not None
        rows = await session.scalars(select(Delivery).where(Delivery.broadcast_id == late.id))
        due = {d.next_attempt_at for d in rows}
    morning = datetime.combine(tomorrow + timedelta(days=1), time(7, 30), tzinfo=SHANGHAI)
    assert late is not None and late.not_before == morning
    assert due == {morning}
    assert early is not None and early.not_before == morning
    assert urgent is not None and urgent.not_before is None


async def test_community_quiet_hours_are_its_own(session_factory: Factory) -> None:
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        assert await get_quiet_hours(session, community_id=cast.tree.community.id) == QuietHours()
        await set_quiet_hours(session, community_id=cast.tree.community.id,
                              quiet=QuietHours(time(23, 0), time(6, 0)), actor_id=cast.staff.id)
        spec = AudienceSpec(area_ids={cast.tree.building.id})
        assert await quiet_hours_for_audience(session, spec) == [QuietHours(time(23, 0),
                                                                             time(6, 0))]
        at_22 = await _send(session, spec, FixedContent(text="x"), now=LATE)
        at_23 = await _send(session, spec, FixedContent(text="x"),
                            now=datetime(2026, 5, 12, 23, 30, tzinfo=SHANGHAI))
        # The other community keeps the default.
        other = AudienceSpec(area_ids={cast.other.community.id})
        other_late = await _send(session, other, FixedContent(text="x"), now=LATE)
        # Both communities at once: wait until both are quiet no more.
        both = AudienceSpec(area_ids={cast.tree.street_office.id})
        both_hours = await quiet_hours_for_audience(session, both)
    assert at_22 is not None and at_22.not_before is None
    assert at_23 is not None and at_23.not_before == datetime(2026, 5, 13, 6, 0, tzinfo=SHANGHAI)
    assert other_late is not None and other_late.not_before == datetime(
        2026, 5, 13, 7, 30, tzinfo=SHANGHAI)
    assert set(both_hours) == {QuietHours(), QuietHours(time(23, 0), time(6, 0))}


async def test_next_tip_does_not_repeat_until_exhausted(session_factory: Factory) -> None:
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        spec = AudienceSpec(team_ids={cast.team.id})
        other_spec = AudienceSpec(team_ids={cast.other_team.id})
        picked = []
        for _ in range(4):
            b = await _send(session, spec, NextTip("anti_theft"))
            assert b is not None
            picked.append(b.audience["tip_id"])
        other = await _send(session, other_spec, NextTip("anti_theft"))
        fire = await _send(session, spec, NextTip("fire_safety"))
        rows = list(await session.scalars(select(TipSent.tip_id).where(
            TipSent.audience_key == audience_key(spec, "anti_theft"))))
    assert picked == ["a-1", "a-2", "a-3", "a-1"]  # a new round only after all three
    assert rows == ["a-1"]
    assert other is not None and other.audience["tip_id"] == "a-1"  # its own rotation
    assert fire is not None and fire.audience["tip_id"] == "f-1"


async def test_season_goes_first(session_factory: Factory) -> None:
    library = (_tip("t-any"), _tip("t-fest", seasons=("spring_festival",)))
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        b = await send_broadcast(
            session, kind=BroadcastKind.SAFETY_TIP, audience=AudienceSpec(team_ids={cast.team.id}),
            content=NextTip("anti_theft"), author_id=None,
            now=datetime(2026, 2, 16, 10, 0, tzinfo=SHANGHAI), default_language="zh-CN",
            tz=SHANGHAI, tip_library=library)
    assert b is not None and b.audience["tip_id"] == "t-fest"


async def test_a_schedule_fire_is_written_once(session_factory: Factory) -> None:
    fire_at = datetime(2026, 5, 12, 4, 0, tzinfo=UTC)
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        spec = AudienceSpec(team_ids={cast.team.id})
        first = await _send(session, spec, NextTip("anti_theft"), schedule_key="s:1",
                            fire_at=fire_at)
        again = await _send(session, spec, NextTip("anti_theft"), schedule_key="s:1",
                            fire_at=fire_at)
        sent = list(await session.scalars(select(TipSent.tip_id)))
    assert first is not None and again is None
    assert sent == ["a-1"]  # the repeated fire did not use up a tip


async def test_refuses_an_empty_audience_and_naive_time(session_factory: Factory) -> None:
    async with transaction(session_factory) as session:
        with pytest.raises(ValueError, match="empty"):
            await _send(session, AudienceSpec(), FixedContent(text="x"))
        with pytest.raises(ValueError, match="aware"):
            await _send(session, AudienceSpec(team_ids={1}), FixedContent(text="x"),
                        now=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("argument", "expected"),
    [("", QuietRequest()),
     ("22:00-07:00", QuietRequest(change=True, quiet=QuietHours(time(22, 0), time(7, 0)))),
     ("龙江路社区 22:00 - 07:00",
      QuietRequest("龙江路社区", True, QuietHours(time(22, 0), time(7, 0)))),
     ("龙江路社区22：00到7：30",
      QuietRequest("龙江路社区", True, QuietHours(time(22), time(7, 30)))),
     ("Green  Hill 21.30~06.00", QuietRequest("Green Hill", True, QuietHours(time(21, 30),
                                                                             time(6, 0)))),
     ("龙江路社区 默认", QuietRequest("龙江路社区", True, None)),
     ("default", QuietRequest("", True, None)),
     ("平桥办事处/龙江路社区 关闭", QuietRequest("平桥办事处/龙江路社区", True,
                                          QuietHours(time(0), time(0)))),
     ("龙江路社区 25:00-07:00", QuietRequest("龙江路社区", True, None, bad_hours=True)),
     ("龙江路社区", QuietRequest("龙江路社区")),
     ("22点到7点", QuietRequest(change=True, quiet=QuietHours(time(22, 0), time(7, 0)))),
     ("晚上十点半到早上七点", QuietRequest(change=True, quiet=QuietHours(time(22, 30),
                                                                      time(7, 0)))),
     ("22点到", QuietRequest("22点到"))],
)
def test_quiet_hours_request_is_read(argument: str, expected: QuietRequest) -> None:
    assert parse_request(argument) == expected


async def test_communities_found_by_name_any_case_or_with_the_office(
    session_factory: Factory,
) -> None:
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        english = await make_tree(session, street_office="East Lake", community="Green Hill")
        twin = await make_tree(session, street_office="东湖办事处")
        found = await find_communities(session, name="green  hill")
        assert [a.id for a in found] == [english.community.id]
        assert [a.id for a in await find_communities(session, name="龙江路社区")] == [
            cast.tree.community.id, twin.community.id]
        assert [a.id for a in await find_communities(session, name="东湖办事处／龙江路社区")] == [
            twin.community.id]
        assert await find_communities(session, name="3网格") == []  # a grid, not a community
        assert await find_communities(session, name="东湖办事处/青石桥社区") == []
        cast.other.community.archived = True
        assert await find_communities(session, name="青石桥社区") == []
