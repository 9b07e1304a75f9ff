"""Unit tests of the directory services: tables, phones, the area tree, rosters, invites."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from bot.audit import AuditEntry
from bot.auth import Permission, can, directory_scope
from bot.db import transaction, utcnow
from bot.directory import areas as area_service
from bot.directory.invites import (
    InviteOutcome,
    check_invite,
    create_invite,
    invite_link,
    qr_png,
    redeem_invite,
)
from bot.directory.models import (
    Area,
    AreaKind,
    InviteRole,
    Membership,
    Person,
    PersonStatus,
    Role,
    Subscription,
    Team,
)
from bot.directory.people import (
    TelegramIdentity,
    leave,
    load_actor,
    match_by_phone,
    search_people,
)
from bot.directory.roster import (
    MapKind,
    Problem,
    RosterRole,
    check_roster,
    export_rows,
    import_roster,
    normalize_phone,
)
from bot.directory.tables import TableError, read_table
from tests.factories import actor_for, add_to_team, make_cast, make_person, make_team, make_tree

# -- tables and phones ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("13812345678", "+8613812345678"), ("138 1234 5678", "+8613812345678"),
     ("+86 138-1234-5678", "+8613812345678"), ("010-62345678", "+861062345678"),
     ("12345", None), ("", None), ("not a phone", None), ("1381234567", None)],
)
def test_phone_numbers_are_checked_for_china(text: str, expected: str | None) -> None:
    assert normalize_phone(text) == expected


def test_csv_in_gbk_with_chinese_headers_is_read() -> None:
    data = "姓名,电话,队伍\n王芳,13812345678,治安巡逻队\n".encode("gbk")
    rows = read_table(data, "名单.csv")
    assert rows[0].line == 2
    assert rows[0].values == {"name": "王芳", "phone": "13812345678", "team": "治安巡逻队"}


def test_xlsx_phone_numbers_stored_as_numbers_keep_their_digits() -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["name", "phone", "team"])
    sheet.append(["王芳", 13812345678, "治安巡逻队"])
    sheet.append([None, None, None])  # blank rows are skipped
    buffer = io.BytesIO()
    workbook.save(buffer)
    rows = read_table(buffer.getvalue(), "roster.xlsx")
    assert [r.values["phone"] for r in rows] == ["13812345678"]


@pytest.mark.parametrize(("data", "name"), [(b"x", "roster.pdf"), (b"not a zip", "roster.xlsx")])
def test_unreadable_files_are_refused(data: bytes, name: str) -> None:
    with pytest.raises(TableError):
        read_table(data, name)


# -- the area tree ---------------------------------------------------------------------


def rows_of(*paths: str):
    return read_table(("path\n" + "\n".join(paths) + "\n").encode(), "areas.csv")


async def test_tree_import_infers_kinds_and_gives_communities_default_teams(session_factory):
    rows = rows_of("平桥办事处/龙江路社区/3网格/12栋", "平桥办事处/龙江路社区/3网格/13栋",
                   "平桥办事处/青石桥社区", "平桥办事处/龙江路社区/3网格/12栋",
                   "a/b/c/d/e", "")
    async with transaction(session_factory) as session:
        plan = await area_service.plan_tree(session, rows=rows, scope_path="/")
        assert await session.scalar(select(func.count()).select_from(Area)) == 0  # dry run
    assert plan.new_nodes == 6
    assert [(p.line, p.reason) for p in plan.problems] == [(5, "duplicate"), (6, "too_deep")]
    async with transaction(session_factory) as session:
        created = await area_service.apply_tree(session, paths=plan.paths, scope_path="/",
                                                actor_id=None)
    assert created == 6
    async with session_factory() as session:
        kinds = dict((await session.execute(select(Area.name, Area.kind))).all())
        assert kinds == {"平桥办事处": AreaKind.STREET_OFFICE, "龙江路社区": AreaKind.COMMUNITY,
                         "青石桥社区": AreaKind.COMMUNITY, "3网格": AreaKind.GRID,
                         "12栋": AreaKind.BUILDING, "13栋": AreaKind.BUILDING}
        teams = list(await session.scalars(select(Team.name).join(Area).where(
            Area.name == "龙江路社区")))
        assert len(teams) == 12 and "法制宣传队" in teams and "楼长" in teams
        community = await session.scalar(select(Area).where(Area.name == "龙江路社区"))
        under = await area_service.subtree_ids(session, path=community.path)
        assert len(under) == 4  # the community, its grid, two buildings
        audit = await session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "area.create"))
        assert audit == 6


async def test_tree_import_in_english_community_names_teams_in_english(session_factory):
    async with transaction(session_factory) as session:
        office = await area_service.create_area(session, parent=None, name="Office",
                                                actor_id=None, language="en")
        community = await area_service.create_area(session, parent=office, name="Riverside",
                                                   actor_id=None)
        names = set(await session.scalars(select(Team.name).where(
            Team.area_id == community.id)))
    assert "Security patrol team" in names


async def test_staff_import_outside_their_community_is_refused(session_factory):
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        plan = await area_service.plan_tree(
            session, rows=rows_of("平桥办事处/龙江路社区/4网格", "平桥办事处/青石桥社区/9网格",
                                  "别的办事处/某社区"),
            scope_path=cast.tree.community.path)
    assert [names[-1] for names in plan.paths] == ["4网格"]
    assert [(p.line, p.reason) for p in plan.problems] == [(3, "out_of_scope"),
                                                           (4, "out_of_scope")]


async def test_archiving_an_area_archives_its_subtree(session_factory):
    async with transaction(session_factory) as session:
        tree = await make_tree(session)
        count = await area_service.archive_area(session, area=tree.grid, actor_id=None)
        page, total = await area_service.children(session, parent_id=tree.community.id)
    assert count == 2 and total == 0 and page == []


# -- roster ------------------------------------------------------------------------------

ROSTER = """name,phone,team,role,area,telegram
王芳,13812345678,治安巡逻队,队员,,
李强,13912345678,治安巡逻队,组长,3网格,@liqiang
,13700000000,治安巡逻队,,,
赵敏,12345,治安巡逻队,,,
孙丽,13612345678,不存在队,,,
周杰,13812345678,治安巡逻队,,,
吴军,13512345678,治安巡逻队,,,
郑好,13412345678,治安巡逻队,boss,,
"""


async def test_roster_dry_run_names_every_bad_row_and_writes_nothing(session_factory):
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        await make_person(session, name="吴军", phone="+8613512345678", area=cast.tree.community)
        scope = cast.tree.community.path
    async with transaction(session_factory) as session:
        before = await session.scalar(select(func.count()).select_from(Person))
        preview = await check_roster(session, rows=read_table(ROSTER.encode(), "r.csv"),
                                     scope_path=scope)
        after = await session.scalar(select(func.count()).select_from(Person))
    assert before == after
    assert [(g.line, g.name, g.role, g.person_id is not None) for g in preview.good] == [
        (2, "王芳", RosterRole.MEMBER, False), (3, "李强", RosterRole.LEADER, False),
        (8, "吴军", RosterRole.MEMBER, True)]  # the same phone: updated
    assert preview.good[1].username == "liqiang"
    assert [(b.line, b.problem, b.detail) for b in preview.bad] == [
        (4, Problem.MISSING_NAME, ""), (5, Problem.BAD_PHONE, "12345"),
        (7, Problem.DUPLICATE_IN_FILE, "2")]
    assert [(q.kind, q.text, q.lines) for q in preview.questions] == [
        (MapKind.TEAM, "不存在队", [6]), (MapKind.ROLE, "boss", [9])]

    async with transaction(session_factory) as session:
        result = await import_roster(session, preview=preview, scope_path=scope, actor_id=None)
    assert (result.created, result.updated) == (2, 1)
    async with session_factory() as session:
        li = await session.scalar(select(Person).where(Person.name == "李强"))
        assert li.status is PersonStatus.PENDING and li.phone == "+8613912345678"
        assert li.role is Role.MEMBER
        leader = await session.scalar(select(Membership.is_leader).where(
            Membership.person_id == li.id))
        assert leader is True
    # Checked again, the same rows are now updates of the people just added.
    async with transaction(session_factory) as session:
        again = await check_roster(session, rows=read_table(ROSTER.encode(), "r.csv"),
                                   scope_path=scope)
    assert not again.added and len(again.updated) == 3


async def test_roster_teams_of_another_community_are_unknown_to_its_staff(session_factory):
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        await make_team(session, area=cast.other.community, name="青石桥护校队")
        preview = await check_roster(
            session, rows=read_table("name,phone,team\n王芳,13812345678,青石桥护校队\n".encode(),
                                     "r.csv"),
            scope_path=cast.tree.community.path)
    assert [(q.kind, q.text) for q in preview.questions] == [(MapKind.TEAM, "青石桥护校队")]


async def test_admin_roster_needs_the_area_when_team_names_repeat(session_factory):
    async with transaction(session_factory) as session:
        await make_cast(session)  # both communities have a 治安巡逻队
        rows = read_table("name,phone,team,area\n王芳,13812345678,治安巡逻队,\n"
                          "李强,13912345678,治安巡逻队,青石桥社区\n".encode(), "r.csv")
        preview = await check_roster(session, rows=rows, scope_path="/")
    assert [b.problem for b in preview.bad] == [Problem.AMBIGUOUS_TEAM]
    assert [g.name for g in preview.good] == ["李强"]


async def test_missing_columns_are_reported(session_factory):
    async with transaction(session_factory) as session:
        preview = await check_roster(session, rows=read_table(b"name\nx\n", "r.csv"),
                                     scope_path="/")
    assert preview.missing_columns == ["phone", "team"]  # (a role column may stand in for team)


async def test_export_is_limited_to_the_staff_community(session_factory):
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        mine = await export_rows(session, scope_path=cast.tree.community.path)
        everything = await export_rows(session, scope_path="/")
    names = {row[0] for row in mine}
    assert names == {"李干部", "王队长", "张队员", "陈阿姨"}
    assert "赵干部" in {row[0] for row in everything}
    leader_row = next(r for r in mine if r[0] == "王队长")
    assert leader_row[2:5] == ["治安巡逻队", "leader", "龙江路社区"]


# -- invites -------------------------------------------------------------------------------


async def test_invite_joins_the_team_once_and_refuses_when_used_up_or_expired(session_factory):
    now = utcnow()
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        _, token = await create_invite(session, area=cast.tree.community, team=cast.team,
                                       role=InviteRole.MEMBER, now=now, actor_id=cast.staff.id,
                                       max_uses=1)
        _, old = await create_invite(session, area=cast.tree.community, team=cast.team,
                                     role=InviteRole.MEMBER, now=now - timedelta(days=30),
                                     actor_id=cast.staff.id)
    assert 1 <= len(token) <= 64
    link = invite_link("pingan_bot", token)
    assert link == f"https://t.me/pingan_bot?start={token}"
    assert qr_png(link).startswith(b"\x89PNG")
    amy = TelegramIdentity(telegram_id=800_000_001, name="Amy")
    ben = TelegramIdentity(telegram_id=800_000_002, name="Ben")
    async with transaction(session_factory) as session:
        joined = await redeem_invite(session, token=token, identity=amy, now=now)
        again = await redeem_invite(session, token=token, identity=amy, now=now)
    assert joined.outcome is InviteOutcome.JOINED and joined.team_name == "治安巡逻队"
    assert again.outcome is InviteOutcome.ALREADY
    async with transaction(session_factory) as session:
        assert (await redeem_invite(session, token=token, identity=ben, now=now)).outcome \
            is InviteOutcome.USED_UP
        assert (await redeem_invite(session, token=old, identity=ben, now=now)).outcome \
            is InviteOutcome.EXPIRED
        assert (await redeem_invite(session, token="nope", identity=ben, now=now)).outcome \
            is InviteOutcome.UNKNOWN
        assert await check_invite(session, token="bad token!", now=now) is InviteOutcome.UNKNOWN
        # Refused links wrote nothing: Ben does not exist.
        assert await session.scalar(select(Person).where(Person.telegram_id == ben.telegram_id)) \
            is None
        amy_person = await session.scalar(
            select(Person).where(Person.telegram_id == amy.telegram_id))
        assert amy_person.role is Role.MEMBER and amy_person.area_id == cast.tree.community.id


async def test_staff_invite_makes_staff_of_that_area(session_factory):
    now = utcnow()
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        _, token = await create_invite(session, area=cast.other.community, team=None,
                                       role=InviteRole.STAFF, now=now, actor_id=cast.admin.id)
    identity = TelegramIdentity(telegram_id=800_000_010, name="Cadre")
    async with transaction(session_factory) as session:
        await redeem_invite(session, token=token, identity=identity, now=now)
        actor = await load_actor(session, identity=identity, default_language="zh-CN")
    assert actor.role is Role.STAFF and actor.area_path == cast.other.community.path


# -- phones, leaving, search ------------------------------------------------------------------


async def test_pending_person_is_matched_by_phone_into_the_existing_account(session_factory):
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        pending = await make_person(session, name="刘叔", phone="+8613712345678",
                                    role=Role.MEMBER, area=cast.tree.community)
        await add_to_team(session, person=pending, team=cast.team, leader=True)
        # The same man pressed /start before sharing his phone: a resident row exists.
        await make_person(session, name="Liu", telegram_id=800_000_020)
    identity = TelegramIdentity(telegram_id=800_000_020, name="Liu")
    async with transaction(session_factory) as session:
        assert await match_by_phone(session, identity=identity, phone="+8613700000000") is None
        person = await match_by_phone(session, identity=identity, phone="+8613712345678")
        assert person is not None
        actor = await load_actor(session, identity=identity, default_language="zh-CN")
    assert actor.led_team_ids == {cast.team.id}
    assert actor.area_path == cast.tree.community.path
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Person).where(
            Person.phone == "+8613712345678")) == 1


async def test_leaving_unsubscribes_keeps_the_row_and_drops_all_standing(session_factory):
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        cast.resident.role = Role.MEMBER
        await add_to_team(session, person=cast.resident, team=cast.team)
    async with transaction(session_factory) as session:
        assert await leave(session, person_id=cast.resident.id) is True
        assert await leave(session, person_id=cast.resident.id) is False
        actor = await actor_for(session, cast.resident)
        subs = await session.scalar(select(func.count()).select_from(Subscription).where(
            Subscription.person_id == cast.resident.id))
        person = await session.get(Person, cast.resident.id)
    assert subs == 0 and person.status is PersonStatus.LEFT
    assert actor.team_ids == frozenset() and not can(actor, Permission.HANDLE_TIPOFF)


async def test_people_search_is_scope_limited(session_factory):
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        await make_person(session, name="王大妈", area=cast.other.building, telegram_id=1)
        mine = await search_people(session, query="王", scope_path=cast.tree.community.path)
        theirs = await search_people(session, query="王", scope_path="/")
    assert [p.name for p in mine] == ["王队长"]
    assert {p.name for p in theirs} == {"王队长", "王大妈"}


# -- who may do what ----------------------------------------------------------------------------

STAFF_ACTIONS = ["areas", "team", "invite_leader", "import", "export", "people"]


@pytest.mark.parametrize(
    ("who", "allowed"),
    [("admin", set(STAFF_ACTIONS)), ("staff", set(STAFF_ACTIONS)), ("other_staff", set()),
     ("leader", {"team"}), ("member", set()), ("resident", set()), ("stranger", set())],
)
async def test_each_role_against_each_staff_action(session_factory, who: str, allowed: set[str]):
    from tests.factories import stranger

    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        actor = stranger() if who == "stranger" else await actor_for(
            session, getattr(cast, who), admin_ids=())
    community = cast.tree.community.path
    scope = directory_scope(actor)
    decisions = {
        "areas": can(actor, Permission.MANAGE_DIRECTORY, area_path=community),
        "team": can(actor, Permission.MANAGE_TEAM, area_path=community, team_id=cast.team.id),
        "invite_leader": can(actor, Permission.MANAGE_DIRECTORY, area_path=community),
        "import": scope is not None and community.startswith(scope),
        "export": scope is not None and community.startswith(scope),
        "people": scope is not None and community.startswith(scope),
    }
    assert {name for name, ok in decisions.items() if ok} == allowed
