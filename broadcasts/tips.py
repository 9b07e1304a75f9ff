"""The safety-tip library (温馨提示): loading, validating and rotating the shipped tips.

Committees push short warm reminders to residents (anti-fraud, anti-theft, fire
safety, …) on a schedule and more often in sensitive periods. The texts live in
``data/tips.toml`` so that wording can be reviewed and extended without touching
code; this module turns that file into immutable :class:`TipItem` values and
decides which tip a chat gets next.

It deliberately depends on nothing but the standard library (``tomllib``) and
never imports ``bot`` or ``telegram``: the broadcast engine, the scheduler, the
CLI and the tests can all use it without a bot running.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

__all__ = [
    "CATEGORIES",
    "DEFAULT_LANGUAGE",
    "DEFAULT_LIBRARY_PATH",
    "LANGUAGES",
    "MAX_TEXT_LENGTH",
    "SEASONS",
    "TipItem",
    "TipLibraryError",
    "load_tip_library",
    "pick_next_tip",
]

#: Languages every tip must carry (same codes as the bot's i18n layer).
LANGUAGES: tuple[str, ...] = ("zh-CN", "zh-TW", "en")
DEFAULT_LANGUAGE = "zh-CN"

#: Tip categories, in the order a committee usually thinks of them.
CATEGORIES: tuple[str, ...] = (
    "anti_fraud",  # 防诈骗
    "anti_theft",  # 防盗窃
    "fire_safety",  # 消防安全
    "school_safety",  # 护校
    "posted_ads",  # 除“牛皮癣”小广告
    "weather",  # 天气
    "community",  # 平安社区: reporting, mediation, 110/119/120
)

#: Season tags. ``any`` means "fits every time of year"; the others name a
#: calendar season or one of the sensitive periods (敏感时期) when committees
#: step up their reminders.
SEASONS: tuple[str, ...] = (
    "any",
    "spring",
    "summer",
    "autumn",
    "winter",
    "spring_festival",
    "two_sessions",
    "national_day",
    "school_term",
    "holiday",
)

#: A tip may be sent as a photo caption, and Telegram cuts captions at 1024 characters.
MAX_TEXT_LENGTH = 1024

#: ``data/tips.toml`` at the repository root, found relative to this package so it
#: works from any working directory (editable install or a plain checkout).
DEFAULT_LIBRARY_PATH = Path(__file__).resolve().parent.parent / "data" / "tips.toml"

_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Texts are sent as plain text or inside an HTML caption built by the caller;
# markup in the library itself would either show up literally or break parsing.
_HTML_TAG_RE = re.compile(r"<\s*/?\s*[A-Za-z!][^>]*>")
_KNOWN_KEYS = frozenset({"id", "category", "seasons", *LANGUAGES})


class TipLibraryError(ValueError):
    """The tip library file is unreadable or an item in it is invalid.

    The message names the offending item id (or its position when it has no
    usable id) and the problem, so whoever edits the TOML can fix it at once.
    """

    def __init__(self, message: str, *, tip_id: str | None = None) -> None:
        super().__init__(message)
        self.tip_id = tip_id


@dataclass(frozen=True, slots=True)
class TipItem:
    """One safety tip in every supported language.

    Frozen (and ``texts`` is a read-only mapping) because the loaded library is
    shared by every chat and job; nobody should be able to edit a tip in place.
    """

    id: str
    category: str
    seasons: tuple[str, ...]
    texts: Mapping[str, str] = field(hash=False)

    def text(self, language: str, fallback: str = DEFAULT_LANGUAGE) -> str:
        """The tip in ``language``, or in ``fallback`` when that language is missing.

        The shipped library always has all three languages; the fallback is for
        hand-built items and for a caller that passes an unsupported code.
        Raises ``KeyError`` only if neither language is present.
        """
        value = self.texts.get(language)
        if value:
            return value
        value = self.texts.get(fallback)
        if value:
            return value
        raise KeyError(f"tip {self.id!r} has no text in {language!r} or {fallback!r}")

    def fits_season(self, season: str | None) -> bool:
        """True when the tip is tagged ``any`` or with ``season`` (always true for None)."""
        return season is None or "any" in self.seasons or season in self.seasons


def load_tip_library(path: Path | None = None) -> list[TipItem]:
    """Read and validate the tip library; return the items in file order.

    File order matters: it is the rotation order used by :func:`pick_next_tip`,
    so editors control what goes out first simply by ordering the file.

    Everything is checked up front (at start-up or in CI) rather than when a
    broadcast is due, because a broken tip discovered at 8 a.m. on a Monday
    means residents get nothing. Raises :class:`TipLibraryError` naming the item
    and the problem: duplicate or malformed id, unknown category or season,
    a missing/empty language, a text over :data:`MAX_TEXT_LENGTH`, HTML markup,
    or an unknown key (usually a typo such as ``zh-tw``).
    """
    path = DEFAULT_LIBRARY_PATH if path is None else Path(path)
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise TipLibraryError(f"tip library not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise TipLibraryError(f"tip library {path} is not valid TOML: {exc}") from exc

    raw_items = document.get("tip")
    if not isinstance(raw_items, list) or not raw_items:
        raise TipLibraryError(f"tip library {path} has no [[tip]] items")

    items: list[TipItem] = []
    seen: set[str] = set()
    for position, raw in enumerate(raw_items, start=1):
        item = _parse_item(raw, position)
        if item.id in seen:
            raise TipLibraryError(f"tip {item.id!r}: duplicate id", tip_id=item.id)
        seen.add(item.id)
        items.append(item)
    return items


def _parse_item(raw: object, position: int) -> TipItem:
    """Validate one ``[[tip]]`` table and build its :class:`TipItem`."""
    if not isinstance(raw, dict):
        raise TipLibraryError(f"tip #{position}: expected a table")
    tip_id = raw.get("id")
    if not isinstance(tip_id, str) or not _ID_RE.fullmatch(tip_id):
        raise TipLibraryError(
            f"tip #{position}: id {tip_id!r} is missing or not of the form [a-z0-9-]"
        )

    def fail(problem: str) -> TipLibraryError:
        return TipLibraryError(f"tip {tip_id!r}: {problem}", tip_id=tip_id)

    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        raise fail(f"unknown key(s) {', '.join(unknown)}")

    category = raw.get("category")
    if category not in CATEGORIES:
        raise fail(f"unknown category {category!r} (expected one of {', '.join(CATEGORIES)})")

    seasons = raw.get("seasons", ["any"])
    if not isinstance(seasons, list) or not seasons:
        raise fail("seasons must be a non-empty list")
    for season in seasons:
        if season not in SEASONS:
            raise fail(f"unknown season {season!r} (expected one of {', '.join(SEASONS)})")
    if len(set(seasons)) != len(seasons):
        raise fail("seasons repeat a tag")

    texts: dict[str, str] = {}
    for language in LANGUAGES:
        value = raw.get(language)
        if value is None:
            raise fail(f"missing language {language}")
        if not isinstance(value, str) or not value.strip():
            raise fail(f"empty text for language {language}")
        value = value.strip()
        if len(value) > MAX_TEXT_LENGTH:
            raise fail(
                f"{language} text is {len(value)} characters; the limit is {MAX_TEXT_LENGTH} "
                "so a tip fits a photo caption"
            )
        if _HTML_TAG_RE.search(value):
            raise fail(f"{language} text contains HTML markup; tips are plain text")
        texts[language] = value

    return TipItem(
        id=tip_id,
        category=category,
        seasons=tuple(seasons),
        texts=MappingProxyType(texts),
    )


def pick_next_tip(
    items: Sequence[TipItem] | Iterable[TipItem],
    *,
    category: str | None,
    already_sent: set[str],
    season: str | None = None,
) -> TipItem | None:
    """The next tip to send to a chat, or None when the category is exhausted.

    A pure function of its arguments (no clock, no randomness, no state) so the
    caller owns "what has this chat had" — typically the ids recorded in the
    database — and the choice is reproducible in tests and in a restarted bot.

    Candidates are the items of ``category`` (every category when None) whose id
    is not in ``already_sent``. Among them, in library order:

    1. items tagged with ``season`` itself go first, so a Spring Festival
       pickpocket warning goes out during the festival rather than after a
       dozen year-round tips;
    2. then items tagged ``any``;
    3. then off-season items, last. They are not dropped: they are still part of
       the round, so "exhausted" always means every item in the category has
       been sent, and a category whose only unsent tips are off-season does not
       look empty forever.

    With ``season=None`` there is no preference: plain library order.

    Returns None when nothing is left; the caller then starts a new round by
    clearing its record of sent ids for that category. Raises ``ValueError`` for
    an unknown category or season, because a typo there would otherwise look
    like an exhausted category and silently restart the rotation.
    """
    if category is not None and category not in CATEGORIES:
        raise ValueError(f"unknown tip category {category!r}")
    if season is not None and season not in SEASONS:
        raise ValueError(f"unknown season {season!r}")

    candidates = [
        item
        for item in items
        if (category is None or item.category == category) and item.id not in already_sent
    ]
    if not candidates:
        return None
    if season is None or season == "any":
        return candidates[0]

    def rank(item: TipItem) -> int:
        if season in item.seasons:
            return 0
        if "any" in item.seasons:
            return 1
        return 2

    # min() keeps the first of equal ranks, i.e. library order within a tier.
    return min(candidates, key=rank)
