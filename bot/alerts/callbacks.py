"""Callback data of alerts, one anchored pattern per family; anything else is not ours.

- acknowledge (on every copy):   `ak:<alert id>`
- composing /alert:              `al:t:<team id>`, `al:a:<area id>`, `al:c:<chat id>`
                                 (toggle), `al:v:t|a|c` (section), `al:p:<page>`, `al:ok`,
                                 `al:s:w|e` (severity), `al:r:1|0` (ack required), `al:go`, `al:x`
- the sender's status message:   `am:who|end|endok:<alert id>`
- sensitive periods:             `sp:on:<hours>`, `sp:all:<hours>`, `sp:off:<period id>`

All fit in 64 bytes (ids have at most 12 digits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ACK_PATTERN = re.compile(r"^ak:(\d{1,12})$")
COMPOSE_PATTERN = re.compile(
    r"^al:(?:([tac]):(\d{1,12})|(ok|go|x)|s:([we])|r:([01])|v:([tac])|p:(\d{1,3}))$")
MANAGE_PATTERN = re.compile(r"^am:(who|end|endok):(\d{1,12})$")
SENSITIVE_PATTERN = re.compile(r"^sp:(?:(on|all):(\d{1,3})|off:(\d{1,12}))$")


def ack(alert_id: int) -> str:
    return f"ak:{alert_id}"


def parse_ack(data: str) -> int | None:
    match = ACK_PATTERN.match(data)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class ComposePress:
    toggle_kind: str | None = None  # "t" team, "a" area, "c" group chat
    toggle_id: int | None = None
    section: str | None = None  # show teams / areas / chats
    page: int | None = None
    action: str | None = None  # ok / go / x
    severity: str | None = None  # w / e
    ack_required: bool | None = None


def toggle(kind: str, target_id: int) -> str:
    return f"al:{kind}:{target_id}"


NEXT = "al:ok"
SEND = "al:go"
CANCEL = "al:x"


def section(kind: str) -> str:
    return f"al:v:{kind}"


def page(number: int) -> str:
    return f"al:p:{number}"


def severity(code: str) -> str:
    return f"al:s:{code}"


def ack_choice(required: bool) -> str:
    return f"al:r:{int(required)}"


def parse_compose(data: str) -> ComposePress | None:
    match = COMPOSE_PATTERN.match(data)
    if match is None:
        return None
    kind, target, action, sev, req, view, number = match.groups()
    if view is not None:
        return ComposePress(section=view)
    if number is not None:
        return ComposePress(page=int(number))
    if kind is not None:
        return ComposePress(toggle_kind=kind, toggle_id=int(target))
    if action is not None:
        return ComposePress(action=action)
    if sev is not None:
        return ComposePress(severity=sev)
    return ComposePress(ack_required=req == "1")


@dataclass(frozen=True)
class ManagePress:
    action: str  # who / end / endok
    alert_id: int


def manage(action: str, alert_id: int) -> str:
    return f"am:{action}:{alert_id}"


def parse_manage(data: str) -> ManagePress | None:
    match = MANAGE_PATTERN.match(data)
    return ManagePress(match.group(1), int(match.group(2))) if match else None


@dataclass(frozen=True)
class SensitivePress:
    action: str  # on / all / off
    value: int  # hours, or the period id for "off"


def sensitive(action: str, value: int) -> str:
    return f"sp:{action}:{value}"


def parse_sensitive(data: str) -> SensitivePress | None:
    match = SENSITIVE_PATTERN.match(data)
    if match is None:
        return None
    if match.group(1):
        return SensitivePress(match.group(1), int(match.group(2)))
    return SensitivePress("off", int(match.group(3)))
