"""The area tree: street office → community → grid/courtyard → building. No Telegram.

`Area.path` is the materialized path `/1/4/17/`. A subtree is the index range
`prefix <= path < prefix-with-last-char-bumped`, which every backend answers from
the index (a `LIKE` needs special collations for that on SQLite).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.audit import record
from bot.directory.models import Area, AreaKind
from bot.directory.tables import TableRow

KINDS_BY_DEPTH = (AreaKind.STREET_OFFICE, AreaKind.COMMUNITY, AreaKind.GRID, AreaKind.BUILDING)
MAX_NAME = 100
ROOT = "/"


def subtree(column: InstrumentedAttribute[str], prefix: str) -> ColumnElement[bool]:
    """`column` lies at or under `prefix` (a path ending in '/'), as an index range."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return (column >= prefix) & (column < upper)


def kind_for_depth(depth: int) -> AreaKind | None:
    """Depth 0 is a street office; deeper than a building is not an area we keep."""
    return KINDS_BY_DEPTH[depth] if 0 <= depth < len(KINDS_BY_DEPTH) else None


def depth_of(area: Area) -> int:
    return area.path.count("/") - 2


def ancestor_ids(path: str) -> list[int]:
    return [int(part) for part in path.strip("/").split("/") if part]


class AreaError(ValueError):
    """A change the tree refuses; `reason` is a stable code the handler words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME or "/" in name:
        raise AreaError("bad_name")
    return name


async def get_area(session: AsyncSession, *, area_id: int) -> Area | None:
    return await session.get(Area, area_id)


async def children(
    session: AsyncSession, *, parent_id: int | None, offset: int = 0, limit: int = 8,
    include_archived: bool = False,
) -> tuple[list[Area], int]:
    """One page of an area's children (or the top level), by name, and how many there are."""
    condition = Area.parent_id.is_(None) if parent_id is None else Area.parent_id == parent_id
    if not include_archived:
        condition = condition & Area.archived.is_(False)
    total = await session.scalar(select(func.count()).select_from(Area).where(condition)) or 0
    rows = await session.scalars(
        select(Area).where(condition).order_by(Area.name, Area.id).offset(offset).limit(limit)
    )
    return list(rows), total


async def areas_of_kind(
    session: AsyncSession, *, kind: AreaKind, offset: int = 0, limit: int = 8,
    scope_path: str = ROOT, name_contains: str | None = None,
) -> tuple[list[Area], int]:
    condition = (Area.kind == kind) & Area.archived.is_(False) & subtree(Area.path, scope_path)
    if name_contains:
        condition = condition & Area.name.contains(name_contains, autoescape=True)
    total = await session.scalar(select(func.count()).select_from(Area).where(condition)) or 0
    rows = await session.scalars(
        select(Area).where(condition).order_by(Area.name, Area.id).offset(offset).limit(limit)
    )
    return list(rows), total


async def subtree_ids(session: AsyncSession, *, path: str) -> list[int]:
    return list(await session.scalars(select(Area.id).where(subtree(Area.path, path))))


async def labels(
    session: AsyncSession, *, paths: Sequence[str], sep: str = " · "
) -> dict[str, str]:
    """A readable name for each path: `龙江路社区 · 3网格 · 12栋` (street office left out)."""
    ids = {i for path in paths for i in ancestor_ids(path)}
    names = dict((await session.execute(
        select(Area.id, Area.name).where(Area.id.in_(ids))
    )).all()) if ids else {}
    out = {}
    for path in paths:
        parts = [names.get(i, "?") for i in ancestor_ids(path)]
        out[path] = sep.join(parts[1:] if len(parts) > 1 else parts)
    return out


async def label(session: AsyncSession, *, path: str | None) -> str:
    if not path:
        return ""
    return (await labels(session, paths=[path]))[path]


async def language_of(session: AsyncSession, *, area: Area, default: str) -> str:
    """The area's own language, else the nearest ancestor's, else the default."""
    if area.language:
        return area.language
    ids = ancestor_ids(area.path)[:-1]
    if ids:
        rows = dict((await session.execute(
            select(Area.id, Area.language).where(Area.id.in_(ids))
        )).all())
        for ancestor in reversed(ids):
            if rows.get(ancestor):
                return rows[ancestor]  # type: ignore[return-value]
    return default


async def create_area(
    session: AsyncSession, *, parent: Area | None, name: str, actor_id: int | None,
    language: str | None = None, default_language: str = "zh-CN",
) -> Area:
    """Add a node under `parent` (its kind follows from the depth). A new community gets
    the default teams, named in the community's language."""
    name = clean_name(name)
    depth = 0 if parent is None else depth_of(parent) + 1
    kind = kind_for_depth(depth)
    if kind is None:
        raise AreaError("too_deep")
    if parent is not None and parent.archived:
        raise AreaError("archived")
    area = Area(parent_id=parent.id if parent else None, kind=kind, name=name, language=language)
    session.add(area)
    await session.flush()
    area.path = f"{parent.path if parent else ROOT}{area.id}/"
    await session.flush()
    await record(session, actor_id=actor_id, action="area.create", object_type="area",
                 object_id=area.id, after={"name": name, "kind": kind.value, "path": area.path})
    if kind is AreaKind.COMMUNITY:
        from bot.directory.teams import create_default_teams

        team_language = await language_of(session, area=area, default=default_language)
        await create_default_teams(session, community=area, language=team_language,
                                   actor_id=actor_id)
    return area


async def rename_area(
    session: AsyncSession, *, area: Area, name: str, actor_id: int | None
) -> None:
    name = clean_name(name)
    before = {"name": area.name}
    area.name = name
    await record(session, actor_id=actor_id, action="area.rename", object_type="area",
                 object_id=area.id, before=before, after={"name": name})


async def archive_area(session: AsyncSession, *, area: Area, actor_id: int | None) -> int:
    """Archive a node and everything under it; returns how many nodes were archived."""
    result = await session.execute(
        update(Area).where(subtree(Area.path, area.path), Area.archived.is_(False))
        .values(archived=True).execution_options(synchronize_session="fetch")
    )
    await record(session, actor_id=actor_id, action="area.archive", object_type="area",
                 object_id=area.id, before={"archived": False},
                 after={"archived": True, "nodes": result.rowcount})
    return result.rowcount or 0


async def find_child(session: AsyncSession, *, parent_id: int | None, name: str) -> Area | None:
    condition = Area.parent_id.is_(None) if parent_id is None else Area.parent_id == parent_id
    return await session.scalar(
        select(Area).where(condition, Area.name == name, Area.archived.is_(False))
        .order_by(Area.id).limit(1)
    )


# -- importing a whole tree -------------------------------------------------------------

@dataclass(frozen=True)
class TreeProblem:
    line: int
    path: str
    reason: str  # "missing_path" | "too_deep" | "bad_name" | "out_of_scope" | "duplicate"


@dataclass
class TreePlan:
    """What an import would do: the paths to ensure, and the refused rows."""

    paths: list[list[str]] = field(default_factory=list)
    problems: list[TreeProblem] = field(default_factory=list)
    new_nodes: int = 0


def split_path(text: str) -> list[str]:
    return [" ".join(part.split()) for part in text.replace("\\", "/").split("/") if part.strip()]


async def _walk(
    session: AsyncSession, names: list[str]
) -> tuple[list[Area], list[str]]:
    """The existing prefix of a named path, and the names still missing."""
    found: list[Area] = []
    parent_id: int | None = None
    for index, name in enumerate(names):
        node = await find_child(session, parent_id=parent_id, name=name)
        if node is None:
            return found, names[index:]
        found.append(node)
        parent_id = node.id
    return found, []


async def find_by_names(session: AsyncSession, text: str) -> Area | None:
    """The area a named path such as `平桥办事处/龙江路社区/3网格` leads to (None if any
    step is missing)."""
    names = split_path(text)
    found, missing = await _walk(session, names)
    return found[-1] if names and not missing else None


async def plan_tree(
    session: AsyncSession, *, rows: Sequence[TableRow], scope_path: str
) -> TreePlan:
    """Check every row of an area file without writing anything."""
    plan = TreePlan()
    seen: set[tuple[str, ...]] = set()
    planned_new: set[tuple[str, ...]] = set()
    for row in rows:
        text = row.values.get("path", "")
        names = split_path(text)
        if not names:
            plan.problems.append(TreeProblem(row.line, text, "missing_path"))
            continue
        if len(names) > len(KINDS_BY_DEPTH):
            plan.problems.append(TreeProblem(row.line, text, "too_deep"))
            continue
        if any(len(n) > MAX_NAME for n in names):
            plan.problems.append(TreeProblem(row.line, text, "bad_name"))
            continue
        key = tuple(names)
        if key in seen:
            plan.problems.append(TreeProblem(row.line, text, "duplicate"))
            continue
        seen.add(key)
        found, missing = await _walk(session, names)
        if missing:
            # Creating under the deepest existing node: it must be in the actor's scope.
            anchor = found[-1].path if found else ROOT
            if not anchor.startswith(scope_path) or (scope_path != ROOT and anchor == ROOT):
                plan.problems.append(TreeProblem(row.line, text, "out_of_scope"))
                continue
            for depth in range(len(found), len(names)):
                planned_new.add(tuple(names[: depth + 1]))
        plan.paths.append(names)
    plan.new_nodes = len(planned_new)
    return plan


async def apply_tree(
    session: AsyncSession, *, paths: Sequence[Sequence[str]], scope_path: str,
    actor_id: int | None, default_language: str = "zh-CN",
) -> int:
    """Create the missing nodes of each path (checked again); returns how many were created."""
    created = 0
    for names in paths:
        found, missing = await _walk(session, list(names))
        parent = found[-1] if found else None
        anchor = parent.path if parent else ROOT
        if missing and (not anchor.startswith(scope_path)
                        or (scope_path != ROOT and anchor == ROOT)):
            continue
        for name in missing:
            parent = await create_area(session, parent=parent, name=name, actor_id=actor_id,
                                       default_language=default_language)
            created += 1
    return created
