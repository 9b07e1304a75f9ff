"""`python -m bot scamcheck`: JSON lines in, one verdict per line out.

For staff reviewing `data/scam_signals.toml` and for anyone checking the checker: each input
line is `{"text": …}`; each output line has `verdict` (high / suspicious / none), `kind` and
`signals` (plus the score, links, phone numbers and amounts read). A line that is not such an
object gets `{"error": …}` with its line number, and the rest still runs.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from bot.scamcheck.checker import CheckResult, check
from bot.scamcheck.rules import Rules, RulesError, default_rules


def as_json(result: CheckResult) -> dict[str, Any]:
    return {"verdict": result.verdict.value, "kind": result.kind,
            "signals": [finding.signal for finding in result.findings],
            "score": result.score, "links": list(result.links), "phones": list(result.phones),
            "amounts": list(result.amounts)}


def run(stdin: TextIO, stdout: TextIO, rules: Rules | None = None) -> int:
    """0 when every line was checked, 1 when some line was not understood."""
    rules = rules or default_rules()
    status = 0
    for number, line in enumerate(stdin, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            text = item["text"] if isinstance(item, dict) else None
            if not isinstance(text, str):
                raise ValueError
        except (ValueError, KeyError):
            answer: dict[str, Any] = {"error": f'line {number}: expected {{"text": "..."}}'}
            status = 1
        else:
            answer = as_json(check(text, rules))
        stdout.write(json.dumps(answer, ensure_ascii=False) + "\n")
    return status


def main() -> int:
    try:
        rules = default_rules()
    except RulesError as exc:
        print(f"scam_signals.toml: {exc}", file=sys.stderr)
        return 2
    return run(sys.stdin, sys.stdout, rules)
