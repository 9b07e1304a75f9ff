"""The shipped safety-tip library and the tip rotation (broadcasts.tips)."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path
from types import MappingProxyType

import pytest

from broadcasts import tips
from broadcasts.tips import (
    CATEGORIES,
    LANGUAGES,
    SEASONS,
    TipItem,
    TipLibraryError,
    load_tip_library,
    pick_next_tip,
)

MINIMUM_PER_CATEGORY = {
    "anti_fraud": 8,
    "anti_theft": 6,
    "fire_safety": 6,
    "school_safety": 3,
    "posted_ads": 3,
    "weather": 4,
}

# Characters that only exist in simplified script; none may appear in zh-TW.
SIMPLIFIED_ONLY = "诈骗电话车门区楼们这说来时为会对发还进过让请钱银关东应该经难观实现问题见书长"
# Traditional forms that the zh-TW texts, taken together, must actually use.
TRADITIONAL_MARKERS = "詐騙電話車門區樓"


@pytest.fixture(scope="module")
def library() -> list[TipItem]:
    return load_tip_library()


# --- the shipped library -------------------------------------------------------------------


def test_default_path_is_the_repository_data_file() -> None:
    assert tips.DEFAULT_LIBRARY_PATH == Path(__file__).resolve().parent.parent / "data/tips.toml"
    assert tips.DEFAULT_LIBRARY_PATH.is_file()


def test_shipped_library_loads_with_enough_items(library: list[TipItem]) -> None:
    assert len(library) >= 60
    assert len({item.id for item in library}) == len(library)


@pytest.mark.parametrize(("category", "minimum"), sorted(MINIMUM_PER_CATEGORY.items()))
def test_per_category_minimum(library: list[TipItem], category: str, minimum: int) -> None:
    assert sum(item.category == category for item in library) >= minimum


def test_every_category_is_used_and_anti_fraud_is_largest(library: list[TipItem]) -> None:
    counts = Counter(item.category for item in library)
    assert set(counts) == set(CATEGORIES)
    largest = max(count for category, count in counts.items() if category != "anti_fraud")
    assert counts["anti_fraud"] > largest


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_item_has_the_language(library: list[TipItem], language: str) -> None:
    for item in library:
        text = item.text(language)
        assert text.strip(), item.id
        assert item.texts[language] == text
        assert len(text) <= 300, f"{item.id} {language} is {len(text)} characters"
        assert "<" not in text and ">" not in text, item.id


def test_items_are_well_formed(library: list[TipItem]) -> None:
    for item in library:
        assert re.fullmatch(r"[a-z0-9-]+", item.id), item.id
        assert item.category in CATEGORIES, item.id
        assert item.seasons and set(item.seasons) <= set(SEASONS), item.id


def test_zh_tw_is_traditional_script(library: list[TipItem]) -> None:
    joined = "".join(item.text("zh-TW") for item in library)
    offenders = {
        item.id: sorted(set(item.text("zh-TW")) & set(SIMPLIFIED_ONLY))
        for item in library
        if set(item.text("zh-TW")) & set(SIMPLIFIED_ONLY)
    }
    assert offenders == {}
    assert set(TRADITIONAL_MARKERS) & set(joined)


def test_zh_cn_is_simplified_script(library: list[TipItem]) -> None:
    for item in library:
        assert not set(item.text("zh-CN")) & set(TRADITIONAL_MARKERS), item.id


def test_chinese_and_english_texts_differ(library: list[TipItem]) -> None:
    for item in library:
        assert item.text("zh-CN") != item.text("zh-TW"), item.id
        assert re.search(r"[\u4e00-\u9fff]", item.text("zh-CN")), item.id
        assert not re.search(r"[\u4e00-\u9fff]", item.text("en")), item.id


def test_module_does_not_import_the_bot() -> None:
    tree = ast.parse(Path(tips.__file__).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"bot", "telegram"}


# --- TipItem --------------------------------------------------------------------------------


def make_item(tip_id: str, category: str = "anti_fraud", seasons: tuple[str, ...] = ("any",)):
    texts = {"zh-CN": f"中文{tip_id}", "zh-TW": f"中文{tip_id}", "en": f"en {tip_id}"}
    return TipItem(tip_id, category, seasons, MappingProxyType(texts))


def test_text_falls_back() -> None:
    item = TipItem("x", "weather", ("any",), MappingProxyType({"zh-CN": "下雨", "en": "Rain"}))
    assert item.text("en") == "Rain"
    assert item.text("zh-TW") == "下雨"
    assert item.text("fr", fallback="en") == "Rain"
    with pytest.raises(KeyError):
        item.text("fr", fallback="de")


def test_items_are_immutable(library: list[TipItem]) -> None:
    item = library[0]
    with pytest.raises(AttributeError):
        item.id = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        item.texts["en"] = "changed"  # type: ignore[index]
    assert hash(item) == hash(library[0])


# --- validation -----------------------------------------------------------------------------

GOOD = """
[[tip]]
id = "{id}"
category = "{category}"
seasons = [{seasons}]
zh-CN = "请锁好门。"
zh-TW = "請鎖好門。"
en = "Lock the door."
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "tips.toml"
    path.write_text(body, encoding="utf-8")
    return path


def good(tip_id: str = "theft-door-001", category: str = "anti_theft", seasons: str = '"any"'):
    return GOOD.format(id=tip_id, category=category, seasons=seasons)


def test_small_valid_file_loads(tmp_path: Path) -> None:
    items = load_tip_library(write(tmp_path, good() + good("theft-door-002", seasons='"winter"')))
    assert [item.id for item in items] == ["theft-door-001", "theft-door-002"]
    assert items[1].seasons == ("winter",)
    assert items[0].text("zh-TW") == "請鎖好門。"


@pytest.mark.parametrize(
    ("body", "tip_id", "problem"),
    [
        pytest.param(good() + good(), "theft-door-001", "duplicate id", id="duplicate-id"),
        pytest.param(good(category="gossip"), "theft-door-001", "unknown category", id="category"),
        pytest.param(good(seasons='"monsoon"'), "theft-door-001", "unknown season", id="season"),
        pytest.param(
            good().replace('zh-TW = "請鎖好門。"\n', ""),
            "theft-door-001",
            "missing language zh-TW",
            id="missing-language",
        ),
        pytest.param(
            good().replace('en = "Lock the door."', 'en = "  "'),
            "theft-door-001",
            "empty text for language en",
            id="empty-language",
        ),
        pytest.param(
            good().replace('en = "Lock the door."', 'en = "' + "x" * 1025 + '"'),
            "theft-door-001",
            "limit is 1024",
            id="too-long",
        ),
        pytest.param(
            good().replace("Lock the door.", "<b>Lock</b> the door."),
            "theft-door-001",
            "HTML",
            id="html",
        ),
        pytest.param(
            good().replace("zh-TW", "zh-tw"), "theft-door-001", "unknown key", id="typo-key"
        ),
        pytest.param(good(tip_id="Bad Id"), None, "not of the form", id="bad-id"),
    ],
)
def test_invalid_items_are_rejected(
    tmp_path: Path, body: str, tip_id: str | None, problem: str
) -> None:
    with pytest.raises(TipLibraryError, match=problem) as caught:
        load_tip_library(write(tmp_path, body))
    assert caught.value.tip_id == tip_id
    if tip_id:
        assert tip_id in str(caught.value)


@pytest.mark.parametrize(
    ("body", "problem"),
    [("", "no \\[\\[tip\\]\\] items"), ("[[tip]\nid=", "not valid TOML")],
)
def test_broken_files_are_rejected(tmp_path: Path, body: str, problem: str) -> None:
    with pytest.raises(TipLibraryError, match=problem):
        load_tip_library(write(tmp_path, body))


def test_missing_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(TipLibraryError, match="not found"):
        load_tip_library(tmp_path / "nope.toml")


# --- rotation -------------------------------------------------------------------------------


def rotate(items, *, category, season=None) -> list[str]:
    """Drive pick_next_tip the way the scheduler does until the category is exhausted."""
    sent: set[str] = set()
    order: list[str] = []
    while item := pick_next_tip(items, category=category, already_sent=sent, season=season):
        assert item.id not in sent, "a tip was repeated within a round"
        sent.add(item.id)
        order.append(item.id)
        assert len(order) <= len(items)
    return order


@pytest.mark.parametrize("category", [*CATEGORIES, None])
@pytest.mark.parametrize("season", [None, "winter", "spring_festival", "school_term"])
def test_rotation_covers_the_category_without_repeats(
    library: list[TipItem], category: str | None, season: str | None
) -> None:
    order = rotate(library, category=category, season=season)
    expected = {item.id for item in library if category is None or item.category == category}
    assert len(order) == len(set(order))
    assert set(order) == expected
    # Exhausted: the caller starts a new round.
    assert pick_next_tip(library, category=category, already_sent=set(order), season=season) is None


def test_rotation_without_season_follows_library_order() -> None:
    items = [make_item("a"), make_item("b", "weather"), make_item("c"), make_item("d")]
    assert rotate(items, category="anti_fraud") == ["a", "c", "d"]
    assert rotate(items, category=None) == ["a", "b", "c", "d"]


def test_rotation_prefers_the_season_then_any_then_off_season() -> None:
    items = [
        make_item("summer-only", seasons=("summer",)),
        make_item("all-year"),
        make_item("winter-1", seasons=("winter",)),
        make_item("all-year-2"),
        make_item("winter-2", seasons=("winter", "spring_festival")),
    ]
    assert rotate(items, category="anti_fraud", season="winter") == [
        "winter-1",
        "winter-2",
        "all-year",
        "all-year-2",
        "summer-only",
    ]
    assert rotate(items, category="anti_fraud", season="summer")[0] == "summer-only"


def test_shipped_library_prefers_season(library: list[TipItem]) -> None:
    first = pick_next_tip(library, category="weather", already_sent=set(), season="winter")
    assert first is not None and "winter" in first.seasons
    first = pick_next_tip(library, category="anti_theft", already_sent=set(), season="summer")
    assert first is not None and "summer" in first.seasons


def test_pick_returns_none_for_empty_or_exhausted() -> None:
    items = [make_item("a"), make_item("b")]
    assert pick_next_tip([], category=None, already_sent=set()) is None
    assert pick_next_tip(items, category="weather", already_sent=set()) is None
    assert pick_next_tip(items, category="anti_fraud", already_sent={"a", "b"}) is None


def test_pick_is_pure() -> None:
    items = [make_item("a"), make_item("b")]
    sent = {"a"}
    first = pick_next_tip(items, category="anti_fraud", already_sent=sent, season="winter")
    again = pick_next_tip(items, category="anti_fraud", already_sent=sent, season="winter")
    assert first is again is items[1]
    assert sent == {"a"}


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [({"category": "gossip"}, "category"), ({"category": None, "season": "monsoon"}, "season")],
)
def test_pick_rejects_unknown_names(kwargs: dict, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        pick_next_tip([make_item("a")], already_sent=set(), **kwargs)


def test_zh_tw_tips_use_the_words_of_mainland_readers(library: list[TipItem]) -> None:
    """Traditional script for mainland readers (issue 13, item 10): 井蓋, not 人孔蓋."""
    taiwanese = ("人孔蓋", "鷹架", "延長線", "冷氣", "導師", "電鍋")
    assert [item.id for item in library
            if any(word in item.texts["zh-TW"] for word in taiwanese)] == []


def test_the_library_says_what_to_do_after_being_cheated_and_all_of_san_bu_yi_duo(
    library: list[TipItem],
) -> None:
    by_id = {item.id: item for item in library}
    cheated = by_id["fraud-after-cheated-001"].texts
    assert all("110" in cheated[lang] and "96110" in cheated[lang] for lang in cheated)
    assert "保留" in cheated["zh-CN"] and "keep" in cheated["en"]
    rules = by_id["fraud-three-nos-001"].texts["zh-CN"]
    assert all(rule in rules for rule in ("未知链接不点击", "陌生来电不轻信", "个人信息不透露",
                                          "转账汇款多核实"))
