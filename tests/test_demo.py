"""`make demo` over HTTP: `python -m tests.demo` serves the seeded story and the page, runs
the real bot, and the page's API acts as the personas (no browser needed)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fake_telegram.objects import make_jpeg
from tests.test_run_standalone import ROOT, free_port, start, stop

#: Upper bounds for a busy machine; no test asserts how fast the bot is.
PATIENCE = 60.0


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One demo process for the module, on a free port, with its own database."""
    database = tmp_path_factory.mktemp("demo") / "demo.db"
    port = free_port()
    process = start(["-m", "tests.demo", "--port", str(port), "--database", str(database),
                     "--speed", "10"], dict(os.environ))
    assert process.stdout is not None
    banner = process.stdout.readline()
    assert f"http://127.0.0.1:{port}" in banner, banner + stop(process)
    assert database.exists()
    yield f"http://127.0.0.1:{port}"
    stop(process)
    assert not bots_using(database), "stopping the demo stops its bot too"


def bots_using(database: Path) -> list[int]:
    """Processes whose environment names this database (the demo's bot), on Linux."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if str(database).encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


class Page:
    """What the page's JavaScript does, as one persona at a time."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def get(self, path: str) -> Any:
        async with self.session.get(f"{self.url}/demo/api/{path}") as response:
            payload = await response.json()
        assert payload["ok"], payload
        return payload["result"]

    async def post(self, path: str, body: Any, ok: bool = True) -> Any:
        kwargs = {"data": body} if isinstance(body, aiohttp.FormData) else {"json": body}
        async with self.session.post(f"{self.url}/demo/api/{path}", **kwargs) as response:
            payload = await response.json()
        assert payload["ok"] is ok, payload
        return payload.get("result", payload)

    async def persona(self, key: str) -> int:
        story = await self.get("story")
        return next(p["user_id"] for p in story["personas"] if p["key"] == key)

    async def chat(self, user_id: int, chat_id: int | None = None) -> dict[str, Any]:
        chats = await self.get(f"chats?user_id={user_id}")
        return next(c for c in chats if c["id"] == (chat_id or user_id))

    async def until(self, user_id: int, chat_id: int | None,
                    found: Callable[[dict[str, Any]], Any]) -> Any:
        """The first truthy ``found(chat)`` while the bot works (bounded by PATIENCE)."""
        for _ in range(int(PATIENCE / 0.1)):
            result = found(await self.chat(user_id, chat_id))
            if result:
                return result
            await asyncio.sleep(0.1)
        raise AssertionError(f"never found in {await self.chat(user_id, chat_id)}")

    async def polling(self) -> None:
        for _ in range(int(PATIENCE / 0.1)):
            if (await self.get("story"))["bot_polling"]:
                return
            await asyncio.sleep(0.1)
        raise AssertionError("the demo's bot never started polling")

    async def send(self, user_id: int, text: str, chat_id: int | None = None) -> None:
        await self.post("send", {"user_id": user_id, "chat_id": chat_id or user_id, "text": text})

    async def press(self, user_id: int, text: str, chat_id: int | None = None) -> Any:
        """Press the newest button with this text, once the bot has shown it."""
        def button(chat: dict[str, Any]) -> tuple[int, str] | None:
            for message in reversed(chat["messages"]):
                for row in message.get("buttons", []):
                    for b in row:
                        if b["text"] == text:
                            return message["message_id"], b["data"]
            return None

        message_id, data = await self.until(user_id, chat_id, button)
        return await self.post("press", {"user_id": user_id, "chat_id": chat_id or user_id,
                                         "message_id": message_id, "data": data})


async def next_event(events: aiohttp.ClientResponse, kind: str,
                     wanted: Callable[[dict[str, Any]], bool] = lambda e: True
                     ) -> dict[str, Any]:
    """The next server-sent event of this kind (others, e.g. the bot's answers, pass by)."""
    async for line in events.content:
        if line.startswith(b"data: "):
            event = json.loads(line[6:])
            if event["type"] == kind and wanted(event):
                return event
    raise AssertionError("the event stream ended")


def says(text: str) -> Callable[[dict[str, Any]], bool]:
    """The chat has a bot message containing ``text``."""
    return lambda chat: any(text in (m.get("html") or m.get("caption_html") or "")
                            for m in chat["messages"] if m["from_bot"])


@pytest.fixture
async def page(demo_url: str) -> AsyncIterator[Page]:
    async with aiohttp.ClientSession() as session:
        page = Page(session, demo_url)
        await page.polling()
        yield page


async def test_the_page_and_the_seeded_story_are_served(page: Page) -> None:
    async with page.session.get(page.url + "/") as response:
        assert response.status == 200
        assert "试试看" in await response.text()
    for asset in ("app.js", "app.css"):
        async with page.session.get(f"{page.url}/static/{asset}") as response:
            assert response.status == 200, asset
    story = await page.get("story")
    main = [p["key"] for p in story["personas"] if p["main"]]
    assert main == ["resident", "member", "leader", "cadre", "admin"]
    assert len([p for p in story["personas"] if not p["main"]]) == 12
    leader = await page.persona("leader")
    chats = await page.get(f"chats?user_id={leader}")
    assert [c["title"] for c in chats] == ["平安小助手", "龙江路巡逻队", "龙江路社区平安群"]


async def test_a_message_from_the_page_reaches_the_bot_and_its_answer_streams_back(
    page: Page,
) -> None:
    admin = await page.persona("admin")
    async with page.session.get(f"{page.url}/demo/api/events") as events:
        await page.send(admin, "/help")
        event = await asyncio.wait_for(next_event(
            events, "message", lambda e: e["chat_id"] == admin and e["message"]["from_bot"]),
            PATIENCE)
    assert event["message"]["html"]


async def test_a_button_pressed_on_the_page_is_a_callback_the_bot_answers(page: Page) -> None:
    neighbour = await page.persona("neighbour1")
    await page.send(neighbour, "/language")
    await page.press(neighbour, "English")
    await page.until(neighbour, None, says("I will talk to you in English"))


async def test_the_story_register_report_with_photos_claim_and_hear_back(page: Page) -> None:
    aunt, leader = await page.persona("resident"), await page.persona("leader")
    patrol = (await page.get("story"))["groups"]["patrol"]
    await page.send(aunt, "/start")
    await page.press(aunt, "简体中文")
    await page.press(aunt, "龙江路社区")
    await page.press(aunt, "3栋 · 1网格")
    await page.press(aunt, "完成")
    await page.send(aunt, "/report")
    await page.press(aunt, "👀 可疑人员或行为")
    await page.until(aunt, None, says("请简单说说"))
    await page.send(aunt, "3栋502晚上常有陌生人进出")
    await page.until(aunt, None, says("有照片吗"))
    form = aiohttp.FormData({"user_id": str(aunt), "chat_id": str(aunt), "kind": "photo"})
    for i in range(2):  # two pictures chosen at once: an album
        form.add_field("file", make_jpeg(64 + i, 48), filename=f"door{i}.jpg",
                       content_type="image/jpeg")
    await page.post("upload", form)
    await page.until(aunt, None, says("目前共 2 张照片"))
    await page.press(aunt, "✅ 完成")
    await page.until(aunt, None, lambda chat: chat["keyboard"])  # the buildings to pick
    await page.send(aunt, "3栋")
    await page.press(aunt, "🙈 匿名")
    await page.press(aunt, "✅ 发送")
    card = await page.until(leader, patrol, says("🔔 新线索"))
    assert card
    group = await page.chat(leader, patrol)
    albums = {m["media_group_id"] for m in group["messages"] if m.get("photo")}
    assert len(albums) == 1 and None not in albums, "the photos reached the team as an album"
    assert not says("陈阿姨")(group), "an anonymous reporter never shows in the team's chat"
    async with page.session.get(f"{page.url}/demo/api/events") as events:
        await page.press(leader, "✋ 认领", patrol)
        notice = await asyncio.wait_for(next_event(events, "answer"), PATIENCE)
    assert notice["user_id"] == leader and notice["text"]  # the press was answered
    await page.until(leader, patrol, says("王队长 已认领"))
    await page.until(aunt, None, says("已经接手处理"))


async def test_an_alert_is_pinned_in_the_group_and_acknowledgements_edit_the_cadres_count(
    page: Page,
) -> None:
    cadre, leader, member = (await page.persona("cadre"), await page.persona("leader"),
                             await page.persona("member"))
    community = (await page.get("story"))["groups"]["community"]
    await page.send(cadre, "/alert")
    await page.press(cadre, "▫️ 龙江路社区全体")
    await page.press(cadre, "下一步 ➡️")
    await page.until(cadre, None, says("请写下通知内容"))
    await page.send(cadre, "今晚8点停水检修，请提前储水。")
    await page.press(cadre, "🚨 紧急通知")
    await page.press(cadre, "要，请大家按“收到”")
    await page.press(cadre, "📣 马上发送")
    group = await page.until(leader, community, lambda chat: chat["pinned"] and chat)
    pinned = next(m for m in group["messages"] if m["message_id"] == group["pinned"])
    assert "停水检修" in pinned["html"] and pinned["pinned"]
    status = await page.until(cadre, None, lambda chat: next(
        (m["message_id"] for m in chat["messages"] if "已确认：0" in (m.get("html") or "")), None))
    async with page.session.get(f"{page.url}/demo/api/events") as events:
        await page.press(member, "✅ 收到")
        edited = await asyncio.wait_for(next_event(
            events, "message", lambda e: e["chat_id"] == cadre and "已确认：1" in (
                e["message"].get("html") or "")), PATIENCE)
    assert edited["message"]["message_id"] == status and edited["message"]["edited"], \
        "the count is the same message, edited in place"


async def test_the_patrol_member_signs_in_at_the_seeded_post(page: Page) -> None:
    member = await page.persona("member")
    story = await page.get("story")
    await page.send(member, f"/start {story['post_payload']}")  # the post's QR code, scanned
    await page.until(member, None, says("已签到：东门岗"))


async def test_locations_contacts_voice_files_and_forwards_from_the_page_reach_the_bot(
    page: Page,
) -> None:
    grandma, uncle = await page.persona("neighbour1"), await page.persona("neighbour2")
    community = (await page.get("story"))["groups"]["community"]
    form = aiohttp.FormData({"user_id": str(uncle), "kind": "document"})
    form.add_field("file", b"name,phone\n", filename="names.csv", content_type="text/csv")
    scam = next(m for m in (await page.chat(grandma, community))["messages"]
                if "医保卡" in (m.get("html") or ""))
    actions: list[tuple[int, str, Any, str]] = [
        (uncle, "location", {"user_id": uncle, "latitude": 31.2304, "longitude": 121.4737},
         "location"),
        (uncle, "contact", {"user_id": uncle}, "contact"),
        (uncle, "voice", {"user_id": uncle}, "voice"),
        (uncle, "upload", form, "document"),
        (grandma, "forward", {"user_id": grandma, "from_chat_id": community,
                              "message_id": scam["message_id"]}, "forwarded_from"),
    ]
    for user, path, body, field in actions:
        before = len((await page.chat(user))["messages"])
        await page.post(path, body)
        chat = await page.until(user, None, lambda chat, before=before: (
            len(chat["messages"]) > before + 1 and chat["messages"][-1]["from_bot"] and chat))
        sent = chat["messages"][before]
        assert not sent["from_bot"] and field in sent, (path, sent)
    forwarded = (await page.chat(grandma))["messages"][-2]
    assert forwarded["forwarded_from"] == "孙老师"


async def test_bad_input_from_the_page_is_refused_and_changes_nothing(page: Page) -> None:
    aunt = await page.persona("resident")
    patrol = (await page.get("story"))["groups"]["patrol"]
    before = await page.chat(aunt)
    refused = await page.post("send", {"user_id": 1, "text": "hi"}, ok=False)
    assert "no persona" in refused["description"]
    refused = await page.post("send", {"user_id": aunt, "chat_id": patrol, "text": "hi"}, ok=False)
    assert "not in chat" in refused["description"]
    await page.post("send", {"user_id": aunt, "text": "   "}, ok=False)
    await page.post("location", {"user_id": aunt, "latitude": 200, "longitude": 0}, ok=False)
    await page.post("press", {"user_id": aunt, "message_id": 99999, "data": "x"}, ok=False)
    assert (await page.chat(aunt))["messages"] == before["messages"]


async def test_reset_seeds_the_story_again(page: Page) -> None:
    cadre = await page.persona("cadre")
    await page.send(cadre, "/help")
    await page.until(cadre, None, lambda chat: chat["messages"])
    async with page.session.get(f"{page.url}/demo/api/events") as events:
        await page.post("reset", {})

        reset = await asyncio.wait_for(next_event(events, "reset"), PATIENCE)
    assert reset == {"type": "reset"}
    cadre = await page.persona("cadre")
    # The cadre's /help is gone. (The bot may have spoken since: in the evening the restarted
    # bot sends the day's patrol summary at once.)
    assert not [m for m in (await page.chat(cadre))["messages"] if not m["from_bot"]]
    await page.polling()
    await page.send(cadre, "/help")
    await page.until(cadre, None, lambda chat: any(m["from_bot"] for m in chat["messages"]))


def test_the_demo_never_uses_the_bots_own_database(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "tests.demo", "--database",
                             str(tmp_path / "pingan.db")], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0
    assert "pingan.db" in result.stderr
    assert not (tmp_path / "pingan.db").exists()


def test_the_bots_formatting_is_drawn_from_its_entities_and_nothing_else_is_markup() -> None:
    from tests.demo.views import entities_html
    from tests.fake_telegram.textparse import parse_html

    text, entities = parse_html('🚨 <b>紧急 <i>通知</i></b> &lt;script&gt; '
                                '<a href="https://example.org/safety">看</a> '
                                '<a href="javascript:alert(1)">x</a>')
    assert entities_html(text, entities) == (
        '🚨 <b>紧急 <i>通知</i></b> &lt;script&gt; '
        '<a href="https://example.org/safety" target="_blank" rel="noopener">看</a> x')
