"""Unit tests of the invite options codec and a team's active-links query."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.db import transaction, utcnow
from bot.directory.callbacks import InviteChoice
from bot.directory.invites import (
    UNLIMITED_USES,
    InviteOutcome,
    active_invites,
    create_invite,
    redeem_invite,
    revoke_invite,
)
from bot.directory.models import InviteRole
from bot.directory.people import TelegramIdentity
from tests.factories import make_cast


@pytest.mark.parametrize(("value", "expected"), [
    (0, InviteChoice(0, 0, 0)), (123, InviteChoice(1, 2, 3)), (213, InviteChoice(2, 1, 3)),
    (300, None), (30, None), (4, None), (1000, None), (1123, None),
])
def test_invite_choice_unpacks_only_known_options(value: int, expected) -> None:
    assert InviteChoice.unpack(value, roles=3, lifetimes=3, uses=4) == expected
    if expected is not None:
        assert expected.pack() == value


async def test_active_invites_leave_out_revoked_expired_and_used_up(session_factory):
    now = utcnow()
    async with transaction(session_factory) as session:
        cast = await make_cast(session)

        async def make(**kwargs):
            invite, token = await create_invite(
                session, area=cast.tree.community, team=kwargs.pop("team", cast.team),
                role=kwargs.pop("role", InviteRole.MEMBER), actor_id=cast.staff.id, **kwargs)
            return invite, token

        live, _ = await make(now=now, max_uses=10)
        unlimited, _ = await make(now=now, max_uses=UNLIMITED_USES, role=InviteRole.LEADER)
        revoked, _ = await make(now=now)
        await revoke_invite(session, invite=revoked, actor_id=cast.staff.id)
        await make(now=now - timedelta(days=2), lifetime=timedelta(days=1))
        _spent, spent_token = await make(now=now, max_uses=1)
        await make(now=now, team=cast.other_team)
        used = await redeem_invite(session, token=spent_token, now=now,
                                   identity=TelegramIdentity(telegram_id=77, name="Bob"))
        assert used.outcome is InviteOutcome.JOINED
    async with session_factory() as session:
        found, total = await active_invites(session, team_id=cast.team.id, now=now)
        first_page, _ = await active_invites(session, team_id=cast.team.id, now=now, limit=1)
    assert total == 2 and [i.id for i in found] == [unlimited.id, live.id]
    assert [i.id for i in first_page] == [unlimited.id]
    by_id = {i.id: i for i in found}
    assert by_id[unlimited.id].uses_left is None and by_id[live.id].uses_left == 10
    assert by_id[live.id].created_by == "李干部" and by_id[unlimited.id].role is InviteRole.LEADER
