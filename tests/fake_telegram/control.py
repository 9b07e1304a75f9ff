"""HTTP control endpoints under ``/_control/`` for the standalone mode.

They mirror the in-process Python API so a person (or a benchmark in another
process) can drive the fake with curl. All take and return JSON:

=========================================  ==========================================
``GET  /_control/state``                   users, chats, webhook, stats
``GET  /_control/stats``                   counters (delivered, 429s, 5xx, per method)
``POST /_control/reset``                   forget everything (``{"limits": {...}}`` opt.)
``POST /_control/limits``                  ``{"overall_per_s": 30, ..., "enforce": true}``
``POST /_control/users``                   ``{"first_name", "language_code", "username"}``
``POST /_control/groups``                  ``{"title", "members": [ids], "supergroup"}``
``POST /_control/groups/{id}/add_bot``     ``{"by": user_id, "admin", "can_pin"}``
``POST /_control/groups/{id}/remove_bot``  ``{"by": user_id, "kicked"}``
``POST /_control/groups/{id}/migrate``     → the new supergroup
``POST /_control/send``                    ``{"user_id", "text", "chat_id"?, "wait"?}``
                                           → the bot's replies (``"wait": false``: queue only)
``POST /_control/press``                   ``{"user_id", "text"|"data", "chat_id"?}``
``POST /_control/block``                   ``{"user_id"}`` (``"unblock": true`` to undo)
``GET  /_control/messages?chat_id=N``      what the bot sent to chat N
``POST /_control/faults``                  ``{"kind": "429"|"5xx"|"slow"|"drop"|"lost",
                                           "times", "chat_id", "method", "retry_after",
                                           "status", "delay"}``
``POST /_control/storm``                   ``{"p429", "retry_after": [a, b], "p5xx", "seed",
                                           "plost", "lost_stall"}``
=========================================  ==========================================

Example::

    curl -XPOST localhost:8081/_control/users -d '{"first_name": "Alice"}'
    curl -XPOST localhost:8081/_control/send -d '{"user_id": 700000001, "text": "/start"}'
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .faults import FaultRule
from .limits import Limits
from .state import RecordedMessage

if TYPE_CHECKING:
    from .server import FakeTelegram

Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result},
                             dumps=lambda o: json.dumps(o, ensure_ascii=False, default=str))


def _err(text: str, status: int = 400) -> web.Response:
    return web.json_response({"ok": False, "description": text}, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    data = await request.json()
    return data if isinstance(data, dict) else {}


def _messages(msgs: list[RecordedMessage]) -> list[dict[str, Any]]:
    return [m.to_json() for m in msgs]


def add_control_routes(app: web.Application, fake: FakeTelegram) -> None:
    """Mount the control endpoints on ``app``."""

    def guarded(fn: Route) -> Route:
        async def wrapper(request: web.Request) -> web.StreamResponse:
            try:
                return await fn(request)
            except (KeyError, ValueError, LookupError, TimeoutError) as exc:
                return _err(f"{type(exc).__name__}: {exc}")

        return wrapper

    async def state(request: web.Request) -> web.StreamResponse:
        return _ok(
            {
                "token": fake.token,
                "base_url": fake.base_url,
                "users": [dataclasses.asdict(u) for u in fake.users.values()],
                "chats": [c.to_json() | {"bot_status": c.bot_status} for c in fake.chats.values()],
                "webhook": fake.webhook,
                "pending_updates": len(fake.updates),
            }
        )

    async def stats(request: web.Request) -> web.StreamResponse:
        return _ok(fake.stats.to_json() | {"duplicates": fake.duplicates()})

    async def reset(request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        fake.reset(Limits(**body["limits"]) if "limits" in body else None)
        return _ok(True)

    async def limits(request: web.Request) -> web.StreamResponse:
        fake.set_limits(Limits(**await _body(request)))
        return _ok(dataclasses.asdict(fake.limits))

    async def users(request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        user = fake.user(
            body.get("first_name", "User"), body.get("language_code", "zh-hans"),
            body.get("username"),
        )
        return _ok(user.record.to_json())

    async def groups(request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        members = [fake.users[int(u)] for u in body.get("members", [])]
        chat = fake.add_group(body.get("title", "Group"), members, bool(body.get("supergroup")))
        return _ok(chat.to_json())

    async def group_action(request: web.Request) -> web.StreamResponse:
        chat = fake.chats[int(request.match_info["id"])]
        body = await _body(request)
        action = request.match_info["action"]
        by = fake.users[int(body["by"])] if "by" in body else None
        if action == "add_bot" and by:
            await fake.add_bot_to(chat, by, bool(body.get("admin")), bool(body.get("can_pin")))
        elif action == "remove_bot" and by:
            await fake.remove_bot_from(chat, by, bool(body.get("kicked", True)))
        elif action == "migrate":
            return _ok((await fake.migrate_chat(chat, by)).to_json())
        else:
            return _err(f"unknown action {action} (or missing 'by')")
        return _ok(True)

    async def send(request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        user = fake.users[int(body["user_id"])]
        chat = fake.chats[int(body.get("chat_id", user.id))]
        content = fake.text_content(str(body["text"]), chat)
        wait = bool(body.get("wait", True))
        return _ok(_messages(await fake.user_message(user, chat, wait=wait, **content)))

    async def press(request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        user = fake.users[int(body["user_id"])]
        chat = fake.chats[int(body.get("chat_id", user.id))]
        msgs = await fake.press_button(user, body.get("text"), body.get("data"), chat=chat)
        return _ok(_messages(msgs))

    async def block(request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        user = fake.users[int(body["user_id"])]
        await (fake.unblock_bot(user) if body.get("unblock") else fake.block_bot(user))
        return _ok(True)

    async def messages(request: web.Request) -> web.StreamResponse:
        return _ok(_messages(fake.messages_to(int(request.query["chat_id"]))))

    async def faults(request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        rule = fake.faults.add(FaultRule(**body))
        return _ok(dataclasses.asdict(rule))

    async def storm(request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        if "retry_after" in body:
            body["retry_after"] = tuple(body["retry_after"])
        fake.faults.start_storm(**body)
        return _ok(True)

    routes: list[tuple[str, str, Route]] = [
        ("GET", "/_control/state", state),
        ("GET", "/_control/stats", stats),
        ("POST", "/_control/reset", reset),
        ("POST", "/_control/limits", limits),
        ("POST", "/_control/users", users),
        ("POST", "/_control/groups", groups),
        ("POST", "/_control/groups/{id}/{action}", group_action),
        ("POST", "/_control/send", send),
        ("POST", "/_control/press", press),
        ("POST", "/_control/block", block),
        ("GET", "/_control/messages", messages),
        ("POST", "/_control/faults", faults),
        ("POST", "/_control/storm", storm),
    ]
    for verb, path, handler in routes:
        app.router.add_route(verb, path, guarded(handler))
