"""The evening all-clear (平安日报) and the cadres' summary. No Telegram.

At a community's all-clear time (default 21:00) each patrol team gets one report row and
its leaders one question (✅ all normal / ⚠️ something to report); before the summary time
(default 21:30) unanswered leaders get one reminder; at the summary time the community's
cadres get one summary: each team's answer and the day's sign-ins per post. The rows are
the record (unique per team and day, per community and day), so a scan may run as often
as it likes and a restart repeats nothing.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.render import in_all_languages
from bot.directory.areas import ancestor_ids, subtree
from bot.directory.models import (
    Area,
    Membership,
    Person,
    PersonStatus,
    Role,
    Team,
    TeamKind,
)
from bot.i18n import N_, Translate
from bot.patrol import callbacks as cb
from bot.patrol import render
from bot.patrol.chase import language_of
from bot.patrol.models import (
    DayAnswer,
    PatrolDayReport,
    PatrolDaySummary,
    PatrolDuty,
    PatrolPost,
    PatrolTimes,
)
from bot.patrol.service import (
    DutyState,
    PatrolConfig,
    day_bounds,
    duty_state,
    local_date,
    sensitive_at,
)
from bot.tipoffs import service as tipoff_service
from broadcasts import OutgoingMessage, Priority, enqueue_broadcast
from broadcasts.store import dialect_insert

logger = logging.getLogger(__name__)

ANSWER_LABELS = {
    DayAnswer.NORMAL: N_("✅ all normal"),
    DayAnswer.ISSUE: N_("⚠️ something reported"),
    DayAnswer.NONE: N_("❔ no answer"),
}


def _at(day: date, moment: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, tzinfo=tz).astimezone(UTC)


async def _communities(session: AsyncSession) -> dict[int, list[tuple[int, str]]]:
    """community id → its patrol teams (id, name)."""
    rows = (await session.execute(
        select(Team.id, Team.name, Area.path).join(Area, Area.id == Team.area_id)
        .where(Team.kind == TeamKind.PATROL, Team.archived.is_(False))
        .order_by(Area.path, Team.id))).all()
    out: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for team_id, name, path in rows:
        ids = ancestor_ids(path)
        if len(ids) >= 2:
            out[ids[1]].append((team_id, name))
    return out


async def times_of(session: AsyncSession, *, community_id: int,
                   config: PatrolConfig) -> tuple[time, time]:
    own = await session.get(PatrolTimes, community_id)
    if own is None:
        return config.allclear_at, config.summary_at
    return own.allclear_at, own.summary_at


async def set_times(session: AsyncSession, *, community_id: int, allclear_at: time,
                    summary_at: time) -> None:
    own = await session.get(PatrolTimes, community_id)
    if own is None:
        session.add(PatrolTimes(community_id=community_id, allclear_at=allclear_at,
                                summary_at=summary_at))
    else:
        own.allclear_at, own.summary_at = allclear_at, summary_at
    await session.flush()


async def team_leaders(session: AsyncSession, team_id: int) -> list[Person]:
    return list(await session.scalars(
        select(Person).join(Membership, Membership.person_id == Person.id)
        .where(Membership.team_id == team_id, Membership.is_leader.is_(True),
               Person.telegram_id.is_not(None), Person.status == PersonStatus.ACTIVE)
        .order_by(Person.id)))


def _question(_: Translate, team: str, day: date, reminder: bool) -> str:
    head = _("🔁 Reminder: ") if reminder else ""
    return head + _("Today's patrol, {team} ({day}): how was it?\nTap one button below.").format(
        team=team, day=day.strftime("%m-%d"))


async def _ask(session: AsyncSession, report: PatrolDayReport, team_name: str, *,
               reminder: bool, default_language: str) -> None:
    for leader in await team_leaders(session, report.team_id):
        assert leader.telegram_id is not None
        language = language_of(leader, default_language)
        what = "remind" if reminder else "ask"
        await enqueue_broadcast(
            session, kind=f"patrol_day_{what}", priority=Priority.REPORTER_UPDATE,
            content=in_all_languages(lambda _: OutgoingMessage(
                text=_question(_, team_name, report.on_date, reminder),
                buttons=(((_(render.ALL_NORMAL), cb.data("ok", report.id)),
                          (_(render.SOMETHING_TO_REPORT), cb.data("is", report.id))),)),
                language),
            recipients=[(leader.telegram_id, language)], audience={"patrol_day": report.id},
            schedule_key=f"patrol:day:{report.id}:{what}:{leader.id}", fire_at=report.asked_at)


@dataclass
class EveningResult:
    asked: int = 0
    reminded: int = 0
    summaries: int = 0

    @property
    def sent(self) -> bool:
        return bool(self.asked or self.reminded or self.summaries)


async def run_evening(session: AsyncSession, *, now: datetime, tz: ZoneInfo,
                      config: PatrolConfig, default_language: str) -> EveningResult:
    """Ask, remind and summarise wherever the community's time has come today."""
    result = EveningResult()
    today = local_date(now, tz)
    for community_id, teams in (await _communities(session)).items():
        allclear_at, summary_at = await times_of(session, community_id=community_id,
                                                 config=config)
        ask_at, summary = _at(today, allclear_at, tz), _at(today, summary_at, tz)
        if now < ask_at:
            continue
        names = dict(teams)
        if now < summary:  # too late to ask after the summary went (a bot down all evening)
            for team_id, _name in teams:
                inserted = await session.execute(
                    dialect_insert(session, PatrolDayReport.__table__)
                    .values(team_id=team_id, community_id=community_id, on_date=today,
                            asked_at=now, answer=DayAnswer.NONE)
                    .on_conflict_do_nothing(index_elements=["team_id", "on_date"]))
                if getattr(inserted, "rowcount", 0):
                    report = await session.scalar(select(PatrolDayReport).where(
                        PatrolDayReport.team_id == team_id, PatrolDayReport.on_date == today))
                    assert report is not None
                    await _ask(session, report, names[team_id], reminder=False,
                               default_language=default_language)
                    result.asked += 1
        if now >= summary - config.allclear_reminder_before and now < summary:
            for report in await session.scalars(select(PatrolDayReport).where(
                    PatrolDayReport.community_id == community_id,
                    PatrolDayReport.on_date == today, PatrolDayReport.answer == DayAnswer.NONE,
                    PatrolDayReport.reminded_at.is_(None))):
                report.reminded_at = now
                await _ask(session, report, names.get(report.team_id, ""), reminder=True,
                           default_language=default_language)
                result.reminded += 1
        if now >= summary:
            inserted = await session.execute(
                dialect_insert(session, PatrolDaySummary.__table__)
                .values(community_id=community_id, on_date=today, sent_at=now)
                .on_conflict_do_nothing(index_elements=["community_id", "on_date"]))
            if getattr(inserted, "rowcount", 0):
                await _summarise(session, community_id=community_id, teams=teams, day=today,
                                 now=now, tz=tz, default_language=default_language)
                result.summaries += 1
    return result


# -- answers ---------------------------------------------------------------------------------

async def report_with_team(session: AsyncSession, *,
                           report_id: int) -> tuple[PatrolDayReport, Team, Area] | None:
    row = (await session.execute(
        select(PatrolDayReport, Team, Area).join(Team, Team.id == PatrolDayReport.team_id)
        .join(Area, Area.id == Team.area_id).where(PatrolDayReport.id == report_id))).first()
    return (row[0], row[1], row[2]) if row else None


def answer_normal(report: PatrolDayReport, *, by_person_id: int | None, now: datetime) -> bool:
    """✅: True when recorded; an answered day keeps its first answer."""
    if report.answer is not DayAnswer.NONE:
        return False
    report.answer, report.answered_at, report.answered_by_id = DayAnswer.NORMAL, now, by_person_id
    return True


async def answer_issue(session: AsyncSession, *, report: PatrolDayReport, person: Person,
                       text: str | None, photo: dict[str, object] | None, now: datetime,
                       default_language: str, tz: ZoneInfo) -> tipoff_service.Submitted:
    """⚠️ with its note: a tip-off in the leader's name, at the team's area, routed as usual."""
    team = await session.get_one(Team, report.team_id)
    draft = await tipoff_service.start_draft(session, person=person, now=now)
    draft.category = "other"
    draft.description = text or ""
    draft.photos = [photo] if photo else []
    draft.area_id = team.area_id
    draft.anonymous = False
    submitted = await tipoff_service.submit(session, draft=draft, now=now,
                                            default_language=default_language, tz=tz)
    report.answer, report.answered_at, report.answered_by_id = DayAnswer.ISSUE, now, person.id
    report.note = text
    report.tipoff_id = submitted.tipoff_id
    return submitted


# -- the summary -------------------------------------------------------------------------------

@dataclass(frozen=True)
class PostFigures:
    name: str
    on_time: int
    late: int
    missed: int
    covered: int


async def post_figures(session: AsyncSession, *, team_id: int, day: date, now: datetime,
                       tz: ZoneInfo) -> list[PostFigures]:
    since, until = day_bounds(day, tz)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for duty, post in (await session.execute(
            select(PatrolDuty, PatrolPost.name)
            .join(PatrolPost, PatrolPost.id == PatrolDuty.post_id)
            .where(PatrolDuty.team_id == team_id, PatrolDuty.starts_at >= since,
                   PatrolDuty.starts_at < until))).all():
        counts[post]  # every post with a duty shows, even with nothing counted
        state = duty_state(duty, now)
        if duty.signed_in_at is not None:
            counts[post]["late" if duty.late else "on_time"] += 1
        elif state is DutyState.MISSING:
            counts[post]["missed"] += 1
        elif state in (DutyState.COVERED, DutyState.EXCUSED):
            counts[post]["covered"] += 1
    return [PostFigures(name, c["on_time"], c["late"], c["missed"], c["covered"])
            for name, c in sorted(counts.items())]


@dataclass(frozen=True)
class TeamSummary:
    name: str
    answer: DayAnswer
    note: str | None
    reference: str | None
    posts: list[PostFigures]


def summary_text(_: Translate, *, community: str, day: date, teams: list[TeamSummary],
                 sensitive: bool, limit: int = 3800) -> str:
    lines = [_("🌙 Patrol all-clear, {community}, {day}").format(
        community=community, day=day.strftime("%m-%d"))]
    if sensitive:
        lines.append(_("🔴 Sensitive period: extra shifts today."))
    for team in teams:
        lines += ["", f"【{team.name}】 {_(ANSWER_LABELS[team.answer])}"]
        if team.answer is DayAnswer.ISSUE:
            lines.append("  " + _("Report {reference}: {note}").format(
                reference=team.reference or "-", note=(team.note or "")[:200]))
        if not team.posts:
            lines.append("  " + _("No shifts today."))
        for post in team.posts:
            lines.append("  " + _("📍 {post}: on time {on_time}, late {late}, missed {missed}, "
                                  "covered or excused {covered}").format(
                post=post.name, on_time=post.on_time, late=post.late, missed=post.missed,
                covered=post.covered))
    text = "\n".join(lines)
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def _cadres(session: AsyncSession, community: Area) -> list[Person]:
    """Staff of the community and members of its cadres team."""
    cadre_team = select(Membership.person_id).join(Team, Team.id == Membership.team_id).where(
        Team.kind == TeamKind.CADRES, Team.area_id == community.id)
    return list(await session.scalars(
        select(Person).where(
            Person.telegram_id.is_not(None), Person.status == PersonStatus.ACTIVE,
            or_(Person.id.in_(cadre_team),
                (Person.role == Role.STAFF) & Person.area_id.in_(
                    select(Area.id).where(subtree(Area.path, community.path)))))
        .order_by(Person.id)))


async def _summarise(session: AsyncSession, *, community_id: int, teams: list[tuple[int, str]],
                     day: date, now: datetime, tz: ZoneInfo, default_language: str) -> None:
    community = await session.get_one(Area, community_id)
    reports = {r.team_id: r for r in await session.scalars(select(PatrolDayReport).where(
        PatrolDayReport.community_id == community_id, PatrolDayReport.on_date == day))}
    summaries = []
    for team_id, name in teams:
        report = reports.get(team_id)
        reference = None
        if report is not None and report.tipoff_id is not None:
            view = await tipoff_service.load_view(session, tipoff_id=report.tipoff_id)
            reference = view.reference if view else None
        summaries.append(TeamSummary(
            name, report.answer if report else DayAnswer.NONE, report.note if report else None,
            reference, await post_figures(session, team_id=team_id, day=day, now=now, tz=tz)))
    sensitive = await sensitive_at(session, area_path=community.path, moment=now)
    cadres = await _cadres(session, community)
    if not cadres:
        logger.warning("No cadres to send the patrol summary to",
                       extra={"community_id": community_id})
    for person in cadres:
        assert person.telegram_id is not None
        language = language_of(person, default_language)
        await enqueue_broadcast(
            session, kind="patrol_day_summary", priority=Priority.REPORTER_UPDATE,
            content=in_all_languages(lambda _: OutgoingMessage(text=summary_text(
                _, community=community.name, day=day, teams=summaries, sensitive=sensitive)),
                language),
            recipients=[(person.telegram_id, language)], audience={"patrol_summary": community_id},
            schedule_key=f"patrol:summary:{community_id}:{person.id}",
            fire_at=_at(day, time(0), tz))

