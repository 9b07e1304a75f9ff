"""A walk over the Bot API spec: every method the fake implements answers like Telegram.

For each implemented method: a valid call returns an object that matches
api.json recursively (required fields present, known fields only, basic
types right), and leaving out any required parameter gives 400.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fake_telegram import FakeTelegram, Limits
from tests.fake_telegram.methods import METHODS
from tests.fake_telegram.objects import make_jpeg
from tests.fake_telegram.world import PendingQuery

#: Bot API 10.1 as data (PaulSonOfLars/telegram-bot-api-spec, MIT: api.json.LICENSE), kept in
#: the repository so these tests run, never skip, on a fresh clone.
SPEC_PATH = Path(__file__).parent / "fake_telegram" / "api.json"
SPEC: dict[str, Any] = json.loads(SPEC_PATH.read_text())
SPEC_NAMES = {name.lower(): name for name in SPEC["methods"]}
#: Telegram itself accepts these without the "required" parameter.
REALLY_OPTIONAL = {("setwebhook", "url")}  # an empty url removes the webhook


# -- the checker ---------------------------------------------------------------------------------
def check(value: Any, alternatives: list[str], path: str) -> list[str]:
    """Errors of ``value`` against any of the spec's type alternatives (empty = fine)."""
    best: list[str] | None = None
    for alt in alternatives:
        errors = check_one(value, alt, path)
        if not errors:
            return []
        if best is None or len(errors) < len(best):
            best = errors
    return best or [f"{path}: no type alternatives"]


def check_one(value: Any, type_name: str, path: str) -> list[str]:
    """Errors of ``value`` against one spec type expression."""
    if type_name.startswith("Array of "):
        if not isinstance(value, list):
            return [f"{path}: expected an array, got {type(value).__name__}"]
        inner = type_name.removeprefix("Array of ")
        return [e for i, item in enumerate(value) for e in check_one(item, inner, f"{path}[{i}]")]
    scalar = {
        "Integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "Float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "String": lambda v: isinstance(v, str),
        "Boolean": lambda v: isinstance(v, bool),
        "True": lambda v: v is True,
    }
    if type_name in scalar:
        return [] if scalar[type_name](value) else [f"{path}: {value!r} is not {type_name}"]
    spec_type = SPEC["types"].get(type_name)
    if spec_type is None:
        return [f"{path}: unknown spec type {type_name}"]
    if spec_type.get("subtypes"):
        return check(value, spec_type["subtypes"], path)
    if not isinstance(value, dict):
        return [f"{path}: expected {type_name} object, got {type(value).__name__}"]
    fields = {f["name"]: f for f in spec_type.get("fields", [])}
    errors = [
        f"{path}.{name}: required by {type_name} but missing"
        for name, f in fields.items()
        if f["required"] and name not in value
    ]
    for key, item in value.items():
        if key not in fields:
            errors.append(f"{path}.{key}: not a field of {type_name}")
        else:
            errors.extend(check(item, fields[key]["types"], f"{path}.{key}"))
    return errors


# -- a world in which every method has something to act on ----------------------------------------
@pytest.fixture(scope="module")
async def spec_server() -> AsyncIterator[FakeTelegram]:
    """Its own fake (other modules' fakes may be running too)."""
    fake = FakeTelegram(limits=Limits(enforce=False))
    await fake.start()
    yield fake
    await fake.stop()


def valid_calls(fake: FakeTelegram) -> dict[str, dict[str, Any]]:
    """Fresh, valid parameters for every implemented method."""
    fake.reset(Limits(enforce=False))
    alice = fake.add_user("Alice", username="alice")
    alice.started = True
    bob = fake.add_user("Bob")
    private = fake.chats[alice.id]
    group = fake.add_group("巡逻一队", [alice, bob], supergroup=True)
    group.bot_status = "administrator"
    group.bot_rights = {"can_pin_messages": True, "can_delete_messages": True}
    other = fake.add_group("二队", [alice])
    other.bot_status = "member"
    kb = {"inline_keyboard": [[{"text": "认领", "callback_data": "claim:1"}]]}
    photo = fake.store_photo(make_jpeg())
    doc = fake.store_document(b"hello", "a.txt", "text/plain")
    voice = fake.store_file(b"OggS" + bytes(64), "voice", "oga", "audio/ogg")
    text_msg = fake.record_bot_message(private, text="hello", reply_markup=kb)
    photo_msg = fake.record_bot_message(private, photo=photo, caption="old")
    group_msg = fake.record_bot_message(group, text="pin me")
    group_msg.pinned = True
    user_msg = fake.record_user_message(alice, private, text="/start")
    fake.enqueue("message", user_msg.to_json())
    fake.enqueue("callback_query", {
        "id": "1", "from": alice.to_json(), "message": text_msg.to_json(),
        "chat_instance": fake.chat_instance(alice.id), "data": "claim:1",
    })
    fake.set_bot_status(other, alice, "member")
    fake.pending_queries["77"] = PendingQuery("77", alice.id)
    chat = {"chat_id": alice.id}
    return {
        "getme": {},
        "logout": {},
        "close": {},
        "sendmessage": {**chat, "text": "<b>hi</b>", "parse_mode": "HTML", "reply_markup": kb,
                        "reply_parameters": {"message_id": user_msg.message_id}},
        "sendphoto": {**chat, "photo": photo[-1]["file_id"], "caption": "c"},
        "senddocument": {**chat, "document": doc["file_id"]},
        "sendvoice": {**chat, "voice": voice.file_id, "caption": "c", "duration": 3},
        "sendlocation": {**chat, "latitude": 31.23, "longitude": 121.47},
        "sendmediagroup": {**chat, "media": [
            {"type": "photo", "media": photo[-1]["file_id"], "caption": "x"},
            {"type": "photo", "media": photo[0]["file_id"]},
        ]},
        "copymessage": {**chat, "from_chat_id": alice.id, "message_id": text_msg.message_id},
        "forwardmessage": {**chat, "from_chat_id": alice.id, "message_id": user_msg.message_id},
        "sendchataction": {**chat, "action": "typing"},
        "editmessagetext": {**chat, "message_id": text_msg.message_id, "text": "edited"},
        "editmessagecaption": {**chat, "message_id": photo_msg.message_id, "caption": "new"},
        "editmessagereplymarkup": {**chat, "message_id": text_msg.message_id},
        "deletemessage": {**chat, "message_id": photo_msg.message_id},
        "answercallbackquery": {"callback_query_id": "77", "text": "ok"},
        "pinchatmessage": {"chat_id": group.id, "message_id": group_msg.message_id},
        "unpinchatmessage": {"chat_id": group.id},
        "unpinallchatmessages": {"chat_id": group.id},
        "getfile": {"file_id": doc["file_id"]},
        "setmycommands": {"commands": [{"command": "start", "description": "开始"}],
                          "scope": {"type": "chat", "chat_id": alice.id}},
        "getmycommands": {},
        "deletemycommands": {"language_code": "zh"},
        "setchatmenubutton": {**chat, "menu_button": {"type": "commands"}},
        "getchatmenubutton": chat,
        "setwebhook": {"url": "https://example.org/hook", "secret_token": "abc"},
        "deletewebhook": {"drop_pending_updates": False},
        "getwebhookinfo": {},
        "getupdates": {"timeout": 0},
        "getchat": {"chat_id": group.id},
        "getchatmember": {"chat_id": group.id, "user_id": alice.id},
        "getchatadministrators": {"chat_id": group.id},
        "getchatmembercount": {"chat_id": group.id},
        "leavechat": {"chat_id": other.id},
    }


async def call(fake: FakeTelegram, method: str, params: dict[str, Any]) -> httpx.Response:
    """One JSON-body call, as Telegram also accepts them."""
    async with httpx.AsyncClient() as client:
        return await client.post(f"{fake.base_url}{fake.token}/{method}", json=params)


IMPLEMENTED = sorted({*METHODS, "getupdates"})


def test_every_implemented_method_is_in_the_spec() -> None:
    assert [m for m in IMPLEMENTED if m not in SPEC_NAMES] == []


@pytest.mark.parametrize("method", IMPLEMENTED)
async def test_valid_call_matches_spec(spec_server: FakeTelegram, method: str) -> None:
    params = valid_calls(spec_server)[method]
    response = await call(spec_server, SPEC_NAMES[method], params)
    body = response.json()
    assert response.status_code == 200, body
    assert body["ok"] is True and set(body) == {"ok", "result"}
    returns = SPEC["methods"][SPEC_NAMES[method]]["returns"]
    assert check(body["result"], returns, method) == []
    if method == "getupdates":
        assert {k for u in body["result"] for k in u} >= {"message", "callback_query",
                                                          "my_chat_member"}


REQUIRED_CASES = [
    (m, f["name"])
    for m in IMPLEMENTED
    for f in SPEC["methods"][SPEC_NAMES[m]].get("fields", [])
    if f["required"] and (m, f["name"]) not in REALLY_OPTIONAL
]


@pytest.mark.parametrize(("method", "param"), REQUIRED_CASES)
async def test_missing_required_param_is_400(
    spec_server: FakeTelegram, method: str, param: str
) -> None:
    params = valid_calls(spec_server)[method]
    params.pop(param, None)
    response = await call(spec_server, SPEC_NAMES[method], params)
    body = response.json()
    assert response.status_code == 400, body
    assert body["ok"] is False and body["error_code"] == 400
    assert body["description"].startswith("Bad Request: ")


async def test_multipart_and_form_bodies(spec_server: FakeTelegram) -> None:
    calls = valid_calls(spec_server)
    chat_id = calls["sendmessage"]["chat_id"]
    url = f"{spec_server.base_url}{spec_server.token}"
    async with httpx.AsyncClient() as client:
        r = await client.post(f"{url}/sendPhoto", data={"chat_id": str(chat_id)},
                              files={"photo": ("p.jpg", make_jpeg(), "image/jpeg")})
        assert r.status_code == 200 and check(r.json()["result"], ["Message"], "m") == []
        r = await client.post(f"{url}/sendMessage", data={
            "chat_id": str(chat_id), "text": "form",
            "reply_markup": json.dumps({"inline_keyboard": [[{"text": "a", "url": "https://x.org"}]]}),
        })
        assert r.status_code == 200 and r.json()["result"]["reply_markup"]["inline_keyboard"]
        r = await client.get(f"{url}/getMe")
        assert r.status_code == 200
