"""Benchmark: the scam checker over the project's labelled set (tests/data/scamcheck_*.txt).

`scamcheck_recall`: scams rated high or suspicious (target ≥ 0.9);
`scamcheck_false_positive_rate`: ordinary messages rated high (target ≤ 0.03);
`scamcheck_ms_per_msg`: CPU time of one check, averaged over many rounds (target < 5).

Run alone: `.venv/bin/python -m tests.bench_scamcheck`.
"""

from __future__ import annotations

import time

from bot.scamcheck.checker import Verdict, check
from bot.scamcheck.rules import default_rules
from tests.test_scamcheck_checker import labelled_set

ROUNDS = 20


def bench_scamcheck() -> list[tuple[str, float]]:
    rules = default_rules()
    items = labelled_set()
    scams = [i.text for i in items if i.scam]
    ordinary = [i.text for i in items if not i.scam]
    caught = sum(check(text, rules).verdict is not Verdict.NONE for text in scams)
    high = sum(check(text, rules).verdict is Verdict.HIGH for text in ordinary)
    texts = scams + ordinary
    started = time.process_time()
    for _ in range(ROUNDS):
        for text in texts:
            check(text, rules)
    ms = (time.process_time() - started) * 1000 / (ROUNDS * len(texts))
    return [("scamcheck_recall", caught / len(scams)),
            ("scamcheck_false_positive_rate", high / len(ordinary)),
            ("scamcheck_ms_per_msg", ms)]


if __name__ == "__main__":
    for name, value in bench_scamcheck():
        print(f"{name}: {value:.3f}")
