"""What every figure counts with: the scope, periods' edges, percentiles and ratios."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.figures.periods import Period


@dataclass(frozen=True)
class Scope:
    """Whose figures: an area subtree (staff; "/" is everywhere) or some teams (leaders)."""

    area_path: str | None = None
    team_ids: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        if (self.area_path is None) == (not self.team_ids):
            raise ValueError("a scope is an area or some teams")


def in_period(period: Period, moment: datetime | None) -> bool:
    return moment is not None and period.start <= moment < period.end


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0–100) by linear interpolation between the closest ranks, as
    Excel's PERCENTILE.INC and NumPy's default: the median of 1, 2, 3, 4 is 2.5 and its
    90th percentile 3.7. None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ratio(part: int, whole: int) -> float | None:
    """part ÷ whole, or None when there is nothing to divide by (shown as "–", never 0 %)."""
    return part / whole if whole else None
