# ruff: noqa: ASYNC109  -- the story API takes timeout= by design (brief), like pytest helpers
"""The aiohttp app speaking Telegram's Bot API over real HTTP, and ``FakeTelegram``.

Routes: ``POST|GET /bot<token>/<method>`` (method names case-insensitive),
``GET /file/bot<token>/<file_path>`` and the control API under ``/_control/``
(see ``control.py``). Answers are Telegram's envelopes with the HTTP status
equal to ``error_code``.

Order of work per request: token → method → in-flight cap → injected fault
→ required parameters → the handler (validation, chat access, flood limits,
delivery). ``fake.requests`` records every call with its answer status.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from aiohttp import BodyPartReader, web

from .errors import GET_UPDATES_CONFLICT, WEBHOOK_CONFLICT, ApiError, server_error
from .errors import too_many_requests as flood
from .faults import FaultRule, Faults
from .limits import Limits, SendLimiter, is_counted
from .methods import METHODS, check_required
from .params import Params, Upload
from .state import ChatRecord, RecordedMessage, RequestRecord
from .story import Story
from .users import FakeGroup, FakeUser
from .world import DEFAULT_UPDATE_TYPES

log = logging.getLogger(__name__)
TOKEN_RE = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{1,100}$")
#: Spec methods returning Boolean that the fake accepts without modelling them.
ACCEPTED_BOOLEAN_METHODS = frozenset(
    m.lower()
    for m in (
        "setMyDescription", "setMyShortDescription", "setMyName", "setChatDescription",
        "setChatTitle", "setMessageReaction", "setMyDefaultAdministratorRights",
        "deleteMessages", "banChatMember", "unbanChatMember", "restrictChatMember",
        "promoteChatMember", "setChatPermissions", "approveChatJoinRequest",
        "declineChatJoinRequest", "setChatPhoto", "deleteChatPhoto",
    )
)
SETTLE_POLL_GRACE = 3.0  # a getUpdates ended this recently = a bot is polling


class _Drop(Exception):
    """Close the connection without an answer."""


class _Poll:
    """One pending getUpdates; a newer one marks it conflicted."""

    def __init__(self) -> None:
        self.conflict: str | None = None


async def read_params(request: web.Request) -> Params:
    """Query string + form / multipart / JSON body, as one :class:`Params`."""
    values: dict[str, Any] = dict(request.query)
    files: dict[str, Upload] = {}
    ctype = request.content_type
    if request.method == "POST" and request.can_read_body:
        if ctype == "application/json":
            try:
                body = await request.json()
            except json.JSONDecodeError:
                raise ApiError(400, "Bad Request: can't parse JSON encoded request") from None
            if isinstance(body, dict):
                values.update(body)
        elif ctype.startswith("multipart/"):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue
                data = await part.read()
                if part.filename is not None:
                    files[part.name] = Upload(
                        bytes(data), part.filename, part.headers.get("Content-Type")
                    )
                else:
                    values[part.name] = bytes(data).decode("utf-8")
        else:
            form = await request.post()
            values.update({k: v for k, v in form.items() if isinstance(v, str)})
    return Params(values, files)


def _json_response(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body, ensure_ascii=False).encode(),
        status=status,
        content_type="application/json",
    )


def _loggable(p: Params) -> dict[str, Any]:
    out = dict(p.values)
    for name, up in p.files.items():
        out[name] = f"<upload {up.filename} {len(up.data)} bytes>"
    return out


class FakeTelegram(Story):
    """A fake Telegram Bot API server plus the world it simulates.

    ``await fake.start()`` serves on 127.0.0.1 (a random port by default);
    point PTB at ``fake.base_url`` / ``fake.base_file_url`` with ``fake.token``.
    """

    def __init__(
        self,
        limits: Limits | None = None,
        bot_username: str = "pingan_test_bot",
        bot_id: int = 123456789,
        token: str | None = None,
        bot_name: str = "平安测试",
        privacy_mode: bool = True,
        quiet: float = 0.15,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(bot_username, bot_id, bot_name, privacy_mode)
        self.token = token or f"{bot_id}:TEST-token"
        self.quiet = quiet
        # Extra "the bot is still working" signals (e.g. an update being handled while a
        # rate limiter holds its reply back): settle() waits while any returns True.
        self.busy_checks: list[Callable[[], bool]] = []
        self.limits = limits or Limits()
        self.faults = Faults()
        self.clock = clock
        self.limiter = SendLimiter(self.limits, clock)
        self._gate: asyncio.Event | None = None
        self.requests: list[RequestRecord] = []
        self.internal_errors: list[str] = []  # bugs in the fake itself; tests assert empty
        self.in_flight = 0
        self._last_activity = time.monotonic()
        self._poll: _Poll | None = None
        self._last_poll_end = 0.0
        self._runner: web.AppRunner | None = None
        self.host = "127.0.0.1"
        self.port = 0
        self.app = self._make_app()

    # -- lifecycle -----------------------------------------------------------------
    def _make_app(self) -> web.Application:
        from .control import add_control_routes

        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        add_control_routes(app, self)
        return app

    async def start(self, port: int = 0, host: str = "127.0.0.1") -> None:
        """Serve over HTTP; ``port=0`` picks a free one (see ``fake.port``)."""
        self.updates_changed = asyncio.Event()
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None and getattr(server, "sockets", None)
        self.host = host
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Stop serving (pending long polls are answered empty)."""
        self.abort_long_poll(None)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``"""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """For PTB's ``base_url`` (it appends the token)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For PTB's ``base_file_url``."""
        return f"{self.url}/file/bot"

    def reset(self, limits: Limits | None = None) -> None:
        """Forget users, chats, messages, files, faults, counters and queued updates.

        The server keeps running and update ids keep counting up, so a bot that
        stays polling across tests keeps working.
        """
        self.clear_world()
        self.faults.clear()
        self.release()
        self.set_limits(limits or self.limits)
        self.requests.clear()

    def set_limits(self, limits: Limits, clock: Callable[[], float] | None = None) -> None:
        """New flood-limit parameters with full buckets, refilled by ``clock`` if given."""
        self.limits = limits
        self.limiter = SendLimiter(limits, clock or self.clock)

    def hold(self) -> None:
        """Keep every send (flood-counted method) waiting, in flight, until :meth:`release`.

        Requests refused before the handler (in-flight cap, injected faults) are
        still answered. A test holds requests open as long as it needs instead of
        betting on a delay being long enough.
        """
        if self._gate is None:
            self._gate = asyncio.Event()

    def release(self) -> None:
        """Let held requests go on (and new ones through)."""
        if self._gate is not None:
            self._gate.set()
            self._gate = None

    # -- the story API ----------------------------------------------------------------
    def user(
        self,
        first_name: str,
        language_code: str | None = "zh-hans",
        username: str | None = None,
        last_name: str | None = None,
    ) -> FakeUser:
        """A new person (unique id) who has not yet talked to the bot."""
        return FakeUser(self, self.add_user(first_name, language_code, username, last_name))

    def group(
        self, title: str, members: list[FakeUser], supergroup: bool = False
    ) -> FakeGroup:
        """A group of these people (first = creator); the bot is not yet in it."""
        return FakeGroup(self, self.add_group(title, [m.record for m in members], supergroup))

    async def add_bot(
        self, group: FakeGroup, by: FakeUser, admin: bool = False, can_pin: bool = False
    ) -> None:
        """``by`` adds the bot to ``group`` (my_chat_member + new_chat_members message)."""
        await self.add_bot_to(group.record, by.record, admin, can_pin)

    async def promote_bot(self, group: FakeGroup, by: FakeUser, can_pin: bool = True,
                          **rights: bool) -> None:
        """``by`` makes the bot an administrator."""
        await self.promote_bot_in(group.record, by.record, can_pin, **rights)

    async def remove_bot(self, group: FakeGroup, by: FakeUser, kicked: bool = True) -> None:
        """``by`` removes the bot (kicked) or the bot is just gone (kicked=False → left)."""
        await self.remove_bot_from(group.record, by.record, kicked)

    async def migrate(self, group: FakeGroup, by: FakeUser | None = None) -> FakeGroup:
        """Upgrade ``group`` to a supergroup; returns the new chat."""
        new = await self.migrate_chat(group.record, by.record if by else None)
        return FakeGroup(self, new)

    async def block(self, user: FakeUser) -> None:
        """``user`` blocks the bot."""
        await self.block_bot(user.record)

    async def unblock(self, user: FakeUser) -> None:
        """``user`` unblocks the bot."""
        await self.unblock_bot(user.record)

    # -- waiting --------------------------------------------------------------------
    def is_polling(self) -> bool:
        """A getUpdates is pending or ended within the last few seconds."""
        return self._poll is not None or (
            time.monotonic() - self._last_poll_end < SETTLE_POLL_GRACE
        )

    async def wait_polling(self, timeout: float = 30.0) -> None:
        """Until a bot has a getUpdates pending (call after starting a bot)."""
        await self.wait_for(lambda: self._poll is not None, timeout)

    async def settle(self, quiet: float | None = None, timeout: float = 30.0) -> None:
        """Until no request but getUpdates was in flight or made for ``quiet`` seconds.

        The timeouts here and in the user helpers are generous upper bounds (30 s): a shared,
        busy machine is slow, and no test asserts how fast the bot is.

        While a bot is polling, queued updates must also have been fetched.
        """
        quiet = self.quiet if quiet is None else quiet
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            fetched = not self.is_polling() or not self.updates or (
                self.handled_update_id >= self.updates[-1]["update_id"]
            )
            if (self.in_flight == 0 and fetched and now - self._last_activity >= quiet
                    and not any(check() for check in self.busy_checks)):
                return
            if now > deadline:
                raise TimeoutError(f"the bot did not settle within {timeout}s")
            await asyncio.sleep(0.01)

    async def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.01
    ) -> None:
        """Until ``predicate()`` is true (TimeoutError otherwise)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            await asyncio.sleep(interval)

    # -- reading results -------------------------------------------------------------------
    def calls(self, method: str) -> list[RequestRecord]:
        """Requests of one method (case-insensitive)."""
        name = method.lower()
        return [r for r in self.requests if r.method == name]

    def chat(self, chat_id: int) -> ChatRecord:
        """The record of a chat by id."""
        return self.chats[chat_id]

    def message(self, chat_id: int, message_id: int) -> RecordedMessage:
        """One message by chat and id."""
        return self.chats[chat_id].messages[message_id]

    # -- flood limits -------------------------------------------------------------------
    def spend(self, chat: ChatRecord, cost: int = 1) -> None:
        """Take flood tokens for a send to ``chat`` or raise 429 (nothing delivered)."""
        retry = self.limiter.try_spend(chat.id, chat.is_group, cost)
        if retry is not None:
            raise flood(retry)

    def abort_long_poll(self, message: str | None) -> None:
        """Answer a pending getUpdates now (409 with ``message``, or empty if None)."""
        if self._poll is not None:
            self._poll.conflict = message or ""
            self._poll = None
            self.updates_changed.set()

    # -- HTTP -----------------------------------------------------------------------
    def _touch(self) -> None:
        self._last_activity = time.monotonic()

    def _count_answer(self, record: RequestRecord, status: int, description: str | None) -> None:
        record.status = status
        record.description = description
        record.duration = time.time() - record.time
        self.stats.per_status[status] += 1
        if status == 429:
            self.stats.answered_429 += 1
        elif status >= 500:
            self.stats.answered_5xx += 1

    async def _api(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        if not TOKEN_RE.match(token) or token != self.token:
            return _json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, 401
            )
        name = request.match_info["method"].lower()
        if name not in METHODS and name not in ACCEPTED_BOOLEAN_METHODS and name != "getupdates":
            return _json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, 404
            )
        try:
            params = await read_params(request)
        except ApiError as exc:
            return _json_response(exc.envelope(), exc.code)
        record = RequestRecord(name, _loggable(params))
        self.requests.append(record)
        self.stats.requests += 1
        self.stats.per_method[name] += 1
        if name == "getupdates":
            return await self._get_updates(request, params, record)
        self.in_flight += 1
        self._touch()
        try:
            result, rule = await self._call(name, params)
            if rule is not None and rule.kind == "lost":
                if rule.delay > 0:
                    await asyncio.sleep(rule.delay)
                else:
                    raise _Drop
            self._count_answer(record, 200, None)
            return _json_response({"ok": True, "result": result})
        except ApiError as exc:
            self._count_answer(record, exc.code, exc.description)
            return _json_response(exc.envelope(), exc.code)
        except _Drop:
            self._count_answer(record, 0, "connection dropped")
            self.stats.dropped += 1
            return self._drop(request)
        except Exception as exc:  # a bug in the fake: say so loudly, in Telegram's envelope
            log.exception("fake Telegram failed on %s", name)
            self.internal_errors.append(f"{name}: {exc!r}")
            self._count_answer(record, 500, repr(exc))
            return _json_response(
                {"ok": False, "error_code": 500, "description": f"Internal Server Error: {exc!r}"},
                500,
            )
        finally:
            self.in_flight -= 1
            self._touch()

    async def _call(self, name: str, params: Params) -> tuple[Any, FaultRule | None]:
        """Cap, fault, required params, handler; returns (result, fault rule in force)."""
        if self.limits.enforce and self.in_flight > self.limits.max_in_flight:
            raise flood(1)
        rule = self._pick_fault(name, params)
        if rule is not None:
            if rule.kind == "slow":
                await asyncio.sleep(rule.delay)
            elif rule.kind == "429":
                raise flood(rule.retry_after)
            elif rule.kind == "5xx":
                raise server_error(rule.status)
            elif rule.kind == "drop":
                raise _Drop
        if self._gate is not None and is_counted(name):
            await self._gate.wait()
        handler = METHODS.get(name)
        if handler is None:
            return True, rule
        check_required(name, params)
        return await handler(self, params), rule

    def _pick_fault(self, name: str, params: Params) -> FaultRule | None:
        try:
            chat_id = params.int("chat_id")
        except ApiError:
            chat_id = None
        return self.faults.pick(name, chat_id, is_counted(name))

    @staticmethod
    def _drop(request: web.Request) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError

    async def _get_updates(
        self, request: web.Request, p: Params, record: RequestRecord
    ) -> web.StreamResponse:
        """Long polling: offset confirms, limit 1–100, timeout ≤50 s, one consumer."""
        try:
            rule = self.faults.pick("getupdates", None, False)
            if rule is not None and rule.kind in ("429", "5xx", "drop", "slow"):
                if rule.kind == "slow":
                    await asyncio.sleep(rule.delay)
                elif rule.kind == "drop":
                    raise _Drop
                else:
                    raise flood(rule.retry_after) if rule.kind == "429" else server_error(
                        rule.status
                    )
            if self.webhook is not None:
                raise ApiError(409, WEBHOOK_CONFLICT)
            result = await self._long_poll(p)
            self._count_answer(record, 200, None)
            return _json_response({"ok": True, "result": result})
        except ApiError as exc:
            self._count_answer(record, exc.code, exc.description)
            return _json_response(exc.envelope(), exc.code)
        except _Drop:
            self._count_answer(record, 0, "connection dropped")
            return self._drop(request)

    async def _long_poll(self, p: Params) -> list[dict[str, Any]]:
        self.abort_long_poll(GET_UPDATES_CONFLICT)
        poll = _Poll()
        self._poll = poll
        try:
            offset = p.int("offset")
            limit = min(max(p.int("limit") or 100, 1), 100)
            timeout = min(max(p.float("timeout") or 0.0, 0.0), 50.0)
            allowed = p.obj("allowed_updates")
            if isinstance(allowed, list):
                self.allowed_updates = frozenset(allowed) or DEFAULT_UPDATE_TYPES
            self._confirm(offset)
            deadline = time.monotonic() + timeout
            while True:
                if poll.conflict:
                    raise ApiError(409, poll.conflict)
                if poll.conflict == "":
                    return []
                self._filter_allowed()
                batch = self.updates[:limit]
                remaining = deadline - time.monotonic()
                if batch or remaining <= 0:
                    break
                self.updates_changed.clear()
                try:
                    await asyncio.wait_for(self.updates_changed.wait(), remaining)
                except TimeoutError:
                    pass
            if batch:
                self.handled_update_id = max(self.handled_update_id, batch[-1]["update_id"])
                self._touch()
            return batch
        finally:
            if self._poll is poll:
                self._poll = None
            self._last_poll_end = time.monotonic()

    def _confirm(self, offset: int | None) -> None:
        """An offset confirms every update below it; a negative one keeps the last -offset."""
        if offset is None or offset == 0:
            return
        if offset < 0:
            keep = self.updates[offset:]
            dropped = self.updates[: len(self.updates) - len(keep)]
            self.updates = keep
        else:
            dropped = [u for u in self.updates if u["update_id"] < offset]
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if dropped:
            self.handled_update_id = max(self.handled_update_id, dropped[-1]["update_id"])

    def _filter_allowed(self) -> None:
        """Updates of types the bot did not ask for are never delivered."""
        kept = []
        for update in self.updates:
            kind = next(k for k in update if k != "update_id")
            if kind in self.allowed_updates:
                kept.append(update)
            else:
                self.handled_update_id = max(self.handled_update_id, update["update_id"])
        self.updates = kept

    async def _file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _json_response({"ok": False, "error_code": 401, "description": "Unauthorized"},
                                  401)
        record = self.files_by_path.get(request.match_info["path"])
        if record is None:
            return _json_response({"ok": False, "error_code": 404, "description": "Not Found"},
                                  404)
        return web.Response(body=record.data, content_type=record.mime_type or
                            "application/octet-stream")
