"""Seeded figures data: reports, broadcasts and an alert with known times (November 2026,
Shanghai), shared by the figures tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from bot.alerts.models import Alert, AlertRecipient, Severity
from bot.db import transaction
from bot.directory.models import Role, SubscriptionTopic, TeamKind
from bot.tipoffs.models import TipOff, TipOffEvent, TipOffEventKind, TipOffStatus
from broadcasts.models import Broadcast, Delivery, DeliveryStatus
from tests.factories import add_to_team, make_area, make_person, make_team, make_tree

_refs = itertools.count(1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def tip(session, *, reporter, team, category: str = "suspicious", area=None,
              created: datetime, claimed_after: timedelta | None = None,
              closed_after: timedelta | None = None,
              status: TipOffStatus = TipOffStatus.NEW, escalated: bool = False) -> TipOff:
    report = TipOff(
        reference=f"TX-{next(_refs):04d}", reporter_id=reporter.id, anonymous=True,
        category=category, area_id=area.id if area else None, team_id=team.id, status=status,
        created_at=created, routed_at=created,
        claimed_at=created + claimed_after if claimed_after is not None else None,
        closed_at=created + closed_after if closed_after is not None else None)
    session.add(report)
    await session.flush()
    if escalated:
        session.add(TipOffEvent(tipoff_id=report.id, kind=TipOffEventKind.ESCALATED,
                                at=created + timedelta(minutes=30)))
    return report


async def seed(session_factory) -> dict:
    """A community with two grids, a patrol and a mediation team, and a community next door."""
    async with transaction(session_factory) as session:
        tree = await make_tree(session)
        grid2 = await make_area(session, name="5网格", parent=tree.community)
        other = await make_tree(session, community="青石桥社区", parent=tree.street_office)
        patrol = await make_team(session, area=tree.community)
        mediation = await make_team(session, area=tree.community, name="民事调解队",
                                    kind=TeamKind.MEDIATION)
        elsewhere = await make_team(session, area=other.community)
        reporter = await make_person(session, name="陈阿姨", area=tree.building,
                                     telegram_id=710_000_001, phone="13800000009",
                                     topics=(SubscriptionTopic.SAFETY_TIPS,))
        leader = await make_person(session, role=Role.MEMBER, telegram_id=710_000_002)
        await add_to_team(session, person=leader, team=patrol, leader=True)
        # November, local time. The first report is 1 Nov 01:00 in Shanghai (still
        # 31 October in UTC); the last one is 1 Dec 00:30 in Shanghai: December's.
        await tip(session, reporter=reporter, team=patrol, area=tree.building,
                  created=utc(2026, 10, 31, 17), claimed_after=timedelta(minutes=10),
                  closed_after=timedelta(hours=2), status=TipOffStatus.RESOLVED)
        await tip(session, reporter=reporter, team=patrol, area=grid2,
                  created=utc(2026, 11, 10, 2), claimed_after=timedelta(minutes=20),
                  status=TipOffStatus.CLAIMED, escalated=True)
        await tip(session, reporter=reporter, team=patrol, category="theft",
                  created=utc(2026, 11, 11, 2), claimed_after=timedelta(minutes=30),
                  closed_after=timedelta(hours=6), status=TipOffStatus.REFERRED)
        await tip(session, reporter=reporter, team=mediation, category="dispute",
                  created=utc(2026, 11, 12, 2), claimed_after=timedelta(minutes=40),
                  closed_after=timedelta(hours=4), status=TipOffStatus.RESOLVED)
        await tip(session, reporter=reporter, team=mediation, category="dispute",
                  created=utc(2026, 11, 13, 2), closed_after=timedelta(hours=10),
                  status=TipOffStatus.REJECTED)
        await tip(session, reporter=reporter, team=patrol, created=utc(2026, 11, 30, 16, 30))
        # October: two reports (one the month before's dispute, closed in November).
        await tip(session, reporter=reporter, team=patrol, created=utc(2026, 10, 5, 2))
        await tip(session, reporter=reporter, team=mediation, category="dispute",
                  created=utc(2026, 10, 30, 2), claimed_after=timedelta(days=2, hours=1),
                  closed_after=timedelta(days=3), status=TipOffStatus.RESOLVED)
        # The community next door: never in this community's figures.
        await tip(session, reporter=reporter, team=elsewhere, area=other.building,
                  created=utc(2026, 11, 15, 2), status=TipOffStatus.REFERRED,
                  claimed_after=timedelta(minutes=1), closed_after=timedelta(minutes=2))
        ids = {"community": tree.community, "grid": tree.grid, "grid2": grid2,
               "other": other.community, "patrol": patrol, "mediation": mediation,
               "elsewhere": elsewhere, "leader": leader}
        # Broadcasts: one to the community (3 sent, 1 unreachable, 1 cancelled), one to
        # the patrol team in October, one next door, one tip-off card (not a broadcast).
        for kind, audience, created, statuses in (
            ("notice", {"area_ids": [tree.community.id]}, utc(2026, 11, 3, 1),
             [DeliveryStatus.SENT] * 3 + [DeliveryStatus.UNREACHABLE,
                                          DeliveryStatus.CANCELLED]),
            ("safety_tip", {"team_ids": [patrol.id]}, utc(2026, 10, 3, 1),
             [DeliveryStatus.SENT, DeliveryStatus.FAILED]),
            ("notice", {"area_ids": [other.community.id]}, utc(2026, 11, 3, 1),
             [DeliveryStatus.SENT]),
            ("tipoff", {"tipoff": 1}, utc(2026, 11, 3, 1), [DeliveryStatus.SENT]),
        ):
            broadcast = Broadcast(kind=kind, content={}, audience=audience, created_at=created)
            session.add(broadcast)
            await session.flush()
            session.add_all(Delivery(broadcast_id=broadcast.id, chat_id=900 + i, language="zh-CN",
                                     priority=50, status=s) for i, s in enumerate(statuses))
        # An alert to the patrol team: 4 asked, acknowledged after 2, 4 and 30 minutes.
        sent = utc(2026, 11, 20, 6)
        alert = Alert(language="zh-CN", audience={"team_ids": [patrol.id]},
                      area_path=tree.community.path, text="x", severity=Severity.EMERGENCY,
                      ack_required=True, renotify_every_s=600, renotify_max=2,
                      escalated_at=sent + timedelta(minutes=30), broadcast_ids=[],
                      created_at=sent)
        session.add(alert)
        await session.flush()
        for i, after in enumerate((2, 4, 30, None)):
            person = await make_person(session, telegram_id=720_000_000 + i)
            session.add(AlertRecipient(
                alert_id=alert.id, person_id=person.id, language="zh-CN",
                reminders=0 if after is not None and after < 10 else 1,
                acknowledged_at=sent + timedelta(minutes=after) if after is not None else None))
    return ids
