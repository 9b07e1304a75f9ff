"""The demo page and its JSON API, mounted on the fake Bot API server's own aiohttp app.

``GET /`` is the page; ``/demo/api/…`` lets it act as a persona (send, press, upload,
share a location or contact, forward) through the fake's story operations — the same
updates a phone would make — and ``/demo/api/events`` streams every new or changed
message (server-sent events), so what the bot sends shows up live for every persona.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import mimetypes
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fake_telegram import FakeTelegram, Limits
from tests.fake_telegram.state import ChatRecord, RecordedMessage, UserRecord

from .story import Story, seed
from .views import chat_view, chats_of, message_view

STATIC = Path(__file__).resolve().parent / "static"
ROOT = Path(__file__).resolve().parents[2]
#: How often the event stream looks for new or changed messages.
WATCH_INTERVAL = 0.2
#: Places a persona can share with one click (latitude, longitude).
PRESET_PLACES = (
    {"name": "龙江路社区 3栋门口", "latitude": 31.2304, "longitude": 121.4737},
    {"name": "东门岗", "latitude": 31.2311, "longitude": 121.4752},
    {"name": "青石桥菜市场", "latitude": 31.2262, "longitude": 121.4801},
)
MAX_UPLOAD = 20 * 1024 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def sqlite_url(database: Path) -> str:
    return f"sqlite+aiosqlite:///{database}"


class BotProcess:
    """`python -m bot run` against the fake, with the demo's own database."""

    def __init__(self, fake: FakeTelegram, database: Path, admin_ids: tuple[int, ...],
                 log: Path | None, speed: float = 1.0) -> None:
        self.fake = fake
        self.speed = speed
        self.database = database
        self.admin_ids = admin_ids
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Run in the database's folder, so a deployment's ``.env`` (webhook, token) is not
        read; the project comes first on the path."""
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONPATH": path, "BOT_TOKEN": self.fake.token,
               "TELEGRAM_API_URL": self.fake.base_url, "DATABASE_URL": sqlite_url(self.database),
               "ADMIN_IDS": ",".join(str(i) for i in self.admin_ids),
               "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
               "MEDIA_DOWNLOAD": "false", "WEBHOOK_URL": "",
               # the bot keeps to the fake's flood limits, sped up alike
               "RATE_OVERALL_PER_S": str(30 * self.speed),
               "RATE_CHAT_PER_S": str(1 * self.speed),
               "RATE_GROUP_PER_MIN": str(20 * self.speed)}
        output = self.log.open("ab") if self.log is not None else subprocess.DEVNULL
        self.process = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env,
                                        cwd=self.database.parent,
                                        stdout=output, stderr=subprocess.STDOUT)

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)  # lets the bot stop polling and close cleanly
        self.fake.abort_long_poll(None)  # its pending getUpdates need not run to its timeout
        try:
            await asyncio.to_thread(process.wait, 20)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)


class Demo:
    """The seeded story, the bot process and the page's API over one fake server."""

    def __init__(self, fake: FakeTelegram, database: Path, *, log: Path | None = None,
                 speed: float = 1.0) -> None:
        self.fake = fake
        self.speed = speed
        self.database = database
        self.log = log
        self.story = Story()
        self.bot: BotProcess | None = None
        self.subscribers: set[asyncio.Queue[str]] = set()
        self.seen: dict[tuple[int, int], str] = {}
        self.seen_answers: set[str] = set()
        self.watcher: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()

    # -- lifecycle ------------------------------------------------------------------
    async def begin(self) -> None:
        """Seed a fresh story and start the bot and the event stream's watcher."""
        await self._seed()
        self.watcher = asyncio.create_task(self._watch())

    async def end(self) -> None:
        if self.watcher is not None:
            self.watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.watcher
        if self.bot is not None:
            await self.bot.stop()

    def _forget_database(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.database}{suffix}").unlink(missing_ok=True)
        self.database.parent.mkdir(parents=True, exist_ok=True)

    async def _seed(self) -> None:
        await asyncio.to_thread(self._forget_database)
        self.fake.reset(Limits().scaled(self.speed))
        self.seen.clear()
        self.seen_answers.clear()
        self.story = await seed(self.fake, sqlite_url(self.database))
        self.seen = {key: text for key, text in self._snapshot()}
        self.bot = BotProcess(self.fake, self.database, self.story.admin_ids, self.log,
                              self.speed)
        self.bot.start()

    async def reset(self) -> None:
        """Stop the bot, forget everything, seed the story again and start the bot."""
        async with self.lock:
            if self.bot is not None:
                await self.bot.stop()
            await self._seed()
        self._publish({"type": "reset"})

    # -- the event stream --------------------------------------------------------
    def _snapshot(self) -> list[tuple[tuple[int, int], str]]:
        return [((chat.id, msg.message_id), json.dumps(message_view(msg), ensure_ascii=False))
                for chat in list(self.fake.chats.values())
                for msg in list(chat.messages.values())]

    def _publish(self, event: dict[str, Any]) -> None:
        data = json.dumps(event, ensure_ascii=False)
        for queue in self.subscribers:
            queue.put_nowait(data)

    def changes(self) -> list[dict[str, Any]]:
        """Messages new or changed since the last look (edits, pins and deletions too), and
        the bot's answers to button presses (the little notice a phone shows)."""
        events = []
        for query_id, answer in list(self.fake.callback_answers.items()):
            if query_id not in self.seen_answers:
                self.seen_answers.add(query_id)
                query = self.fake.pending_queries.get(query_id)
                if answer.text and query is not None:
                    events.append({"type": "answer", "user_id": query.user_id,
                                   "text": answer.text, "alert": answer.show_alert})
        for key, text in self._snapshot():
            if self.seen.get(key) != text:
                self.seen[key] = text
                chat = self.fake.chats[key[0]]
                events.append({"type": "message", "chat_id": key[0], "message": json.loads(text),
                               "chat": _chat_meta(chat)})
        return events

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            if self.lock.locked():
                continue
            for event in self.changes():
                self._publish(event)

    # -- helpers -------------------------------------------------------------------
    def user(self, body: dict[str, Any]) -> UserRecord:
        user_id = int(body["user_id"])
        if user_id not in {p.user_id for p in self.story.personas}:
            raise KeyError(f"no persona {user_id}")
        return self.fake.users[user_id]

    def chat(self, user: UserRecord, body: dict[str, Any]) -> ChatRecord:
        chat_id = int(body.get("chat_id") or user.id)
        chat = next((c for c in chats_of(self.fake.chats, user) if c.id == chat_id), None)
        if chat is None:
            raise KeyError(f"{user.first_name} is not in chat {chat_id}")
        return chat

    async def post(self, user: UserRecord, chat: ChatRecord,
                   **content: Any) -> list[RecordedMessage]:
        """A message from ``user``; waits (bounded) for the bot to answer it."""
        try:
            return await self.fake.user_message(user, chat, wait=False, timeout=15.0, **content)
        except TimeoutError:  # the bot is slow or still starting: its answer comes by SSE
            return []


def _upload_content(fake: FakeTelegram, file: web.FileField, *, photo: bool) -> dict[str, Any]:
    """A picture as Telegram keeps a photo (recompressed sizes), anything else as a file."""
    data = file.file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise ValueError(f"{file.filename} is larger than 20 MB")
    mime = file.content_type or mimetypes.guess_type(file.filename)[0] or ""
    if photo and mime.startswith("image/"):
        try:
            return {"photo": fake.store_photo(data)}
        except Exception as exc:  # Pillow could not read it: say so, deliver nothing
            raise ValueError(f"{file.filename} is not a picture ({exc})") from None
    return {"document": fake.store_document(data, file.filename or "file",
                                            mime or "application/octet-stream")}


def _chat_meta(chat: ChatRecord) -> dict[str, Any]:
    return {"id": chat.id, "type": chat.type, "title": chat.title,
            "members": list(chat.members)}


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    data = await request.json()
    return data if isinstance(data, dict) else {}


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result},
                             dumps=lambda o: json.dumps(o, ensure_ascii=False))


def add_demo_routes(app: web.Application, demo: Demo) -> None:
    """Mount the page, its static files and its API."""
    fake = demo.fake

    def guarded(fn: Handler) -> Handler:
        async def wrapper(request: web.Request) -> web.StreamResponse:
            try:
                return await fn(request)
            except (KeyError, ValueError, LookupError) as exc:
                return web.json_response({"ok": False, "description": str(exc)}, status=400)

        return wrapper

    async def index(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html")

    async def story(request: web.Request) -> web.StreamResponse:
        return _ok(demo.story.to_json() | {"places": PRESET_PLACES,
                                            "bot": fake.bot.first_name,
                                            "bot_polling": fake.is_polling()})

    async def chats(request: web.Request) -> web.StreamResponse:
        user = demo.user(dict(request.query))
        return _ok([chat_view(c, fake.bot.first_name) for c in chats_of(fake.chats, user)])

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Cache-Control": "no-cache"})
        await response.prepare(request)
        queue: asyncio.Queue[str] = asyncio.Queue()
        demo.subscribers.add(queue)
        try:
            await response.write(b": hello\n\n")
            while True:
                try:
                    data = await asyncio.wait_for(queue.get(), 15)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                await response.write(f"data: {data}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            demo.subscribers.discard(queue)
        return response

    async def send(request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        user = demo.user(body)
        chat = demo.chat(user, body)
        text = str(body.get("text", "")).strip()
        if not text:
            raise ValueError("empty message")
        content = fake.text_content(text, chat)
        if body.get("reply_to"):
            content["reply_to"] = chat.messages[int(body["reply_to"])]
        replies = await demo.post(user, chat, **content)
        return _ok([message_view(m) for m in replies])

    async def press(request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        user = demo.user(body)
        chat = demo.chat(user, body)
        message = chat.messages[int(body["message_id"])]
        try:
            replies = await fake.press_button(user, data=str(body["data"]), message=message,
                                              timeout=15.0)
        except TimeoutError:  # the bot is slow: what it does comes by the event stream
            replies = []
        return _ok([message_view(m) for m in replies])

    async def upload(request: web.Request) -> web.StreamResponse:
        """One photo or file, or 2–10 photos as an album (one media group, like a phone)."""
        form = await request.post()
        user = demo.user(dict(form))
        chat = demo.chat(user, dict(form))
        files = [f for f in form.getall("file", []) if isinstance(f, web.FileField)]
        if not 1 <= len(files) <= 10:
            raise ValueError("send 1 to 10 files")
        caption = str(form.get("caption") or "") or None
        contents = [_upload_content(fake, f, photo=form.get("kind") == "photo") for f in files]
        if len(contents) > 1 and all("photo" in c for c in contents):
            group = fake.new_media_group_id()
            for i, content in enumerate(contents[:-1]):
                msg = fake.record_user_message(user, chat, media_group_id=group,
                                               caption=caption if i == 0 else None, **content)
                if fake.bot_sees(chat, msg):
                    fake.enqueue("message", msg.to_json())
            replies = await demo.post(user, chat, media_group_id=group, **contents[-1])
        else:
            replies = []
            for i, content in enumerate(contents):
                replies += await demo.post(user, chat, caption=caption if i == 0 else None,
                                           **content)
        return _ok([message_view(m) for m in replies])

    async def location(request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        user = demo.user(body)
        chat = demo.chat(user, body)
        latitude, longitude = float(body["latitude"]), float(body["longitude"])
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise ValueError("not a place on Earth")
        replies = await demo.post(user, chat,
                                  location={"latitude": latitude, "longitude": longitude})
        return _ok([message_view(m) for m in replies])

    async def contact(request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        user = demo.user(body)
        phone = f"+86138{user.id % 100_000_000:08d}"
        replies = await demo.post(user, fake.chats[user.id], contact={
            "phone_number": phone, "first_name": user.first_name, "user_id": user.id})
        return _ok([message_view(m) for m in replies])

    async def voice(request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        user = demo.user(body)
        chat = demo.chat(user, body)
        record = fake.store_file(b"OggS" + bytes(64), "voice", "oga", "audio/ogg")
        replies = await demo.post(user, chat, voice={
            "file_id": record.file_id, "file_unique_id": record.file_unique_id,
            "duration": int(body.get("duration", 5)), "mime_type": "audio/ogg",
            "file_size": len(record.data)})
        return _ok([message_view(m) for m in replies])

    async def forward(request: web.Request) -> web.StreamResponse:
        """Forward a message the persona can see into their private chat with the bot."""
        body = await _body(request)
        user = demo.user(body)
        source_chat = demo.chat(user, {"chat_id": body["from_chat_id"]})
        source = source_chat.messages[int(body["message_id"])]
        content = {key: getattr(source, key) for key in (
            "text", "entities", "caption", "caption_entities", "photo", "document", "voice",
            "location", "contact")}
        origin = {"type": "user", "date": source.date, "sender_user": source.from_user}
        replies = await demo.post(user, fake.chats[user.id], forward_origin=origin, **content)
        return _ok([message_view(m) for m in replies])

    async def reset(request: web.Request) -> web.StreamResponse:
        await demo.reset()
        return _ok(True)

    async def file(request: web.Request) -> web.StreamResponse:
        record = fake.files.get(request.match_info["file_id"])
        if record is None:
            raise web.HTTPNotFound
        mime = record.mime_type or "application/octet-stream"
        headers = {"X-Content-Type-Options": "nosniff"}
        if not mime.startswith(("image/", "audio/")):  # never render an upload as a page
            headers["Content-Disposition"] = "attachment"
        return web.Response(body=record.data, headers=headers, content_type=mime)

    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC)
    app.router.add_get("/demo/api/story", guarded(story))
    app.router.add_get("/demo/api/chats", guarded(chats))
    app.router.add_get("/demo/api/events", events)
    app.router.add_get("/demo/api/files/{file_id}", file)
    for path, handler in (("send", send), ("press", press), ("upload", upload),
                          ("location", location), ("contact", contact), ("voice", voice),
                          ("forward", forward), ("reset", reset)):
        app.router.add_post(f"/demo/api/{path}", guarded(handler))
