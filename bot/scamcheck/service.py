"""What the scam check keeps, and the early warning it gives. No Telegram import.

Each check is kept as its kind, verdict, the asker's home community and the time — never
the text, never who asked. When enough residents of one community ask about the same kind
of scam within the window, the community's staff get one suggestion through the outbox:
a ready anti-fraud alert with the library tip for that kind, which a staff member sends
to the residents with two presses (`send_alert`, through the broadcasting service).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.audit.service import record
from bot.broadcasting.service import (
    BroadcastKind,
    FixedContent,
    default_tip_library,
    send_broadcast,
)
from bot.directory.audience import AudienceSpec, resolve_audience
from bot.directory.models import Area, Role, SubscriptionTopic
from bot.i18n import LANGUAGES, translator
from bot.scamcheck import callbacks as cb
from bot.scamcheck.checker import Verdict
from bot.scamcheck.models import ScamCheck, ScamWarning
from bot.scamcheck.rules import Rules
from broadcasts import Broadcast, OutgoingMessage, Priority, enqueue_broadcast
from broadcasts.store import dialect_insert
from broadcasts.tips import TipItem


@dataclass(frozen=True)
class WarningRule:
    """`askers` different residents of one community within `window` (the settings)."""

    askers: int
    window: timedelta


async def record_check(
    session: AsyncSession, *, kind: str | None, verdict: Verdict, community: Area | None,
    repeat: bool, now: datetime, rule: WarningRule, rules: Rules, default_language: str,
) -> bool:
    """Keep one check; warn the community's staff when this check makes enough askers.

    `repeat`: the same asker already asked about this kind within the window (the caller
    knows; nothing here knows who asked). Returns whether a warning was queued (wake the
    dispatcher after the commit).
    """
    session.add(ScamCheck(kind=kind, verdict=verdict,
                          community_id=community.id if community else None,
                          repeat=repeat, checked_at=now))
    await session.flush()
    if community is None or kind is None or verdict is Verdict.NONE or repeat:
        return False
    askers = await session.scalar(select(func.count(ScamCheck.id)).where(
        ScamCheck.community_id == community.id, ScamCheck.kind == kind,
        ScamCheck.verdict != Verdict.NONE, ScamCheck.repeat.is_(False),
        ScamCheck.checked_at > now - rule.window)) or 0
    if askers < rule.askers or kind not in rules.kinds:
        return False
    tip = tip_of(rules.kinds[kind].tip)
    if tip is None:
        return False
    staff = [(r.chat_id, r.language) async for r in resolve_audience(
        session, AudienceSpec(area_ids={community.id}, roles={Role.STAFF}),
        default_language=default_language)]
    if not staff:
        return False
    warning = await _claim(session, community_id=community.id, kind=kind, tip_id=tip.id,
                           now=now, window=rule.window)
    if warning is None:
        return False
    hours = round(rule.window.total_seconds() / 3600)

    def build(language: str) -> OutgoingMessage:
        _ = translator(language)
        text = "\n".join([
            _("⚠️ These days residents are receiving “{kind}” scam messages").format(
                kind=rules.kinds[kind].name.text(language)),
            _("{count} residents of {community} asked me about one in the last {hours} hours "
              "(I keep neither their messages nor who they are).").format(
                count=askers, community=community.name, hours=hours),
            "", _("A ready anti-fraud alert for the residents:"), "",
            tip.text(language, default_language)])
        return OutgoingMessage(text=text, buttons=((
            (_("📢 Send it to the residents"),
             cb.warning("ask", warning.id, warning.round)),),))

    order = [default_language, *(lang for lang in LANGUAGES if lang != default_language)]
    await enqueue_broadcast(session, kind="scam_warning", priority=Priority.TIPOFF,
                            audience={"scam_warning": warning.id},
                            content={lang: build(lang) for lang in order}, recipients=staff)
    return True


def tip_of(tip_id: str, library: Sequence[TipItem] | None = None) -> TipItem | None:
    """The library's anti-fraud tip with this id."""
    return next((t for t in (default_tip_library() if library is None else library)
                 if t.id == tip_id and t.category == "anti_fraud"), None)


async def _claim(session: AsyncSession, *, community_id: int, kind: str, tip_id: str,
                 now: datetime, window: timedelta) -> ScamWarning | None:
    """Start a new warning round unless one began within the window.

    The first warning inserts the row (ON CONFLICT DO NOTHING); later ones update it only
    if the last is older than the window. Either statement waits for a concurrent check's
    transaction and then finds the row claimed: one warning, however many checks race."""
    inserted = await session.execute(
        dialect_insert(session, ScamWarning.__table__)
        .values(community_id=community_id, kind=kind, round=1, tip_id=tip_id, warned_at=now)
        .on_conflict_do_nothing(index_elements=["community_id", "kind"]))
    if not getattr(inserted, "rowcount", 0):
        updated = await session.execute(
            update(ScamWarning)
            .where(ScamWarning.community_id == community_id, ScamWarning.kind == kind,
                   ScamWarning.warned_at <= now - window)
            .values(round=ScamWarning.round + 1, tip_id=tip_id, warned_at=now,
                    broadcast_id=None, sent_by_id=None, sent_at=None)
            .execution_options(synchronize_session=False))
        if not getattr(updated, "rowcount", 0):
            return None
    return await session.scalar(
        select(ScamWarning).where(ScamWarning.community_id == community_id,
                                  ScamWarning.kind == kind)
        .execution_options(populate_existing=True))


def alert_audience(community_id: int) -> AudienceSpec:
    """The community's residents who receive anti-fraud alerts ("residents of my
    community" in /broadcast)."""
    return AudienceSpec(area_ids={community_id}, residents_topic=SubscriptionTopic.ANTI_FRAUD)


async def send_alert(
    session: AsyncSession, *, warning: ScamWarning, round_number: int, actor_id: int | None,
    now: datetime, default_language: str, tz: tzinfo,
) -> Broadcast | None:
    """Send the warning's tip to the community's residents as an anti-fraud alert, once.

    The caller checked that the actor may. None when this round was sent already (or
    replaced by a newer one): the conditional update lets one press through."""
    tip = tip_of(warning.tip_id)
    if tip is None:
        return None
    claimed = await session.execute(
        update(ScamWarning)
        .where(ScamWarning.id == warning.id, ScamWarning.round == round_number,
               ScamWarning.sent_at.is_(None))
        .values(sent_by_id=actor_id, sent_at=now)
        .execution_options(synchronize_session=False))
    if not getattr(claimed, "rowcount", 0):
        return None
    spec = alert_audience(warning.community_id)
    broadcast = await send_broadcast(
        session, kind=BroadcastKind.ANTI_FRAUD, audience=spec,
        content=FixedContent(texts={lang: tip.text(lang, default_language)
                                    for lang in LANGUAGES}),
        author_id=actor_id, now=now, default_language=default_language, tz=tz)
    if broadcast is None:
        return None
    await session.execute(update(ScamWarning).where(ScamWarning.id == warning.id)
                          .values(broadcast_id=broadcast.id)
                          .execution_options(synchronize_session=False))
    await record(session, actor_id=actor_id, action="broadcast.send", object_type="broadcast",
                 object_id=broadcast.id,
                 after={"kind": BroadcastKind.ANTI_FRAUD.value, "audience": spec.to_json(),
                        "scam_warning": warning.id, "tip_id": tip.id})
    return broadcast


@dataclass(frozen=True)
class CheckCount:
    kind: str | None  # None: nothing pointed to a kind
    verdict: Verdict
    checks: int


async def check_counts(session: AsyncSession, *, area_path: str, start: datetime,
                       end: datetime) -> list[CheckCount]:
    """Checks by kind and verdict in `[start, end)` asked by residents of the communities
    in the area's subtree ("/": everywhere, with the checks of people with no home), the
    most frequent first. Every check counts, a person's repeated ones too.

    Checks are kept per community only, so an area below a community has none of its own.
    """
    where = [ScamCheck.checked_at >= start, ScamCheck.checked_at < end]
    if area_path != "/":
        where.append(ScamCheck.community_id.in_(
            select(Area.id).where(Area.path.startswith(area_path, autoescape=True))))
    rows = await session.execute(
        select(ScamCheck.kind, ScamCheck.verdict, func.count(ScamCheck.id))
        .where(*where).group_by(ScamCheck.kind, ScamCheck.verdict)
        .order_by(func.count(ScamCheck.id).desc(), ScamCheck.kind.nulls_last(),
                  ScamCheck.verdict))
    return [CheckCount(kind, Verdict(verdict), count) for kind, verdict, count in rows]

