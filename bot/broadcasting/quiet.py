"""/quiethours: show or set a community's quiet hours.

Staff act on their own community; anyone may name one (`/quiethours 龙江路社区 22:00-07:00`),
which is how an administrator, who has no community of their own, sets them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from telegram import Update

from bot.auth import Permission, can
from bot.broadcasting.common import refusal
from bot.broadcasting.service import (
    QuietHours,
    community_of,
    get_quiet_hours,
    set_quiet_hours,
)
from bot.context import BotContext
from bot.db import transaction
from bot.directory.models import Area, AreaKind
from bot.directory.roster import _chinese_number
from bot.i18n import Translate

# -- parsing ----------------------------------------------------------------------------------

# A time as staff write it: 22:00, 22：00, 22.00, 22点, 22点半, 晚上十点, 早上7点30分.
_CN_DIGITS = "零〇一二两兩三四五六七八九十"
_PART_OF_DAY = "早上|上午|凌晨|清晨|早晨|中午|下午|傍晚|晚上|夜里|夜裡|夜间|夜間|晚间|晚間"
_NUMBER = rf"\d{{1,2}}|[{_CN_DIGITS}]{{1,3}}"
TIME = (rf"(?:{_PART_OF_DAY})?\s*(?:{_NUMBER})\s*(?:[:：.]\s*\d{{2}}"
        rf"|[点點时時](?:\s*(?:半|(?:{_NUMBER})\s*分?))?)")
_TIME_PARTS = re.compile(rf"^({_PART_OF_DAY})?\s*({_NUMBER})\s*(?:[:：.]\s*(\d{{2}})"
                         rf"|[点點时時]\s*(半|{_NUMBER})?\s*分?)$")
HOURS = rf"({TIME})\s*[-–—~～到至]\s*({TIME})"
QUIET_PATTERN = re.compile(rf"^{HOURS}$")
NAMED_PATTERN = re.compile(rf"^(.*?)\s*{HOURS}$")
#: Text that is surely meant as hours (a digit, 点, 晚上…): never taken for a community's name.
LOOKS_LIKE_HOURS = re.compile(rf"\d|[点點:：]|{_PART_OF_DAY}")
_AFTERNOON = frozenset({"中午", "下午", "傍晚", "晚上", "夜里", "夜裡", "夜间", "夜間", "晚间",
                        "晚間"})
# What the messages teach (bot/locales/README.md: 默认 / 預設, 关闭 / 關閉), and near forms.
DEFAULT_WORDS = {"default", "默认", "默認", "預設", "预设"}
OFF_WORDS = {"off", "关闭", "關閉"}
QUOTES = "\"'“”‘’「」『』"
NAMES_SHOWN = 10


def _number(text: str) -> int:
    return int(text) if text.isdigit() else int(_chinese_number(text))


def _time_of(text: str) -> time | None:
    """22:00 → 22:00, 晚上十点 → 22:00, 凌晨12点 → 0:00; None if it is no time of day."""
    match = _TIME_PARTS.match(text.strip())
    if match is None:
        return None
    part, hour_text, minute_digits, minute_text = match.groups()
    hour = _number(hour_text)
    minute = (int(minute_digits) if minute_digits else 30 if minute_text == "半"
              else _number(minute_text) if minute_text else 0)
    if part in _AFTERNOON and hour < 12:
        hour += 12
    elif part in ("凌晨", "早上", "上午", "清晨", "早晨") and hour == 12:
        hour = 0
    if hour == 24:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def parse_quiet_hours(text: str) -> QuietHours | None:
    match = QUIET_PATTERN.match(text.strip())
    if match is None:
        return None
    return _hours(*match.groups())


def _hours(start_text: str, end_text: str) -> QuietHours | None:
    start, end = _time_of(start_text), _time_of(end_text)
    if start is None or end is None:
        return None
    return QuietHours(start, end)


@dataclass(frozen=True)
class QuietRequest:
    """What `/quiethours …` asks: which community (`name`, "" = my own) and what to do."""

    name: str = ""
    change: bool = False  # False: only show
    quiet: QuietHours | None = None  # with change: None = back to the default
    bad_hours: bool = False  # hours were written, but not as we read them


def parse_request(argument: str) -> QuietRequest:
    """`[community] [22:00-07:00 | default | off]`; a bare text is a name (or a typo)."""
    text = " ".join(argument.split())
    if not text:
        return QuietRequest()
    head, _, last = text.rpartition(" ")
    last = last.strip(QUOTES)  # the messages show the words in quotes: 「預設」
    if last.lower() in DEFAULT_WORDS:
        return QuietRequest(name=head, change=True, quiet=None)
    if last.lower() in OFF_WORDS:
        return QuietRequest(name=head, change=True, quiet=QuietHours(time(0, 0), time(0, 0)))
    match = NAMED_PATTERN.match(text)
    if match is not None:
        name, start_text, end_text = match.groups()
        quiet = _hours(start_text, end_text)
        return QuietRequest(name=name, change=True, quiet=quiet, bad_hours=quiet is None)
    return QuietRequest(name=text)


# -- lookups (no Telegram here) ---------------------------------------------------------------

async def find_communities(session: AsyncSession, *, name: str) -> list[Area]:
    """Communities called `name` (any case), or `office/community` to tell two apart."""
    office_name, _, community_name = name.replace("／", "/").rpartition("/")
    community_name = " ".join(community_name.split())
    office = aliased(Area)
    query = (select(Area).join(office, office.id == Area.parent_id, isouter=True)
             .where(Area.kind == AreaKind.COMMUNITY, Area.archived.is_(False),
                    func.lower(Area.name) == community_name.lower())
             .order_by(Area.id))
    if office_name.strip():
        query = query.where(func.lower(office.name) == " ".join(office_name.split()).lower())
    return list(await session.scalars(query))


async def community_names(session: AsyncSession, *, limit: int) -> tuple[list[str], int]:
    """The first community names (by name) and how many communities there are."""
    condition = (Area.kind == AreaKind.COMMUNITY) & Area.archived.is_(False)
    total = await session.scalar(select(func.count()).select_from(Area).where(condition)) or 0
    names = await session.scalars(select(Area.name).where(condition)
                                  .order_by(Area.name, Area.id).limit(limit))
    return list(names), total


async def office_labels(session: AsyncSession, *, communities: list[Area]) -> list[str]:
    """`平桥办事处/龙江路社区` for each, to tell communities of the same name apart."""
    parent_ids = {c.parent_id for c in communities if c.parent_id is not None}
    offices = dict((await session.execute(
        select(Area.id, Area.name).where(Area.id.in_(parent_ids)))).all()) if parent_ids else {}
    return [f"{offices[c.parent_id]}/{c.name}" if c.parent_id in offices else c.name
            for c in communities]


async def _communities_hint(session: AsyncSession, _: Translate) -> str:
    """The first few community names, one a line, to pick from."""
    names, total = await community_names(session, limit=NAMES_SHOWN)
    if not names:
        return ""
    more = "\n…" if total > len(names) else ""
    return "\n" + _("Communities:") + "".join(f"\n· {name}" for name in names) + more


# -- /quiethours ------------------------------------------------------------------------------

async def quiet_hours_command(update: Update, context: BotContext) -> None:
    """/quiethours [community] — show; … 22:00-07:00 — set; … default|off."""
    message = update.effective_message
    if message is None:
        return
    _ = context._
    actor = context.actor
    if not can(actor, Permission.BROADCAST):
        await message.reply_text(refusal(_))
        return
    assert actor is not None
    request = parse_request(" ".join(context.args or []))
    example = _("/quiethours Longjiang Road Community 22:00-07:00")
    async with transaction(context.services.session_factory) as session:
        own = await community_of(session, area_path=actor.area_path)
        matches = await find_communities(session, name=request.name) if request.name else []
        if request.name and not matches:
            if not request.change and LOOKS_LIKE_HOURS.search(request.name):
                # Hours we could not read are no community's name: say how to write them.
                await message.reply_text(
                    _("Please write it like this: /quiethours 21:30-07:30 (or “default” or "
                      "“off”).") if own is not None
                    else _("Write it like this: {example}").format(example=example))
                return
            text = _("I can’t find a community called “{name}”.").format(name=request.name)
            text += await _communities_hint(session, _)
            text += "\n" + _("Write it like this: {example}").format(example=example)
            await message.reply_text(text)
            return
        if len(matches) > 1:
            labels = await office_labels(session, communities=matches)
            await message.reply_text(
                _("Several communities are called “{name}”. Please add the street office, "
                  "like this: /quiethours {office_and_name} 22:00-07:00").format(
                    name=request.name, office_and_name=labels[0])
                + "".join(f"\n· {label}" for label in labels))
            return
        community = matches[0] if matches else own
        if community is None:
            if actor.is_admin:
                text = _("Which community? Please name it: {example}").format(example=example)
                await message.reply_text(text + await _communities_hint(session, _))
            else:
                await message.reply_text(_("Quiet hours belong to a community; your account "
                                           "is not linked to one."))
            return
        if not can(actor, Permission.BROADCAST, area_path=community.path):
            await message.reply_text(_("Sorry, you can only look after the quiet hours of "
                                       "your own community."))
            return
        if request.bad_hours:
            await message.reply_text(_("Please write it like this: /quiethours "
                                       "21:30-07:30 (or “default” or “off”)."))
            return
        if request.change:
            current = await set_quiet_hours(session, community_id=community.id,
                                            quiet=request.quiet, actor_id=actor.person_id)
        else:
            current = await get_quiet_hours(session, community_id=community.id)
    if current.off:
        status = _("{community} has no quiet hours: messages go out at any time.").format(
            community=community.name)
    else:
        status = _("Quiet hours in {community}: {hours}. Tips and notices sent then wait "
                   "until the morning; emergency alerts always go at once.").format(
            community=community.name, hours=current.label())
    if not request.change:
        if request.name:
            status += "\n" + _("To change: /quiethours {community} 22:00-07:00, or “default”, "
                               "or “off”.").format(community=community.name)
        else:
            status += "\n" + _("To change: /quiethours 22:00-07:00, or “default”, or “off”.")
    await message.reply_text(status)
