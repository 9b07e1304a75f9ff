"""/audit over the fake Bot API: staff see their area's entries, admins all, filtered by
kind or person with buttons and exported as XLSX; a resident is refused, forged filters
show nothing beyond the presser's scope, and an anonymous reporter is never named."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from bot.audit import record
from bot.db import transaction
from bot.directory.models import Role
from tests.factories import make_person, make_tree
from tests.figures_support import utc

REFUSED = "抱歉，您没有权限这样做。"


async def test_audit_for_staff_and_admins_never_names_an_anonymous_reporter(
    bot, fake, session_factory,
) -> None:
    li, zhou, wu, alice = (fake.user(n, language_code="zh-hans")
                           for n in ("Li", "Zhou", "Wu", "Alice"))
    async with transaction(session_factory) as session:
        tree = await make_tree(session)
        other = await make_tree(session, community="青石桥社区", parent=tree.street_office)
        staff = await make_person(session, name="李主任", role=Role.STAFF, area=tree.community,
                                  telegram_id=li.id)
        admin = await make_person(session, name="周书记", role=Role.ADMIN, telegram_id=zhou.id)
        next_door = await make_person(session, name="吴干部", role=Role.STAFF,
                                      area=other.community, telegram_id=wu.id)
        reporter = await make_person(session, name="陈阿姨", area=tree.building,
                                     telegram_id=alice.id, phone="13800000009")
        await record(session, actor_id=staff.id, action="schedule.pause",
                     object_type="schedule", object_id=7, before={"paused": False},
                     after={"paused": True})
        await record(session, actor_id=reporter.id, action="resident.home",
                     object_type="person", object_id=reporter.id, before={"area_id": None},
                     after={"area_id": tree.building.id})
        await record(session, actor_id=next_door.id, action="tipoff.claim",
                     object_type="tipoff", object_id=99, after={"status": "claimed"})
        await record(session, actor_id=admin.id, action="alert.send", object_type="alert",
                     object_id=3, after={"people": 12})
    await _anonymous_report(session_factory, reporter_id=reporter.id)
    for user in (li, zhou, wu, alice):
        user.record.started = True

    # A resident is refused.
    await alice.send("/audit")
    assert alice.last_message.text == REFUSED

    # Staff: their area's entries; the anonymous reporter acted, but is not named.
    await li.send("/audit")
    text = li.last_message.text
    assert "schedule.pause" in text and "李主任" in text and "paused=false → paused=true" in text
    assert "resident.home" in text and "居民或系统" in text
    assert "陈阿姨" not in text and f"person #{reporter.id}" not in text
    assert "tipoff.claim" not in text and "alert.send" not in text
    assert "陈阿姨" not in str(li.last_message.buttons)
    # Filter by kind, then a forged filter by another community's person: nothing theirs.
    await li.press(text="schedule")
    assert "schedule.pause" in li.last_message.text
    assert "resident.home" not in li.last_message.text
    await li.press(data=f"au:p:{next_door.id}", forged=True)
    assert "还没有记录" in li.last_message.text
    await li.press(data=f"au:p:{reporter.id}", forged=True)
    assert "还没有记录" in li.last_message.text
    await li.press(data="au:k:1", forged=True)
    assert "失效" in (li.last_callback_answer.text or "")

    # Another community's staff forging a press sees only their own area.
    await wu.send("/audit")
    await wu.press(data="au:k:schedule", forged=True)
    assert "还没有记录" in wu.last_message.text

    # Admins see everything and export it; the file names no anonymous reporter either.
    await zhou.send("/audit")
    text = zhou.last_message.text
    assert all(a in text for a in ("schedule.pause", "resident.home", "tipoff.claim",
                                   "alert.send"))
    await zhou.press(text="📥 导出表格（XLSX）")
    await fake.wait_for(lambda: any(m.document for m in zhou.messages))
    document = next(m for m in zhou.messages if m.document)
    book = load_workbook(io.BytesIO(fake.files[document.document["file_id"]].data))
    rows = [[c for c in row] for row in book.active.iter_rows(values_only=True)]
    assert rows[0][:3] == ["时间", "操作人", "操作"] and len(rows) == 5
    cells = " ".join(str(c) for row in rows for c in row)
    assert "陈阿姨" not in cells and "13800000009" not in cells
    assert f"person #{reporter.id}" not in cells and "李主任" in cells


async def _anonymous_report(session_factory, *, reporter_id: int) -> None:
    from bot.tipoffs.models import TipOff

    async with transaction(session_factory) as session:
        session.add(TipOff(reference="TX-AUDIT", reporter_id=reporter_id, anonymous=True,
                           category="suspicious", created_at=utc(2026, 11, 3, 2),
                           routed_at=utc(2026, 11, 3, 2)))
