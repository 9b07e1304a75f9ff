"""Benchmark: the scam checker over the project's labelled set (tests/data/scamcheck_*.txt).

`scamcheck_recall`: scams rated high or suspicious (target ≥ 0.9);
`scamcheck_false_positive_rate`: ordinary messages rated high (target ≤ 0.03);
`scamcheck_ms_per_msg`: CPU time of one check, averaged over many rounds (target < 5);
`scamcheck_heldout_recall`, `scamcheck_heldout_false_positive_rate`: the same two figures over the
held-out set (tests/data/scamcheck_heldout.txt), written without looking at the rules;
`scamcheck_heldout_ordinary_flagged_rate`: its ordinary messages rated high or suspicious (what a
resident asking about an ordinary message is told to be careful about; no target).

Run alone: `.venv/bin/python -m tests.bench_scamcheck`.
"""

from __future__ import annotations

import time

from bot.scamcheck.checker import Verdict, check
from bot.scamcheck.rules import Rules, default_rules
from tests.test_scamcheck_checker import Labelled, labelled_set
from tests.test_scamcheck_heldout import HELDOUT, heldout_set

ROUNDS = 20


def rates(items: list[Labelled], rules: Rules) -> tuple[float, float, float]:
    """Recall (scams rated high or suspicious), false positive rate (ordinary rated high) and
    ordinary messages flagged at all (high or suspicious)."""
    scams = [i.text for i in items if i.scam]
    ordinary = [check(i.text, rules).verdict for i in items if not i.scam]
    caught = sum(check(text, rules).verdict is not Verdict.NONE for text in scams)
    high = sum(verdict is Verdict.HIGH for verdict in ordinary)
    flagged = sum(verdict is not Verdict.NONE for verdict in ordinary)
    return caught / len(scams), high / len(ordinary), flagged / len(ordinary)


def bench_scamcheck() -> list[tuple[str, float]]:
    rules = default_rules()
    items = labelled_set()
    recall, false_positive_rate, _flagged = rates(items, rules)
    texts = [i.text for i in items]
    started = time.process_time()
    for _ in range(ROUNDS):
        for text in texts:
            check(text, rules)
    ms = (time.process_time() - started) * 1000 / (ROUNDS * len(texts))
    figures = [("scamcheck_recall", recall),
               ("scamcheck_false_positive_rate", false_positive_rate),
               ("scamcheck_ms_per_msg", ms)]
    if HELDOUT.exists():  # none between a held-out set joining the tuned set and a fresh one
        heldout_recall, heldout_false_positive_rate, flagged = rates(heldout_set(), rules)
        figures += [("scamcheck_heldout_recall", heldout_recall),
                    ("scamcheck_heldout_false_positive_rate", heldout_false_positive_rate),
                    ("scamcheck_heldout_ordinary_flagged_rate", flagged)]
    return figures


if __name__ == "__main__":
    for name, value in bench_scamcheck():
        print(f"{name}: {value:.3f}")
