"""`python -m bot broadcast` and `python -m bot alert`: a broadcast or an alert from outside
the chat, for operators and for other systems (one unit alerting another). Each is written
to the outbox like one confirmed in the chat, so a running bot sends it (within its poll
interval), and audited as sent from the command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.models import Severity
from bot.alerts.service import AlertConfig, create_alert
from bot.audit.service import record
from bot.auth import Actor
from bot.broadcasting.service import (
    TOPIC_OF_KIND,
    BroadcastKind,
    ContentSource,
    FixedContent,
    NextTip,
    send_broadcast,
)
from bot.db import create_engine, create_session_factory, transaction
from bot.directory.areas import find_by_names
from bot.directory.audience import AudienceCount, AudienceSpec, count_audience
from bot.directory.models import Role, SubscriptionTopic, Team
from bot.settings import Settings


class Refused(Exception):
    """One line for the operator; nothing was written."""


def _audience_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--area", action="append", default=[], metavar="PATH",
                        help="people living in this area or below it, by names: "
                        "平桥办事处/龙江路社区 (repeatable)")
    parser.add_argument("--team", action="append", default=[], metavar="NAME_OR_ID",
                        help="every member of this team, by name (when unique) or id "
                        "(repeatable)")
    parser.add_argument("--role", action="append", default=[],
                        choices=[r.value for r in Role], help="people of this role (within "
                        "--area when given; repeatable)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print how many it would reach; write nothing")


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`broadcast` and `alert`; the caller sets what each runs."""
    parser = commands.add_parser(
        "broadcast", help="send a broadcast from the command line (written to the outbox; "
        "a running bot sends it)")
    _audience_arguments(parser)
    parser.add_argument("--kind", default=BroadcastKind.NOTICE.value,
                        choices=[k.value for k in BroadcastKind])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help="the message")
    what.add_argument("--next-tip", action="store_true",
                      help="the next tip from the library for this audience")
    parser.add_argument("--urgent", action="store_true", help="send during quiet hours too")
    parser = commands.add_parser(
        "alert", help="send an alert from the command line (written to the outbox; a running "
        "bot sends it, with the groups linked to the teams and areas)")
    _audience_arguments(parser)
    parser.add_argument("--text", required=True, help="the alert")
    parser.add_argument("--severity", default=Severity.WARNING.value,
                        choices=[s.value for s in Severity])
    parser.add_argument("--ack", action="store_true",
                        help="ask everyone to acknowledge (reminders until they do)")


async def _audience(session: AsyncSession, args: argparse.Namespace, *,
                    linked_chats: bool = False) -> AudienceSpec:
    area_ids: set[int] = set()
    for text in args.area:
        area = await find_by_names(session, text)
        if area is None:
            raise Refused(f"没有这个区域 / no area {text!r}: give its names from the top, "
                          "separated by /")
        area_ids.add(area.id)
    team_ids: set[int] = set()
    for text in args.team:
        condition = Team.id == int(text) if text.isdigit() else Team.name == text
        ids = list(await session.scalars(select(Team.id).where(condition)))
        if not ids:
            raise Refused(f"没有这个小组 / no team {text!r}")
        if len(ids) > 1:
            raise Refused(f"有几个小组叫这个名字 / several teams are called {text!r}: "
                          f"give one id of {', '.join(map(str, sorted(ids)))}")
        team_ids.update(ids)
    spec = AudienceSpec(team_ids=team_ids, area_ids=area_ids, roles=set(args.role),
                        include_linked_chats_of_teams=linked_chats,
                        include_linked_chats_of_areas=linked_chats)
    if spec.is_empty:
        raise Refused("请指定对象 / say who it is for: --area, --team or --role")
    return spec


async def _write(
    settings: Settings, args: argparse.Namespace, *, linked_chats: bool,
    topic: SubscriptionTopic | None,
    write: Callable[[AsyncSession, AudienceSpec, AudienceCount], Awaitable[str]],
) -> int:
    """Resolve the audience, then print the count (--dry-run) or `write` it in the same
    transaction and print the line it returns; a refusal is printed and changes nothing."""
    engine = create_engine(settings.database_url)
    factory = create_session_factory(engine)
    try:
        async with transaction(factory) as session:
            spec = await _audience(session, args, linked_chats=linked_chats)
            count = await count_audience(session, spec, topic=topic)
            if count.total == 0:
                raise Refused("这些对象里没有人能收到 / nobody in this audience can receive it")
            if args.dry_run:
                print(f"people: {count.people}, groups: {count.groups} (dry run: nothing sent)")
                return 0
            done = await write(session, spec, count)
    except Refused as exc:
        print(exc, file=sys.stderr)
        return 2
    finally:
        await engine.dispose()
    print(done)
    return 0


async def broadcast(settings: Settings, args: argparse.Namespace) -> int:
    """Resolve the audience, then print the count (--dry-run) or write the broadcast."""
    kind = BroadcastKind(args.kind)
    content: ContentSource = NextTip() if args.next_tip else FixedContent(text=args.text)

    async def write(session: AsyncSession, spec: AudienceSpec, count: AudienceCount) -> str:
        sent = await send_broadcast(
            session, kind=kind, audience=spec, content=content, author_id=None,
            now=datetime.now(UTC), default_language=settings.default_language,
            tz=settings.tz, urgent=args.urgent)
        assert sent is not None
        await record(session, actor_id=None, action="broadcast.send",
                     object_type="broadcast", object_id=sent.id,
                     after={"kind": kind.value, "audience": spec.to_json(),
                            "urgent": args.urgent, "from": "command line"})
        return f"broadcast {sent.id}: people: {count.people}, groups: {count.groups}"

    return await _write(settings, args, linked_chats=False, topic=TOPIC_OF_KIND[kind],
                        write=write)


async def alert(settings: Settings, args: argparse.Namespace) -> int:
    """As in the chat (the teams' and areas' groups too), from nobody in particular."""
    author = Actor(telegram_id=0, name="command line", language=settings.default_language)

    async def write(session: AsyncSession, spec: AudienceSpec, _count: AudienceCount) -> str:
        created = await create_alert(
            session, author=author, spec=spec, text=args.text, photo=None,
            severity=Severity(args.severity), ack_required=args.ack, config=AlertConfig(),
            default_language=settings.default_language, now=datetime.now(UTC))
        return f"alert {created.alert_id}: people: {created.people}, groups: {created.groups}"

    return await _write(settings, args, linked_chats=True, topic=None, write=write)
