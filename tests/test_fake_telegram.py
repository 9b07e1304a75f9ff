"""The fake Telegram server, driven by the real python-telegram-bot over HTTP.

Nothing inside PTB is mocked: if these pass, PTB parses every object the fake
returns and maps every refusal to the exception it maps Telegram's to.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from PIL import Image
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from tests.fake_telegram import FakeTelegram, FakeUser, Limits, ManualClock, SendLimiter
from tests.fake_telegram.objects import make_jpeg

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.fixture(scope="session")
async def fake_tg_server() -> AsyncIterator[FakeTelegram]:
    """One fake for the whole session (session-scoped event loop)."""
    fake = FakeTelegram(bot_username="pingan_test_bot")
    await fake.start(port=0)
    yield fake
    await fake.stop()


@pytest.fixture
def fake(fake_tg_server: FakeTelegram) -> FakeTelegram:
    """A clean world with default limits for each test."""
    fake_tg_server.reset(Limits())
    return fake_tg_server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    """A real PTB Bot pointed at the fake."""
    b = Bot(token=fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)
    async with b:
        yield b


def started(fake: FakeTelegram, name: str = "Alice", **kw: Any) -> FakeUser:
    """A user who has pressed Start (so the bot may write to her)."""
    user = fake.user(name, **kw)
    user.record.started = True
    return user


def seconds(value: int | dtm.timedelta) -> float:
    """RetryAfter.retry_after is an int or a timedelta depending on PTB settings."""
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


# -- plain Bot API calls ---------------------------------------------------------------------
async def test_get_me_and_send_message(fake: FakeTelegram, bot: Bot) -> None:
    alice = started(fake)
    me = await bot.get_me()
    assert me.username == "pingan_test_bot" and me.is_bot
    msg = await bot.send_message(alice.id, "<b>你好</b> &amp; welcome", parse_mode="HTML")
    assert msg.text == "你好 & welcome"
    assert msg.entities[0].type == "bold" and msg.entities[0].length == 2
    assert msg.chat.id == alice.id and msg.from_user.id == fake.bot.id
    assert isinstance(msg.date, dtm.datetime)
    assert alice.last_message is not None and alice.last_message.text == "你好 & welcome"
    assert fake.calls("sendMessage")[0].status == 200


async def test_a_links_address_is_unescaped_as_its_text_is(fake: FakeTelegram, bot: Bot) -> None:
    alice = started(fake)
    msg = await bot.send_message(
        alice.id, '<a href="https://example.org/?a=1&amp;b=&#50;">报名 &amp; 查看</a>',
        parse_mode="HTML")
    assert msg.text == "报名 & 查看"
    assert msg.entities[0].url == "https://example.org/?a=1&b=2"


async def test_text_limits_count_code_points_after_parsing(fake: FakeTelegram, bot: Bot) -> None:
    fake.set_limits(Limits(enforce=False))
    alice = started(fake)
    await bot.send_message(alice.id, "安" * 4096)
    await bot.send_message(alice.id, "<b>" + "安" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(alice.id, "安" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(alice.id, "<b>unclosed", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(alice.id, "1.5", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(alice.id, "<b></b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
        await bot.send_photo(alice.id, make_jpeg(), caption="x" * 1025)


async def test_callback_data_is_limited_to_64_bytes(fake: FakeTelegram, bot: Bot) -> None:
    alice = started(fake)
    ok = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="认" * 21)]])
    await bot.send_message(alice.id, "fits", reply_markup=ok)
    assert alice.last_message is not None and alice.last_message.buttons == [["ok"]]
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("no", callback_data="认" * 22)]])
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(alice.id, "too long", reply_markup=too_long)


async def test_photo_upload_get_file_and_download(fake: FakeTelegram, bot: Bot) -> None:
    alice = started(fake)
    original = make_jpeg(1000, 600, exif_gps=True)
    msg = await bot.send_photo(alice.id, original, caption="现场")
    sizes = [(p.width, p.height) for p in msg.photo]
    assert sizes[-1] == (1000, 600) and sizes[0][0] <= 90
    file = await bot.get_file(msg.photo[-1].file_id)
    assert file.file_path and file.file_size
    data = bytes(await file.download_as_bytearray())
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (1000, 600)
        assert not image.getexif()  # a photo sent as a photo loses its EXIF
    # ...but the fake keeps what the bot uploaded, for tests about what the bot sent
    assert {fake.files[p.file_id].uploaded for p in msg.photo} == {original}
    again = await bot.send_photo(alice.id, msg.photo[-1].file_id)  # by file_id
    assert again.photo[-1].file_unique_id == msg.photo[-1].file_unique_id


async def test_document_keeps_bytes(fake: FakeTelegram, bot: Bot) -> None:
    alice = started(fake)
    original = make_jpeg(exif_gps=True)
    msg = await bot.send_document(alice.id, original, filename="scene.jpg")
    assert msg.document is not None and msg.document.file_name == "scene.jpg"
    file = await bot.get_file(msg.document.file_id)
    assert bytes(await file.download_as_bytearray()) == original
    assert fake.files[msg.document.file_id].uploaded == original


async def test_media_group_shares_id(fake: FakeTelegram, bot: Bot) -> None:
    fake.set_limits(Limits(enforce=False))
    alice = started(fake)
    msgs = await bot.send_media_group(
        alice.id,
        [InputMediaPhoto(make_jpeg(), caption="一"), InputMediaPhoto(make_jpeg(80, 60))],
    )
    assert len(msgs) == 2 and msgs[0].media_group_id == msgs[1].media_group_id
    assert msgs[0].caption == "一"
    with pytest.raises(BadRequest):
        await bot.send_media_group(alice.id, [InputMediaPhoto(make_jpeg())])


async def test_edit_and_not_modified(fake: FakeTelegram, bot: Bot) -> None:
    alice = started(fake)
    kb = InlineKeyboardMarkup([[InlineKeyboardButton("认领", callback_data="claim:1")]])
    msg = await bot.send_message(alice.id, "status: open", reply_markup=kb)
    edited = await bot.edit_message_text("status: claimed", alice.id, msg.message_id,
                                         reply_markup=kb)
    assert isinstance(edited, type(msg)) and edited.edit_date is not None
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("status: claimed", alice.id, msg.message_id, reply_markup=kb)
    await bot.edit_message_reply_markup(alice.id, msg.message_id, reply_markup=None)
    recorded = alice.last_message
    assert recorded is not None and recorded.buttons == [] and len(recorded.edits) == 2
    photo = await bot.send_photo(alice.id, make_jpeg(), caption="old")
    await bot.edit_message_caption(alice.id, photo.message_id, caption="new")
    assert alice.last_message is not None and alice.last_message.caption == "new"
    assert await bot.delete_message(alice.id, photo.message_id)
    assert alice.last_message is not None and alice.last_message.message_id == msg.message_id
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(alice.id, photo.message_id)


async def test_pin_needs_rights_in_groups(fake: FakeTelegram, bot: Bot) -> None:
    alice, bob = started(fake), fake.user("Bob")
    group = fake.group("巡逻一队", members=[alice, bob])
    await fake.add_bot(group, by=alice)
    msg = await bot.send_message(group.id, "今晚巡逻")
    with pytest.raises(BadRequest, match=r"(?i)not enough rights to manage pinned messages"):
        await bot.pin_chat_message(group.id, msg.message_id)
    await fake.promote_bot(group, by=alice, can_pin=True)
    assert await bot.pin_chat_message(group.id, msg.message_id)
    assert group.messages[-1].pinned
    assert await bot.unpin_chat_message(group.id)
    assert not group.messages[-1].pinned
    private = await bot.send_message(alice.id, "pin me")
    assert await bot.pin_chat_message(alice.id, private.message_id)


async def test_copy_and_forward(fake: FakeTelegram, bot: Bot) -> None:
    fake.set_limits(Limits(enforce=False))
    alice, bob = started(fake), started(fake, "Bob")
    src = await bot.send_message(alice.id, "tip")
    copied = await bot.copy_message(bob.id, alice.id, src.message_id)
    assert bob.last_message is not None and bob.last_message.message_id == copied.message_id
    fwd = await bot.forward_message(bob.id, alice.id, src.message_id)
    assert fwd.forward_origin is not None and fwd.text == "tip"


async def test_chat_info_members_and_commands(fake: FakeTelegram, bot: Bot) -> None:
    alice, bob = started(fake), fake.user("Bob")
    group = fake.group("巡逻一队", members=[alice, bob], supergroup=True)
    await fake.add_bot(group, by=alice, admin=True, can_pin=True)
    info = await bot.get_chat(group.id)
    assert info.title == "巡逻一队" and info.type == "supergroup"
    member = await bot.get_chat_member(group.id, bob.id)
    assert member.status == "member"
    admins = await bot.get_chat_administrators(group.id)
    assert {a.user.id for a in admins} == {alice.id, fake.bot.id}
    from telegram import BotCommand, BotCommandScopeChat

    await bot.set_my_commands([BotCommand("start", "开始")], language_code="zh")
    await bot.set_my_commands([BotCommand("link", "绑定")], scope=BotCommandScopeChat(alice.id))
    assert [c.command for c in await bot.get_my_commands(language_code="zh")] == ["start"]
    assert fake.commands[(f"chat:{alice.id}", "")] == [{"command": "link", "description": "绑定"}]
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])
    assert await bot.delete_my_commands(language_code="zh")
    assert await bot.get_my_commands(language_code="zh") == ()
    assert await bot.leave_chat(group.id)
    with pytest.raises(Forbidden, match=r"(?i)not a member of the supergroup chat"):
        await bot.send_message(group.id, "gone")


async def test_webhook_records(fake: FakeTelegram, bot: Bot) -> None:
    assert await bot.set_webhook("https://example.org/hook", secret_token="s3cret_tok")
    info = await bot.get_webhook_info()
    assert info.url == "https://example.org/hook"
    with pytest.raises(Conflict, match=r"(?i)webhook is active"):
        await bot.get_updates(timeout=0)
    with pytest.raises(BadRequest, match=r"(?i)HTTPS URL"):
        await bot.set_webhook("http://example.org/hook")
    assert await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""


async def test_bad_token_and_unknown_method(fake: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        await Bot(token="123:WRONG", base_url=fake.base_url).get_me()
    async with httpx.AsyncClient() as client:
        r = await client.post(f"{fake.base_url}{fake.token}/noSuchMethod")
        assert r.status_code == 404 and r.json()["description"] == "Not Found"
        r = await client.post(f"{fake.base_url}{fake.token}/SENDMESSAGE",
                              json={"chat_id": 1, "text": "x"})
        assert r.json() == {"ok": False, "error_code": 400,
                            "description": "Bad Request: chat not found"}


# -- refusals and faults ------------------------------------------------------------------------
async def test_unreachable_chats(fake: FakeTelegram, bot: Bot) -> None:
    alice, carol = started(fake), fake.user("Carol")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(987654321, "nobody")
    with pytest.raises(Forbidden, match=r"(?i)bot can't initiate conversation with a user"):
        await bot.send_message(carol.id, "hi")
    await fake.block(alice)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(alice.id, "hi")
    group = fake.group("二队", members=[alice])
    with pytest.raises(Forbidden, match=r"(?i)bot is not a member of the group chat"):
        await bot.send_message(group.id, "hi")
    await fake.add_bot(group, by=alice)
    await fake.remove_bot(group, by=alice)
    with pytest.raises(Forbidden, match=r"(?i)bot was kicked from the group chat"):
        await bot.send_message(group.id, "hi")


async def test_migrated_group_raises_chat_migrated(fake: FakeTelegram, bot: Bot) -> None:
    alice = started(fake)
    group = fake.group("三队", members=[alice])
    await fake.add_bot(group, by=alice)
    new = await fake.migrate(group)
    assert new.id < -1_000_000_000_000
    with pytest.raises(ChatMigrated) as info:
        await bot.send_message(group.id, "old id")
    assert info.value.new_chat_id == new.id
    await bot.send_message(new.id, "new id")
    assert new.messages[-1].text == "new id"
    kinds = [next(k for k in u["message"] if k.startswith("migrate")) for u in fake.updates[-2:]]
    assert kinds == ["migrate_to_chat_id", "migrate_from_chat_id"]


async def test_injected_429_403_5xx(fake: FakeTelegram, bot: Bot) -> None:
    alice = started(fake)
    fake.faults.flood(times=1, retry_after=7)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(alice.id, "a")
    assert seconds(info.value.retry_after) == 7
    fake.faults.server_error(times=1, status=502)
    with pytest.raises(NetworkError) as err:
        await bot.send_message(alice.id, "b")
    assert not isinstance(err.value, BadRequest)
    fake.faults.drop(times=1)
    with pytest.raises(NetworkError):
        await bot.send_message(alice.id, "c")
    assert alice.messages == []  # faulted sends deliver nothing
    assert fake.stats.answered_429 == 1 and fake.stats.answered_5xx == 1
    assert fake.stats.dropped == 1
    await bot.send_message(alice.id, "d")
    assert [m.text for m in alice.messages] == ["d"]


async def test_flood_for_one_chat_only(fake: FakeTelegram, bot: Bot) -> None:
    alice, bob = started(fake), started(fake, "Bob")
    fake.faults.flood(times=5, retry_after=3, chat_id=alice.id)
    with pytest.raises(RetryAfter):
        await bot.send_message(alice.id, "a")
    await bot.send_message(bob.id, "b")
    assert [m.text for m in bob.messages] == ["b"]


async def test_slow_response_times_out(fake: FakeTelegram) -> None:
    alice = started(fake)
    fake.hold()  # answered only after the client gave up, however slow the machine
    request = HTTPXRequest(read_timeout=0.1)
    async with Bot(fake.token, base_url=fake.base_url, request=request) as slow_bot:
        with pytest.raises(TimedOut):
            await slow_bot.send_message(alice.id, "late")
    assert alice.messages == []
    fake.release()
    await fake.wait_for(lambda: fake.in_flight == 0)
    assert [m.text for m in alice.messages] == ["late"]  # a timed-out send may be delivered


async def test_lost_answer_makes_duplicate(fake: FakeTelegram, bot: Bot) -> None:
    alice = started(fake)
    fake.faults.lose_answer(times=1)
    with pytest.raises(NetworkError):
        await bot.send_message(alice.id, "通知")
    await bot.send_message(alice.id, "通知")  # the naive retry
    assert [m.text for m in alice.messages] == ["通知", "通知"]
    assert fake.duplicates() == 1


async def test_storm_is_seeded(fake: FakeTelegram, bot: Bot) -> None:
    fake.set_limits(Limits(enforce=False))
    users = [started(fake, f"U{i}") for i in range(40)]

    async def run() -> list[str]:
        fake.faults.start_storm(p429=0.3, retry_after=(2, 4), p5xx=0.1, seed=42)
        out = []
        for u in users:
            try:
                await bot.send_message(u.id, "x")
                out.append("ok")
            except RetryAfter as exc:
                assert 2 <= seconds(exc.retry_after) <= 4
                out.append("429")
            except NetworkError:
                out.append("5xx")
        return out

    first, second = await run(), await run()
    assert first == second and {"ok", "429", "5xx"} <= set(first)


async def test_a_storm_loses_answers_of_delivered_messages(fake: FakeTelegram) -> None:
    """Each lost answer is stored, then dropped or stalled past the client's timeout."""
    fake.set_limits(Limits(enforce=False))
    alice = started(fake)
    fake.faults.start_storm(plost=1.0, lost_stall=2.0, seed=1)  # drop, stall, stall, drop
    request = HTTPXRequest(read_timeout=0.2)
    seen = []
    async with Bot(fake.token, base_url=fake.base_url, request=request) as client:
        for text in ("一", "二", "三", "四"):
            with pytest.raises(NetworkError) as caught:
                await client.send_message(alice.id, text)
            seen.append("timeout" if isinstance(caught.value, TimedOut) else "dropped")
    assert seen == ["dropped", "timeout", "timeout", "dropped"]
    assert [m.text for m in alice.messages] == ["一", "二", "三", "四"]
    assert fake.stats.delivered == 4
    # The stalled answers would count against the next test's cap.
    await fake.wait_for(lambda: not fake.in_flight, timeout=30)


# -- flood limits --------------------------------------------------------------------------------
def frozen(fake: FakeTelegram) -> ManualClock:
    """Default limits whose buckets refill only when the test moves the clock."""
    clock = ManualClock()
    fake.set_limits(Limits(), clock)
    return clock


async def test_limits_enforced_for_quick_sends(fake: FakeTelegram, bot: Bot) -> None:
    clock = frozen(fake)
    users = [started(fake, f"U{i}") for i in range(40)]
    results = await asyncio.gather(
        *(bot.send_message(u.id, "alert") for u in users), return_exceptions=True
    )
    refused = [u for u, r in zip(users, results, strict=True) if isinstance(r, RetryAfter)]
    assert len(refused) == 10  # 30 tokens overall
    assert all(seconds(r.retry_after) == 1 for r in results if isinstance(r, RetryAfter))
    assert fake.stats.delivered == 30 and fake.stats.answered_429 == 10
    clock.advance(1 / 3)  # 10 tokens drip back in
    for user in refused:
        await bot.send_message(user.id, "alert")
    assert fake.stats.delivered == 40
    with pytest.raises(RetryAfter):
        await bot.send_message(users[0].id, "one too many")


async def test_within_limits_no_429(fake: FakeTelegram, bot: Bot) -> None:
    clock = frozen(fake)
    users = [started(fake, f"U{i}") for i in range(20)]
    for u in users:
        await bot.send_message(u.id, "tip")
    await bot.send_message(users[0].id, "second")
    await bot.send_message(users[0].id, "third")
    assert fake.stats.answered_429 == 0 and fake.stats.delivered == 22
    with pytest.raises(RetryAfter) as info:  # 4th in a second to one private chat
        await bot.send_message(users[0].id, "fourth")
    assert seconds(info.value.retry_after) == 1
    clock.advance(1)
    await bot.send_message(users[0].id, "fourth")
    assert [m.text for m in users[0].messages][-1] == "fourth"


async def test_group_limit_20_per_minute(fake: FakeTelegram, bot: Bot) -> None:
    clock = frozen(fake)
    alice = started(fake)
    group = fake.group("四队", members=[alice])
    await fake.add_bot(group, by=alice)
    for i in range(20):
        await bot.send_message(group.id, f"m{i}")
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(group.id, "m20")
    assert seconds(info.value.retry_after) == 3  # one token refills in 60/20 s
    clock.advance(3)
    await bot.send_message(group.id, "m20")


async def test_in_flight_cap(fake: FakeTelegram) -> None:
    fake.set_limits(Limits(max_in_flight=2, overall_per_s=1000, chat_burst=100))
    users = [started(fake, f"U{i}") for i in range(6)]
    fake.hold()  # the first two stay in flight until every other one was refused
    request = HTTPXRequest(connection_pool_size=10, read_timeout=None)
    async with Bot(fake.token, base_url=fake.base_url, request=request) as wide:
        sends = asyncio.gather(
            *(wide.send_message(u.id, "x") for u in users), return_exceptions=True
        )
        await fake.wait_for(lambda: fake.stats.answered_429 == 4, timeout=60)
        assert fake.in_flight == 2
        fake.release()
        results = await sends
    assert sum(isinstance(r, RetryAfter) for r in results) == 4
    assert fake.stats.delivered == 2


def test_token_bucket_model() -> None:
    now = [0.0]
    limiter = SendLimiter(Limits(overall_per_s=30, chat_per_s=1, chat_burst=3),
                          clock=lambda: now[0])
    assert [limiter.try_spend(1, False) for _ in range(3)] == [None, None, None]
    assert limiter.try_spend(1, False) == 1
    now[0] += 1.0
    assert limiter.try_spend(1, False) is None
    assert limiter.try_spend(2, False, cost=10) is None  # an album may leave a debt
    assert limiter.try_spend(2, False) == 8
    assert Limits().scaled(10).overall_per_s == 300
    assert SendLimiter(Limits(enforce=False)).try_spend(1, False, cost=1000) is None


def test_strict_sliding_windows() -> None:
    now = [0.0]
    limiter = SendLimiter(Limits(strict=True), clock=lambda: now[0])
    assert all(limiter.try_spend(c, False) is None for c in range(30))
    now[0] = 0.5  # a bucket would have 15 tokens back; the window still holds 30
    assert limiter.try_spend(99, False) == 1
    now[0] = 1.0  # the first 30 have left the window
    assert all(limiter.try_spend(c, False) is None for c in range(100, 130))
    assert limiter.try_spend(130, False) == 1
    now[0] = 3.0
    assert [limiter.try_spend(7, False) for _ in range(4)] == [None, None, None, 1]
    for _ in range(20):
        assert limiter.try_spend(-5, True) is None
        now[0] += 0.5
    assert limiter.try_spend(-5, True) == 50  # the first of 20 leaves at 63 s
    now[0] = 63.0
    assert limiter.try_spend(-5, True) is None


async def test_strict_limits_over_http(fake: FakeTelegram, bot: Bot) -> None:
    clock = ManualClock()
    fake.set_limits(Limits(strict=True), clock)
    users = [started(fake, f"U{i}") for i in range(31)]
    for u in users[:30]:
        await bot.send_message(u.id, "alert")
    clock.advance(0.9)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(users[30].id, "alert")
    assert seconds(info.value.retry_after) == 1
    clock.advance(0.1)
    await bot.send_message(users[30].id, "alert")
    assert fake.stats.delivered == 31 and fake.stats.answered_429 == 1


# -- updates ------------------------------------------------------------------------------------
async def test_get_updates_long_poll_and_conflict(fake: FakeTelegram, bot: Bot) -> None:
    alice = fake.user("Alice", language_code="zh-hant")
    await bot.get_updates(timeout=0)  # confirm anything queued earlier
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await fake.wait_polling()
    task = asyncio.create_task(alice.send("/start", timeout=5))
    updates = await poll
    assert len(updates) == 1
    update = updates[0]
    assert update.message is not None and update.message.text == "/start"
    assert update.message.from_user is not None
    assert update.message.from_user.language_code == "zh-hant"
    assert update.message.entities[0].type == "bot_command"
    assert await task == []
    again = await bot.get_updates(offset=update.update_id + 1, timeout=0)
    assert again == ()
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await fake.wait_polling()
    # PTB gives getUpdates a one-connection pool: a second consumer needs its own Bot
    async with Bot(fake.token, base_url=fake.base_url) as other:
        second = asyncio.create_task(other.get_updates(timeout=0.2))
        with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates request"):
            await first
        assert await second == ()


async def start_app(fake: FakeTelegram, app: Application) -> None:
    """initialize → start → start_polling (the order FACTS.md gives for tests)."""
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    await fake.wait_polling()


async def stop_app(app: Application) -> None:
    """Stop in reverse."""
    assert app.updater is not None
    await app.updater.stop()
    await app.stop()
    await app.shutdown()


async def test_user_story_with_real_application(fake: FakeTelegram) -> None:
    """A resident starts the bot, picks a language; the patrol group claims a report."""

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_user is not None and update.effective_message is not None
        kb = InlineKeyboardMarkup(
            [[InlineKeyboardButton("中文", callback_data="lang:zh-CN"),
              InlineKeyboardButton("English", callback_data="lang:en")]]
        )
        await update.effective_message.reply_text(
            f"欢迎 {update.effective_user.first_name}", reply_markup=kb
        )

    async def pick(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        await query.answer("已设置")
        await query.edit_message_text(f"language = {query.data.split(':')[1]}")

    async def report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        kb = InlineKeyboardMarkup([[InlineKeyboardButton("认领", callback_data="claim:1")]])
        await context.bot.send_photo(
            group_id, update.effective_message.photo[-1].file_id,
            caption="新举报", reply_markup=kb,
        )
        await update.effective_message.reply_text("收到")

    async def claim(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.from_user is not None
        await query.answer()
        await query.edit_message_caption(f"已认领: {query.from_user.first_name}")
        await context.bot.send_message(alice.id, "你的举报已被认领")

    async def link(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("已绑定")

    app = (
        Application.builder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("link", link))
    app.add_handler(CallbackQueryHandler(pick, pattern=r"^lang:"))
    app.add_handler(CallbackQueryHandler(claim, pattern=r"^claim:"))
    app.add_handler(MessageHandler(filters.PHOTO & filters.ChatType.PRIVATE, report))

    alice = fake.user("Alice", language_code="zh-hans", username="alice")
    bob = fake.user("Bob", language_code="en")
    group = fake.group("巡逻一队", members=[bob, alice])
    group_id = group.id
    await start_app(fake, app)
    try:
        await fake.add_bot(group, by=bob, admin=True, can_pin=True)
        reply = await alice.send("/start")
        assert [m.text for m in reply] == ["欢迎 Alice"]
        assert alice.last_message is not None
        assert alice.last_message.buttons == [["中文", "English"]]
        await alice.press("中文")
        assert alice.last_message.text == "language = zh-CN"
        assert alice.last_callback_answer is not None
        assert alice.last_callback_answer.text == "已设置"

        reply = await alice.send_photo(caption="路灯坏了")
        assert [m.text for m in reply] == ["收到"]
        assert group.last_message is not None and group.last_message.caption == "新举报"
        await bob.press("认领", chat=group)
        assert group.last_message.caption == "已认领: Bob"
        assert alice.last_message.text == "你的举报已被认领"

        reply = await bob.send("/link", chat=group)
        assert [m.text for m in reply] == ["已绑定"]
        assert await bob.send("just chatting", chat=group) == []  # privacy mode
        assert fake.internal_errors == []
        assert fake.duplicates() == 0
    finally:
        await stop_app(app)


async def test_control_http_api(fake: FakeTelegram) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text
        await update.effective_message.reply_text(update.effective_message.text.upper())

    app = Application.builder().token(fake.token).base_url(fake.base_url).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    await start_app(fake, app)
    try:
        async with httpx.AsyncClient(base_url=fake.url) as client:
            r = await client.post("/_control/users", json={"first_name": "Dora"})
            user = r.json()["result"]
            r = await client.post("/_control/send", json={"user_id": user["id"], "text": "hi"})
            assert [m["text"] for m in r.json()["result"]] == ["HI"]
            r = await client.get("/_control/messages", params={"chat_id": user["id"]})
            assert len(r.json()["result"]) == 1
            r = await client.get("/_control/stats")
            assert r.json()["result"]["delivered"] == 1
            r = await client.post("/_control/faults", json={"kind": "429", "retry_after": 9})
            assert r.json()["result"]["retry_after"] == 9
    finally:
        await stop_app(app)
