"""Which team gets a report: staff rules (category × area), the shipped defaults, the cadres.

Resolution, most specific first:
1. a staff rule for the category whose area contains the report's area (deepest area wins;
   a rule without an area applies everywhere and comes last);
2. the default team kind for the category (`data/routing.toml`): the nearest team of that
   kind whose area contains the report's area;
3. the duty cadres (TeamKind.CADRES) nearest to the report's area.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy import func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import Area, Team, TeamKind
from bot.settings import DATA_DIR
from bot.tipoffs.categories import Category
from bot.tipoffs.models import RoutingRule

DEFAULT_ROUTING_FILE = DATA_DIR / "routing.toml"


class RoutingFileError(ValueError):
    """The routing file is malformed; the message names the bad entry."""


@cache
def default_routing(path: Path = DEFAULT_ROUTING_FILE) -> dict[Category, TeamKind]:
    """Category → team kind from the shipped file, validated (every category present)."""
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    table = data.get("default")
    if not isinstance(table, dict):
        raise RoutingFileError(f"{path.name}: a [default] table is required")
    out: dict[Category, TeamKind] = {}
    for key, value in table.items():
        try:
            out[Category(key)] = TeamKind(value)
        except ValueError:
            raise RoutingFileError(f"{path.name}: bad entry {key} = {value!r}") from None
    missing = set(Category) - set(out)
    if missing:
        raise RoutingFileError(f"{path.name}: no team kind for {', '.join(sorted(missing))}")
    return out


@dataclass(frozen=True)
class Route:
    team_id: int | None
    #: "rule", "default" or "cadres" (how it was chosen), or "none".
    via: str


async def area_path(session: AsyncSession, area_id: int | None) -> str | None:
    if area_id is None:
        return None
    return await session.scalar(select(Area.path).where(Area.id == area_id))


async def _nearest_team(session: AsyncSession, *, kind: TeamKind, path: str | None) -> int | None:
    """The team of `kind` whose area is the deepest one containing `path`."""
    stmt = (select(Team.id).join(Area, Area.id == Team.area_id)
            .where(Team.kind == kind, Team.archived.is_(False)))
    if path is not None:
        stmt = stmt.where(literal(path).startswith(Area.path))
        stmt = stmt.order_by(func.length(Area.path).desc(), Team.id)
    else:
        stmt = stmt.order_by(func.length(Area.path), Team.id)
    return await session.scalar(stmt.limit(1))


async def route(session: AsyncSession, *, category: str, area_id: int | None) -> Route:
    path = await area_path(session, area_id)
    rule_stmt = (
        select(RoutingRule.team_id)
        .join(Team, Team.id == RoutingRule.team_id)
        .outerjoin(Area, Area.id == RoutingRule.area_id)
        .where(RoutingRule.category == category, Team.archived.is_(False))
    )
    if path is not None:
        rule_stmt = rule_stmt.where(
            (RoutingRule.area_id.is_(None)) | literal(path).startswith(Area.path)
        )
    else:
        rule_stmt = rule_stmt.where(RoutingRule.area_id.is_(None))
    rule_stmt = rule_stmt.order_by(func.coalesce(func.length(Area.path), 0).desc()).limit(1)
    team_id = await session.scalar(rule_stmt)
    if team_id is not None:
        return Route(team_id, "rule")
    try:
        kind = default_routing()[Category(category)]
    except ValueError:
        kind = TeamKind.CADRES
    team_id = await _nearest_team(session, kind=kind, path=path)
    if team_id is not None:
        return Route(team_id, "default")
    team_id = await _nearest_team(session, kind=TeamKind.CADRES, path=path)
    if team_id is not None:
        return Route(team_id, "cadres")
    return Route(None, "none")


async def cadres_for(session: AsyncSession, *, area_id: int | None) -> int | None:
    """The duty cadres nearest to an area (escalations go there)."""
    return await _nearest_team(session, kind=TeamKind.CADRES, path=await area_path(session,
                                                                                      area_id))


@dataclass(frozen=True)
class RuleView:
    id: int
    category: str
    area_id: int | None
    area_name: str | None
    team_id: int
    team_name: str


async def list_rules(session: AsyncSession, *, within_path: str | None) -> list[RuleView]:
    """Rules whose area lies in `within_path` (None: all), plus the rules for everywhere."""
    stmt = (select(RoutingRule, Area.name, Team.name)
            .join(Team, Team.id == RoutingRule.team_id)
            .outerjoin(Area, Area.id == RoutingRule.area_id)
            .order_by(RoutingRule.category, Area.path))
    if within_path is not None:
        stmt = stmt.where(RoutingRule.area_id.is_(None) | Area.path.startswith(within_path))
    rows = (await session.execute(stmt)).all()
    return [RuleView(r.id, r.category, r.area_id, area_name, r.team_id, team_name)
            for r, area_name, team_name in rows]


async def set_rule(
    session: AsyncSession, *, category: str, area_id: int | None, team_id: int,
    created_by_id: int | None,
) -> RoutingRule:
    """Create or replace the rule for (category, area)."""
    stmt = select(RoutingRule).where(RoutingRule.category == category)
    stmt = stmt.where(RoutingRule.area_id.is_(None) if area_id is None
                      else RoutingRule.area_id == area_id)
    rule = await session.scalar(stmt)
    if rule is None:
        rule = RoutingRule(category=category, area_id=area_id, team_id=team_id,
                           created_by_id=created_by_id)
        session.add(rule)
    else:
        rule.team_id = team_id
        rule.created_by_id = created_by_id
    await session.flush()
    return rule
