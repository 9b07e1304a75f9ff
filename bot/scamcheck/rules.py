"""The scam signals, read from `data/scam_signals.toml` (a reviewed file, not code).

Staff can read and extend the signals without touching Python; this module turns the file
into immutable values and refuses a file that is wrong (a regex that does not compile, a
signal without its three explanations, a kind or tip that does not exist) with a message
naming the item. No Telegram, no database.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES

DEFAULT_RULES_PATH = Path(__file__).resolve().parents[2] / "data" / "scam_signals.toml"

#: Ids of the signals the code itself raises from links and numbers (their texts and
#: weights live in the file's [links.signals] and [numbers.signals]).
LINK_SIGNALS = ("shortener", "lookalike", "raw_ip", "apk", "any")
NUMBER_SIGNALS = ("overseas", "fake_official")


class RulesError(ValueError):
    """The signals file is wrong; the message names the item."""


@dataclass(frozen=True)
class Texts:
    """One short text in each language."""

    by_language: Mapping[str, str]

    def text(self, language: str) -> str:
        return self.by_language.get(language) or self.by_language[DEFAULT_LANGUAGE]


@dataclass(frozen=True)
class Kind:
    id: str
    tip: str
    name: Texts


@dataclass(frozen=True)
class Signal:
    id: str
    kind: str | None
    weight: int
    #: Words and patterns, as one compiled alternation over the normalised text.
    matcher: re.Pattern[str] | None
    negatable: bool
    explanation: Texts
    tip: str | None = None


@dataclass(frozen=True)
class Rules:
    high: int
    suspicious: int
    default_tip: str
    kinds: Mapping[str, Kind]
    signals: tuple[Signal, ...]
    #: Traditional character → simplified, applied (with lower-casing) before matching.
    script: Mapping[int, str]
    shorteners: frozenset[str]
    brands: Mapping[str, tuple[str, ...]]
    official_numbers: frozenset[str]
    #: The link and number signals by id (no words of their own).
    computed: Mapping[str, Signal]
    #: A sentence this matches calls something a scam (“凡是…都是诈骗”): it describes the
    #: scam's moves instead of making them, so no warning sign inside it counts.
    naming: re.Pattern[str] | None = None

    def signal(self, signal_id: str) -> Signal:
        for signal in self.signals:
            if signal.id == signal_id:
                return signal
        return self.computed[signal_id]

    def tip_ids(self) -> set[str]:
        tips = {kind.tip for kind in self.kinds.values()} | {self.default_tip}
        return tips | {s.tip for s in self.signals if s.tip}


def _fail(problem: str, item: str | None = None) -> RulesError:
    return RulesError(f"{item}: {problem}" if item else problem)


def _texts(raw: Mapping[str, Any], item: str) -> Texts:
    missing = [language for language in LANGUAGES if not str(raw.get(language) or "").strip()]
    if missing:
        raise _fail(f"needs a text in {', '.join(missing)}", item)
    return Texts(MappingProxyType({language: str(raw[language]).strip() for language in LANGUAGES}))


def script_table(pairs: str) -> dict[int, str]:
    """`str.translate` table: the file's traditional→simplified pairs, plus A–Z → a–z and
    full-width ASCII → ASCII. Every entry maps one character to one, so positions in the
    normalised text are positions in the original."""
    raw = "".join(pairs.split())
    if len(raw) % 2:
        raise _fail("[script] pairs must come in twos (traditional, simplified)")
    table = {ord(raw[i]): raw[i + 1] for i in range(0, len(raw), 2)}
    table.update({code: chr(code + 32) for code in range(ord("A"), ord("Z") + 1)})
    table.update({code: chr(code - 0xFEE0).lower() for code in range(0xFF01, 0xFF5F)})
    table[0x3000] = " "
    return table


def normalise(text: str, table: Mapping[int, str]) -> str:
    return text.translate(table)


def _pattern_for_normalised_text(pattern: str, table: Mapping[int, str]) -> str:
    """The pattern as the normalised text needs it: simplified, lower case — but an escape
    (`\\d`, `\\S`) is kept as written."""
    out: list[str] = []
    escaped = False
    for char in pattern:
        out.append(char if escaped else char.translate(table))
        escaped = not escaped and char == "\\"
    return "".join(out)


def _matcher(raw: Mapping[str, Any], item: str, table: Mapping[int, str]
             ) -> re.Pattern[str] | None:
    words = [normalise(str(word), table) for word in raw.get("words", [])]
    patterns = [str(p) for p in raw.get("patterns", [])]
    parts = [re.escape(word) for word in words if word]
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise _fail(f"pattern {pattern!r} does not compile: {exc}", item) from None
        parts.append(f"(?:{_pattern_for_normalised_text(pattern, table)})")
    return re.compile("|".join(parts)) if parts else None


def _computed(section: Mapping[str, Any], ids: tuple[str, ...], where: str) -> dict[str, Signal]:
    found: dict[str, Signal] = {}
    for signal_id in ids:
        raw = section.get(signal_id)
        item = f"[{where}] {signal_id}"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("weight"), int):
            raise _fail("needs a weight and three texts", item)
        found[signal_id] = Signal(signal_id, None, raw["weight"], None, False, _texts(raw, item))
    return found


def parse_rules(data: Mapping[str, Any], *, tip_ids: set[str] | None = None) -> Rules:
    """Rules from the file's parsed TOML; `tip_ids`, when given, are the tips that exist."""
    verdict = data.get("verdict", {})
    high, suspicious = verdict.get("high"), verdict.get("suspicious")
    if not (isinstance(high, int) and isinstance(suspicious, int) and 0 < suspicious <= high):
        raise _fail("[verdict] needs whole numbers 0 < suspicious <= high")
    table = script_table(str(data.get("script", {}).get("pairs", "")))
    kinds: dict[str, Kind] = {}
    for position, raw in enumerate(data.get("kind", []), start=1):
        item = f"kind #{position} ({raw.get('id', '?')})"
        kind_id = str(raw.get("id") or "")
        if not re.fullmatch(r"[a-z_]{1,24}", kind_id) or kind_id in kinds:
            raise _fail("needs a new id of a–z and _ (at most 24)", item)
        kinds[kind_id] = Kind(kind_id, str(raw.get("tip") or ""), _texts(raw, item))
    signals: list[Signal] = []
    for position, raw in enumerate(data.get("signal", []), start=1):
        signal_id = str(raw.get("id") or "")
        item = f"signal #{position} ({signal_id or '?'})"
        if not signal_id or any(s.id == signal_id for s in signals):
            raise _fail("needs a new id", item)
        kind = raw.get("kind")
        if kind is not None and kind not in kinds:
            raise _fail(f"names the unknown kind {kind!r}", item)
        weight = raw.get("weight")
        if not isinstance(weight, int) or weight == 0:
            raise _fail("needs a whole-number weight (negative for a counter-sign)", item)
        matcher = _matcher(raw, item, table)
        if matcher is None:
            raise _fail("needs words or patterns", item)
        signals.append(Signal(signal_id, kind, weight, matcher, bool(raw.get("negatable", True)),
                              _texts(raw, item), raw.get("tip")))
    naming = _matcher(data.get("warning", {}), "[warning]", table)
    links = data.get("links", {})
    numbers = data.get("numbers", {})
    computed = (_computed(links.get("signals", {}), LINK_SIGNALS, "links.signals")
                | _computed(numbers.get("signals", {}), NUMBER_SIGNALS, "numbers.signals"))
    rules = Rules(
        high=high, suspicious=suspicious, default_tip=str(verdict.get("default_tip") or ""),
        kinds=MappingProxyType(kinds), signals=tuple(signals), script=MappingProxyType(table),
        shorteners=frozenset(str(s).lower() for s in links.get("shorteners", [])),
        brands=MappingProxyType({str(brand).lower(): tuple(str(d).lower() for d in domains)
                                 for brand, domains in links.get("brands", {}).items()}),
        official_numbers=frozenset(str(n) for n in numbers.get("official", [])),
        computed=MappingProxyType(computed), naming=naming,
    )
    if tip_ids is not None:
        unknown = sorted(rules.tip_ids() - tip_ids)
        if unknown:
            raise _fail(f"tips not in the tip library: {', '.join(unknown)}")
    return rules


def load_rules(path: Path | None = None) -> Rules:
    """Read and check the signals file (and that every tip it names is in the library)."""
    from broadcasts.tips import load_tip_library

    source = path or DEFAULT_RULES_PATH
    try:
        with source.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RulesError(f"cannot read {source.name}: {exc}") from None
    return parse_rules(data, tip_ids={tip.id for tip in load_tip_library()})


@cache
def default_rules() -> Rules:
    """The shipped signals, read once."""
    return load_rules()
