"""`python -m bot broadcast` and `python -m bot alert`: from outside the chat, sent by the
running bot."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.alerts.models import Alert, Severity
from bot.audit.models import AuditEntry
from bot.db import transaction
from broadcasts.models import Broadcast, Delivery
from tests.factories import make_cast
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner
from tests.test_operations import cli


async def test_a_broadcast_from_the_command_line_reaches_a_team(
    bot: BotRunner, fake: FakeTelegram, session_factory, database_url: str
) -> None:
    # The sender's poll would take an hour: only the broadcast's commit can wake it.
    await bot.restart(sender_poll_s=3600)
    leader, member = fake.user("王队长"), fake.user("张队员")
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        cast.leader.telegram_id, cast.member.telegram_id = leader.id, member.id
        team_id = cast.team.id
    for user in (leader, member):
        user.record.started = True

    code, output = await cli("broadcast", "--team", str(team_id), "--text", "今晚八点巡逻集合。",
                             "--dry-run", database_url=database_url)
    assert code == 0 and "people: 2, groups: 0" in output, output
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Broadcast)) == 0

    code, output = await cli("broadcast", "--team", str(team_id), "--text", "今晚八点巡逻集合。",
                             "--urgent", database_url=database_url)
    assert code == 0, output
    async with session_factory() as session:
        chats = set(await session.scalars(select(Delivery.chat_id)))
        entry = await session.scalar(select(AuditEntry).where(
            AuditEntry.action == "broadcast.send"))
    assert chats == {leader.id, member.id}
    assert entry is not None and entry.actor_id is None
    assert entry.after is not None and entry.after["from"] == "command line"

    await fake.wait_for(lambda: leader.messages and member.messages)
    assert "今晚八点巡逻集合。" in member.last_message.text


async def test_a_bad_audience_is_refused_with_one_line(
    session_factory, database_url: str
) -> None:
    async with transaction(session_factory) as session:
        await make_cast(session)
    for audience in (["--area", "平桥办事处/没有这个社区"], ["--team", "治安巡逻队"],
                     ["--team", "404"]):
        code, output = await cli("broadcast", *audience, "--text", "测试",
                                 database_url=database_url)
        assert code == 2, output
        assert len(output.strip().splitlines()) == 1, output
    code, output = await cli("broadcast", "--area", "平桥办事处/龙江路社区", "--role", "staff",
                             "--text", "测试", "--dry-run", database_url=database_url)
    assert code == 0 and "people: 1, groups: 0" in output, output
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Broadcast)) == 0


async def test_an_alert_from_the_command_line_reaches_a_team(
    bot: BotRunner, fake: FakeTelegram, session_factory, database_url: str
) -> None:
    await bot.restart(sender_poll_s=3600)  # as above: woken by the commit alone
    leader, member = fake.user("王队长"), fake.user("张队员")
    async with transaction(session_factory) as session:
        cast = await make_cast(session)
        cast.leader.telegram_id, cast.member.telegram_id = leader.id, member.id
        team_id = cast.team.id
    for user in (leader, member):
        user.record.started = True

    code, output = await cli("alert", "--team", str(team_id), "--text", "3栋起火，请立即疏散。",
                             "--severity", "emergency", "--ack", database_url=database_url)
    assert code == 0 and "people: 2" in output, output
    async with session_factory() as session:
        alert = await session.scalar(select(Alert))
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "alert.send"))
    assert alert is not None and alert.severity is Severity.EMERGENCY and alert.author_id is None
    assert entry is not None and entry.object_id == alert.id
    assert entry.after is not None and entry.after["from"] == "command line"

    await fake.wait_for(lambda: leader.messages and member.messages)
    assert "3栋起火，请立即疏散。" in member.last_message.text

    code, output = await cli("alert", "--area", "没有这个办事处", "--text", "测试",
                             database_url=database_url)
    assert code == 2 and len(output.strip().splitlines()) == 1, output
