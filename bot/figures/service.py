"""The monthly figures, each counted in one place. No Telegram here.

Loading is a few plain queries over a session; every figure is then a small function over
the loaded rows whose docstring says exactly what it counts (`tipoffs.py`, `reach.py`,
`people.py`), so the text, the charts and the workbook all show the same number. Times
are stored in UTC; periods (`periods.py`) are local calendar months and years.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import Area, Team
from bot.figures.counting import Scope
from bot.figures.patrol import PatrolFigures, load_day_reports, load_duties, patrol_figures
from bot.figures.people import PeopleFigures, people_figures
from bot.figures.periods import Period
from bot.figures.reach import (
    AlertFigures,
    AlertRow,
    BroadcastFigures,
    BroadcastRow,
    ack_curve,
    alert_figures,
    broadcast_figures,
    load_alerts,
    load_broadcasts,
)
from bot.figures.satisfaction import (
    SatisfactionFigures,
    load_ratings,
    satisfaction_figures,
)
from bot.figures.tipoffs import (
    TeamTimes,
    TipoffFigures,
    TipRow,
    by_area,
    child_areas,
    load_tipoffs,
    monthly_received,
    received,
    times_by_team,
    tipoff_figures,
)

#: Minutes after sending at which the acknowledgement curve is drawn.
ACK_CURVE_MINUTES = (0, 1, 2, 3, 5, 10, 15, 20, 30, 45, 60, 90, 120)


@dataclass(frozen=True)
class Report:
    """The figures of one scope and period, with the period before and the rows behind them
    (what the message, the charts and the workbook are made from)."""

    scope: Scope
    period: Period
    previous: Period
    tipoffs: TipoffFigures
    tipoffs_before: TipoffFigures
    broadcasts: BroadcastFigures
    broadcasts_before: BroadcastFigures
    alerts: AlertFigures
    alerts_before: AlertFigures
    satisfaction: SatisfactionFigures
    satisfaction_before: SatisfactionFigures
    patrol: PatrolFigures
    patrol_before: PatrolFigures
    people: PeopleFigures
    by_area: dict[str, int]
    months: list[Period]
    monthly: list[int]
    team_times: list[TeamTimes]
    team_names: dict[int, str]
    ack_shares: list[float]
    tipoff_rows: list[TipRow]
    broadcast_rows: list[BroadcastRow]
    alert_rows: list[AlertRow]
    #: Area path → name, for the workbook's place column.
    area_names: dict[str, str]

async def collect(session: AsyncSession, *, scope: Scope, period: Period, previous: Period,
                  months: list[Period]) -> Report:
    rows = await load_tipoffs(session, scope=scope, since=previous.start, until=period.end)
    broadcasts_now = await load_broadcasts(session, scope=scope, since=period.start,
                                           until=period.end)
    broadcasts_before = await load_broadcasts(session, scope=scope, since=previous.start,
                                              until=previous.end)
    alerts_now = await load_alerts(session, scope=scope, since=period.start, until=period.end)
    alerts_before = await load_alerts(session, scope=scope, since=previous.start,
                                      until=previous.end)
    ratings = await load_ratings(session, scope=scope, since=previous.start, until=period.end)
    duties = await load_duties(session, scope=scope, since=previous.start, until=period.end)
    day_reports = await load_day_reports(session, scope=scope, since=previous.start,
                                         until=period.end)
    areas = await child_areas(session, path=scope.area_path) if scope.area_path else []
    times = times_by_team(rows, period)
    team_ids = {t.team_id for t in times if t.team_id is not None} | set(scope.team_ids)
    team_names = dict((await session.execute(
        select(Team.id, Team.name).where(Team.id.in_(team_ids)))).all()) \
        if team_ids else {}
    in_period = received(rows, period)
    paths = {r.area_path for r in in_period if r.area_path}
    area_ids = {int(p.strip("/").split("/")[-1]) for p in paths}
    area_names = dict((await session.execute(
        select(Area.path, Area.name).where(Area.id.in_(area_ids)))).all()) \
        if area_ids else {}
    return Report(
        scope=scope, period=period, previous=previous,
        tipoffs=tipoff_figures(rows, period), tipoffs_before=tipoff_figures(rows, previous),
        broadcasts=broadcast_figures(broadcasts_now),
        broadcasts_before=broadcast_figures(broadcasts_before),
        alerts=alert_figures(alerts_now), alerts_before=alert_figures(alerts_before),
        satisfaction=satisfaction_figures(ratings, period),
        satisfaction_before=satisfaction_figures(ratings, previous),
        patrol=patrol_figures(duties, day_reports, period),
        patrol_before=patrol_figures(duties, day_reports, previous),
        people=await people_figures(session, scope=scope, period=period),
        by_area=by_area(rows, period, areas) if areas else {},
        months=months, monthly=await monthly_received(session, scope=scope, months=months),
        team_times=times, team_names=team_names,
        ack_shares=ack_curve(alerts_now, ACK_CURVE_MINUTES),
        tipoff_rows=in_period, broadcast_rows=broadcasts_now, alert_rows=alerts_now,
        area_names=area_names,
    )
