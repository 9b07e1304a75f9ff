"""The scam checker's held-out set (tests/data/scamcheck_heldout.txt): messages written without
looking at the rules or the tuned set, so that tests/bench_scamcheck.py can give a fair recall. Only
its shape is checked here; its recall is a figure of the benchmark, not a test, since tuning the
rules to pass it would spoil the measure."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.scamcheck.rules import default_rules
from tests.test_scamcheck_checker import DATA, Labelled, labelled_set

HELDOUT = DATA / "scamcheck_heldout.txt"
KINDS = {"brushing", "investment", "loan", "fake_service", "fake_police", "credit_record",
         "impersonation", "game_trade", "romance", "fake_shopping", "medical_card", "pension",
         "health_products", "prize"}
LANGUAGES = {"zh-CN", "zh-TW", "en"}

#: Between a held-out set serving for tuning (it then joins the tuned set) and a fresh one.
pytestmark = pytest.mark.skipif(not HELDOUT.exists(), reason="no held-out set at the moment")


def heldout_set() -> list[Labelled]:
    """Lines `scam|<kind>|<language>|<text>` and `ordinary|-|<language>|<text>`; a malformed line
    raises, so a slip in the file cannot silently shrink the measure."""
    items: list[Labelled] = []
    for number, line in enumerate(HELDOUT.read_text(encoding="utf-8").splitlines(), start=1):
        if not line or line.startswith("#"):
            continue
        fields = line.split("|")
        if len(fields) != 4:
            raise ValueError(f"{HELDOUT.name}:{number}: expected 4 fields, got {len(fields)}")
        label, kind, language, text = fields
        scam = label == "scam"
        if label not in ("scam", "ordinary") or (kind == "-") == scam or language not in LANGUAGES \
                or not text.strip():
            raise ValueError(f"{HELDOUT.name}:{number}: malformed line")
        items.append(Labelled(text, language, scam, kind if scam else None))
    return items


def test_the_heldout_set_covers_every_kind_in_three_languages() -> None:
    items = heldout_set()
    scams = [i for i in items if i.scam]
    ordinary = [i for i in items if not i.scam]
    assert len(scams) >= 80 and len(ordinary) >= 80
    assert {i.kind for i in scams} == KINDS
    assert KINDS <= set(default_rules().kinds)
    assert min(Counter(i.kind for i in scams).values()) >= 3
    for group in (scams, ordinary):
        assert set(Counter(i.language for i in group)) == LANGUAGES


def test_the_heldout_set_has_no_duplicates_and_nothing_from_the_tuned_set() -> None:
    texts = [i.text for i in heldout_set()]
    assert len(set(texts)) == len(texts)
    assert not set(texts) & {i.text for i in labelled_set()}
