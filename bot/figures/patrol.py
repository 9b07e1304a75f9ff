"""Patrol figures: shifts, on-time / late / missed sign-ins, and the evening all-clear
(平安日报) answered. A duty is one person on one shift on one day (`bot.patrol`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import Area, Team
from bot.figures.counting import Scope, in_period, ratio
from bot.figures.periods import Period
from bot.patrol.models import DayAnswer, PatrolDayReport, PatrolDuty
from bot.patrol.service import DutyState, duty_state


def _team_scope(scope: Scope, team_id: ColumnElement[int]) -> ColumnElement[bool]:
    """A patrol row is in scope through its team: one of the scope's teams, or a team whose
    area lies in the scope's area."""
    if scope.team_ids:
        return team_id.in_(scope.team_ids)
    assert scope.area_path is not None
    return team_id.in_(select(Team.id).join(Area, Area.id == Team.area_id)
                       .where(Area.path.startswith(scope.area_path, autoescape=True)))


async def load_duties(session: AsyncSession, *, scope: Scope, since: datetime,
                      until: datetime) -> list[PatrolDuty]:
    """The duties in scope starting in `[since, until)`."""
    return list(await session.scalars(
        select(PatrolDuty).where(PatrolDuty.starts_at >= since, PatrolDuty.starts_at < until,
                                 _team_scope(scope, PatrolDuty.team_id))))


async def load_day_reports(session: AsyncSession, *, scope: Scope, since: datetime,
                           until: datetime) -> list[PatrolDayReport]:
    """The evening all-clear questions in scope asked in `[since, until)`."""
    return list(await session.scalars(
        select(PatrolDayReport).where(PatrolDayReport.asked_at >= since,
                                      PatrolDayReport.asked_at < until,
                                      _team_scope(scope, PatrolDayReport.team_id))))


@dataclass(frozen=True)
class PatrolFigures:
    #: Shifts run: distinct (shift, day) with at least one rostered duty starting in the
    #: period.
    shifts: int
    #: Rostered duties (one person, one shift, one day) starting in the period.
    duties: int
    on_time: int
    late: int
    missed: int
    covered_or_excused: int
    #: Sign-ins by people not on the roster for that shift (helping out).
    helpers: int
    allclear_asked: int
    allclear_answered: int
    allclear_issues: int

    @property
    def on_time_rate(self) -> float | None:
        """On-time sign-ins ÷ rostered duties that were due (signed in, late or missed)."""
        return ratio(self.on_time, self.on_time + self.late + self.missed)

    @property
    def allclear_rate(self) -> float | None:
        return ratio(self.allclear_answered, self.allclear_asked)


def patrol_figures(duties: Sequence[PatrolDuty], day_reports: Sequence[PatrolDayReport],
                   period: Period) -> PatrolFigures:
    """Counted over the duties starting in the period, as the evening summary counts them
    (`bot.patrol.service.duty_state` at the period's end):

    - on time / late: a rostered duty signed in, within the grace time or after it;
    - missed: a rostered duty not signed in, not covered and not excused, whose grace time
      had passed by the period's end (a shift still waiting is not counted yet);
    - covered or excused: a rostered duty the leader marked covered by someone, or excused;
    - helpers: sign-ins not on the roster, counted apart (they are not a duty missed or met);
    - all-clear: the teams' evening questions asked in the period, and those answered
      (“all normal” or “something to report”), of which with something to report.
    """
    rostered = [d for d in duties if d.planned and in_period(period, d.starts_at)]
    on_time = late = missed = covered = 0
    for duty in rostered:
        if duty.signed_in_at is not None:
            if duty.late:
                late += 1
            else:
                on_time += 1
            continue
        state = duty_state(duty, period.end)
        if state is DutyState.MISSING:
            missed += 1
        elif state in (DutyState.COVERED, DutyState.EXCUSED):
            covered += 1
    asked = [r for r in day_reports if in_period(period, r.asked_at)]
    answered = [r for r in asked if r.answer is not DayAnswer.NONE]
    return PatrolFigures(
        shifts=len({(d.shift_id, d.on_date) for d in rostered}), duties=len(rostered),
        on_time=on_time, late=late, missed=missed, covered_or_excused=covered,
        helpers=sum(1 for d in duties if not d.planned and d.signed_in_at is not None
                    and in_period(period, d.starts_at)),
        allclear_asked=len(asked), allclear_answered=len(answered),
        allclear_issues=sum(1 for r in answered if r.answer is DayAnswer.ISSUE),
    )
