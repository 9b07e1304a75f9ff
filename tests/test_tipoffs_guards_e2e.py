"""Tip-off guards found in review: a reveal always names who looked, reassigning stays in
the report's community, and a reporter cannot flood the team with additions."""

from __future__ import annotations

from sqlalchemy import select

from bot.audit import AuditEntry
from bot.directory.models import Person
from bot.tipoffs.models import TipOff, TipOffEvent, TipOffEventKind
from tests.fake_telegram import FakeTelegram
from tests.support import BotRunner
from tests.tipoff_support import card_in, patrol_scene, report


async def _the_tipoff(session_factory) -> TipOff:
    async with session_factory() as session:
        tipoff = await session.scalar(select(TipOff).order_by(TipOff.id.desc()))
    assert tipoff is not None
    return tipoff


# -- /reveal and the other staff commands by an ADMIN_IDS administrator -----------------
async def test_a_reveal_by_an_admin_named_only_in_admin_ids_names_who_looked(
    bot: BotRunner, fake: FakeTelegram, session_factory,
) -> None:
    scene = await patrol_scene(fake, session_factory)
    boss = fake.user("Boss", language_code="zh-hans")
    await bot.restart(admin_ids=(boss.id,))  # no person row: only the settings name them
    alice = fake.user("Alice", language_code="zh-hans")
    await report(alice, anonymous=True, album=0)
    await fake.wait_for(lambda: card_in(scene.group.messages) is not None)
    tipoff = await _the_tipoff(session_factory)

    await boss.send(f"/tipblock {tipoff.reference} 一天报了十几次")
    await boss.send(f"/tipunblock {tipoff.reference}")
    await boss.send(f"/reveal {tipoff.reference} 派出所需要证人笔录")
    assert f"{tipoff.reference} 的反映人是 Alice" in boss.last_message.text

    async with session_factory() as session:
        entries = (await session.scalars(select(AuditEntry).where(
            AuditEntry.action.like("tipoff.%")).order_by(AuditEntry.id))).all()
        looked = await session.scalar(select(TipOffEvent).where(
            TipOffEvent.kind == TipOffEventKind.REVEALED))
        boss_person = await session.scalar(select(Person).where(Person.telegram_id == boss.id))
    assert [e.action for e in entries] == ["tipoff.block_reporter", "tipoff.unblock_reporter",
                                           "tipoff.reveal_reporter"]
    assert boss_person is not None
    assert {e.actor_id for e in entries} == {boss_person.id}
    assert looked.actor_id == boss_person.id
