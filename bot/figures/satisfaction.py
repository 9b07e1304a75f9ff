"""Residents' satisfaction with resolved reports: asked, rated, the average and the
distribution of the 1–5 answers, and the comments — never who gave them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.directory.models import Area, Team
from bot.figures.counting import Scope, in_period, ratio
from bot.figures.periods import Period
from bot.figures.tipoffs import tipoff_scope
from bot.tipoffs.models import TipOff, TipOffRating
from bot.tipoffs.ratings import SCORES


@dataclass(frozen=True)
class RatingRow:
    """One question to a reporter: no report, no person — only when and what was answered."""

    asked_at: datetime
    score: int | None
    rated_at: datetime | None
    comment: str | None


async def load_ratings(session: AsyncSession, *, scope: Scope, since: datetime,
                       until: datetime) -> list[RatingRow]:
    """The questions about reports in scope asked or answered in `[since, until)`."""
    place = aliased(Area)
    team_area = aliased(Area)
    window = or_(and_(TipOffRating.asked_at >= since, TipOffRating.asked_at < until),
                 and_(TipOffRating.rated_at >= since, TipOffRating.rated_at < until))
    stmt = (
        select(TipOffRating.asked_at, TipOffRating.score, TipOffRating.rated_at,
               TipOffRating.comment)
        .join(TipOff, TipOff.id == TipOffRating.tipoff_id)
        .outerjoin(place, place.id == TipOff.area_id)
        .outerjoin(Team, Team.id == TipOff.team_id)
        .outerjoin(team_area, team_area.id == Team.area_id)
        .where(window, tipoff_scope(scope, place.path, team_area.path))
    )
    return [RatingRow(*row) for row in (await session.execute(stmt)).all()]


@dataclass(frozen=True)
class SatisfactionFigures:
    asked: int
    rated: int
    #: Score (1–5) → how many gave it, every score present.
    distribution: dict[int, int]
    #: The comments given with the period's ratings, alphabetically (not in the order given,
    #: so a comment cannot be matched to a report by its time).
    comments: list[str]

    @property
    def average(self) -> float | None:
        """The mean score of the ratings given; None when nobody rated."""
        total = sum(score * count for score, count in self.distribution.items())
        return total / self.rated if self.rated else None

    @property
    def answer_rate(self) -> float | None:
        return ratio(self.rated, self.asked)


def satisfaction_figures(rows: Sequence[RatingRow], period: Period) -> SatisfactionFigures:
    """Asked: reporters asked in the period (once per resolved report, anonymous ones too).
    Rated: answers given in the period, whenever the question was asked; the average and
    the distribution are over those answers, each report counted once (its first press)."""
    rated = [r for r in rows if r.score is not None and in_period(period, r.rated_at)]
    counts = Counter(r.score for r in rated)
    return SatisfactionFigures(
        asked=sum(1 for r in rows if in_period(period, r.asked_at)),
        rated=len(rated),
        distribution={score: counts[score] for score in SCORES},
        comments=sorted(r.comment for r in rated if r.comment),
    )
