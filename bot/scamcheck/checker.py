"""The scam check itself: a pure function from a message's text to a verdict.

No Telegram, no database, no network: the same call serves the bot, the command line and
the labelled-set tests. The signals come from `data/scam_signals.toml` (see `rules.py`);
links, phone numbers and amounts are read here and judged against the file's lists.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from bisect import bisect_right
from dataclasses import dataclass

from bot.scamcheck.rules import Rules, Signal, default_rules, normalise

#: Longer texts are read up to here (a Telegram message holds 4,096 characters).
MAX_TEXT = 8000
#: A counter-sign counts once per different phrase found, up to this many times.
MAX_COUNTER_PHRASES = 3
#: The fewest digits read as a number after a "+" ("+95588" imitates an official number).
MIN_INTERNATIONAL_DIGITS = 5


class Verdict(enum.StrEnum):
    HIGH = "high"  # 高风险
    SUSPICIOUS = "suspicious"  # 可疑
    NONE = "none"  # 未发现明显风险


@dataclass(frozen=True)
class Finding:
    """One signal found, with the words of the message that raised it."""

    signal: str
    weight: int
    kind: str | None
    evidence: str


@dataclass(frozen=True)
class CheckResult:
    verdict: Verdict
    score: int
    #: The kind of scam it most looks like (None when nothing points to one).
    kind: str | None
    findings: tuple[Finding, ...]
    #: The library tip to offer: the kind's, else the deciding signal's, else the default.
    tip: str
    links: tuple[str, ...]
    phones: tuple[str, ...]
    amounts: tuple[str, ...]

    @property
    def warnings(self) -> tuple[Finding, ...]:
        """The findings that raised the score, strongest first (what the answer lists)."""
        return tuple(sorted((f for f in self.findings if f.weight > 0),
                            key=lambda f: -f.weight))


# -- reading the text -----------------------------------------------------------------------
#: Chat-style text puts a space between clauses where punctuation would go (“靠谱不 群里说”).
_CLAUSE_BREAK = re.compile(r"[。！？；;!?\n，,：:]|\.(?:\s|$)"
                           r"|(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
_NEGATION = re.compile(r"不|勿|(?<![特识区告类级个分差])别|莫|没有|从未|拒绝|严禁"
                       r"|\bnever\b|\bnot\b|n't\b|\bno one\b")
_NEGATION_WINDOW = 40
#: After “不”: a complement of the verb before it (抢不到, 来不及, 对不起, 忍不住).
_COMPLEMENT = re.compile(r"到|了(?!解)|起|住|及|完|过来")
#: After “不”: “然”, or a verb then “就”/“的话”: the “if not … then” of a threat (不弄就停卡).
_CONDITION = re.compile(r"然|[^，。,.！？!?\s]{1,4}?(?:就|的话)")
_SENTENCE_BREAK = re.compile(r"[。！？；;!?\n]|\.(?:\s|$)")

_STOP = r"\s<>\"'，。！？、）)】」』;；"
_TLDS = ("com|cn|net|org|top|xyz|vip|cc|info|me|io|co|ly|gd|gl|im|gg|id|at|nu|shop|site|"
         "online|club|link|app|icu|work|live|pro|biz|tk|ml|ga|cf|gq|hk|tw|wang|ren|fun|store|"
         "asia|gov|edu|mobi|tv|ink|cyou|sbs|buzz|bond|help|click|life|win|loan|cfd")
_URL = re.compile(
    rf"(?:https?://|www\.)[^{_STOP}]+"
    rf"|(?<![\w@.-])(?:[a-z0-9-]+\.)+(?:{_TLDS})(?![a-z0-9-])(?::\d+)?(?:/[^{_STOP}]*)?"
    rf"|(?<![\d.])\d{{1,3}}(?:\.\d{{1,3}}){{3}}(?::\d+)?(?:/[^{_STOP}]*)?"
)
_NUMBER = re.compile(r"(?<![\da-z.])\+?\s?\d+(?:[ -]\d+)*(?![\d.]*\d)")
_PHONE_CONTEXT = re.compile(r"电话|致电|拨打|热线|来电|客服|联系|回电|号码|call|tel|phone|☎|📞")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{9,11}")
_AMOUNT = re.compile(
    r"[¥￥$]\s*\d[\d,]*(?:\.\d+)?(?:\s*万)?"
    r"|\d[\d,]*(?:\.\d+)?\s*(?:万元|万块|万|千元|元|块钱|块|rmb|yuan|usd|dollars?)"
    r"|[一二三四五六七八九十两]+[十百千万]*(?:万)?(?:元|块钱|块)"
)


def _negated(text: str, clause_ends: list[int], start: int) -> bool:
    """A negation earlier in the same clause: “公安机关不会要求转账到安全账户”."""
    clause = clause_ends[bisect_right(clause_ends, start) - 1] if clause_ends and \
        clause_ends[0] <= start else 0
    return any(not _asks_either_way(text, negation) and not _not_denying(text, negation)
               for negation in _NEGATION.finditer(text, max(clause, start - _NEGATION_WINDOW),
                                                  start))


def _asks_either_way(text: str, negation: re.Match[str]) -> bool:
    """“能不能先借我”, “是不是”: a question that offers both answers, not a negation."""
    start, end = negation.span()
    return negation.group(0) == "不" and 0 < start and end < len(text) \
        and text[start - 1] == text[end]


def _not_denying(text: str, negation: re.Match[str]) -> bool:
    """A “不” that denies nothing after it: a verb's complement (“抢不到的加主播微信”, “对不起”)
    or a condition that threatens (“不弄就停卡”, “不处理的话冻结账户”)."""
    if negation.group(0) != "不":
        return False
    end = negation.end()
    return _COMPLEMENT.match(text, end) is not None or _CONDITION.match(text, end) is not None


def _naming_sentences(text: str, rules: Rules) -> list[tuple[int, int]]:
    """The spans of the sentences that call something a scam (a reminder listing scams)."""
    if rules.naming is None:
        return []
    spans: list[tuple[int, int]] = []
    start = 0
    for end in [m.end() for m in _SENTENCE_BREAK.finditer(text)] + [len(text)]:
        if rules.naming.search(text, start, end):
            spans.append((start, end))
        start = end
    return spans


def _matches(signal: Signal, text: str, clause_ends: list[int],
             described: list[tuple[int, int]]) -> list[re.Match[str]]:
    """The signal's matches that count: not negated, not inside a sentence that names the
    scam (a warning sign only), and for a counter-sign one per phrase."""
    assert signal.matcher is not None
    found: dict[str, re.Match[str]] = {}
    for match in signal.matcher.finditer(text):
        if signal.negatable and _negated(text, clause_ends, match.start()):
            continue
        if signal.weight > 0 and any(start <= match.start() < end for start, end in described):
            continue
        found.setdefault(match.group(0), match)
        if signal.weight > 0 or len(found) >= MAX_COUNTER_PHRASES:
            break
    return list(found.values())


def _host(link: str) -> str:
    rest = re.sub(r"^https?://", "", link)
    return re.split(r"[/:?#]", rest, maxsplit=1)[0].removeprefix("www.").rstrip(".")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _link_problem(link: str, rules: Rules) -> str:
    """Which link signal one link raises (the worst), or "any"."""
    host = _host(link)
    path = link[len(link.split(host, 1)[0]) + len(host):] if host in link else ""
    if ".apk" in path or host.endswith(".apk"):
        return "apk"
    if _is_ip(host):
        return "raw_ip"
    if host in rules.shorteners:
        return "shortener"
    tokens = set(re.split(r"[.-]", host))
    for brand, domains in rules.brands.items():
        named = brand in tokens or (len(brand) >= 4 and brand in host)
        genuine = any(host == domain or host.endswith("." + domain) for domain in domains)
        if named and not genuine:
            return "lookalike"
    return "any"


def _number_problem(token: str, before: str, rules: Rules) -> tuple[bool, str | None]:
    """(is it a phone number, the number signal it raises)."""
    digits = re.sub(r"\D", "", token)
    if token.lstrip().startswith("+") and len(digits) < MIN_INTERNATIONAL_DIGITS:
        return False, None  # "+1" in a group chat is a vote, not a number
    international = token.lstrip().startswith("+") or (digits.startswith("00")
                                                       and len(digits) >= 7)
    if international:
        digits = digits if token.lstrip().startswith("+") else digits[2:]
        if not digits.startswith("86"):
            pretends = any(digits.startswith(code) for code in rules.official_numbers)
            return True, "fake_official" if pretends else "overseas"
        digits = digits[2:]
    if digits in rules.official_numbers:
        return True, None
    if _MOBILE.fullmatch(digits) or _LANDLINE.fullmatch(digits):
        return True, None
    in_context = _PHONE_CONTEXT.search(before) is not None
    if in_context and any(digits.startswith(code) and len(digits) > len(code)
                          for code in rules.official_numbers):
        return True, "fake_official"
    return in_context and len(digits) >= 5, None


def check(text: str, rules: Rules | None = None) -> CheckResult:
    """Rate one message: the signals found, the verdict, the kind, the tip to offer."""
    rules = rules or default_rules()
    original = text[:MAX_TEXT]
    norm = normalise(original, rules.script)
    clause_ends = [m.end() for m in _CLAUSE_BREAK.finditer(norm)]
    described = _naming_sentences(norm, rules)
    findings: list[Finding] = []
    for signal in rules.signals:
        matches = _matches(signal, norm, clause_ends, described)
        if matches:
            evidence = "…".join(original[m.start():m.end()][:40] for m in matches)
            findings.append(Finding(signal.id, signal.weight * len(matches), signal.kind,
                                    evidence))

    links: list[str] = []
    for match in _URL.finditer(norm):
        link = original[match.start():match.end()]
        links.append(link)
        problem = _link_problem(match.group(0), rules)
        if all(f.signal != problem for f in findings):
            findings.append(Finding(problem, rules.computed[problem].weight, None, link[:40]))
    if any(f.signal in ("shortener", "lookalike", "raw_ip", "apk") for f in findings):
        findings = [f for f in findings if f.signal != "any"]

    phones: list[str] = []
    for match in _NUMBER.finditer(norm):
        if any(link_match.start() <= match.start() < link_match.end()
               for link_match in _URL.finditer(norm)):
            continue
        is_phone, problem = _number_problem(match.group(0), norm[max(0, match.start() - 8):
                                                                   match.start()], rules)
        token = original[match.start():match.end()].strip()
        if is_phone:
            phones.append(token)
        if problem is not None and all(f.signal != problem for f in findings):
            findings.append(Finding(problem, rules.computed[problem].weight, None, token))
    amounts = tuple(original[m.start():m.end()].strip() for m in _AMOUNT.finditer(norm))

    score = sum(f.weight for f in findings)
    if score >= rules.high:
        verdict = Verdict.HIGH
    elif score >= rules.suspicious:
        verdict = Verdict.SUSPICIOUS
    else:
        verdict = Verdict.NONE
    by_kind: dict[str, int] = {}
    for finding in findings:
        if finding.kind is not None and finding.weight > 0:
            by_kind[finding.kind] = by_kind.get(finding.kind, 0) + finding.weight
    kind = max(by_kind, key=lambda k: by_kind[k]) if by_kind and verdict is not Verdict.NONE \
        else None
    return CheckResult(verdict=verdict, score=score, kind=kind, findings=tuple(findings),
                       tip=_tip(rules, kind, findings), links=tuple(links),
                       phones=tuple(dict.fromkeys(phones)), amounts=tuple(dict.fromkeys(amounts)))


def _tip(rules: Rules, kind: str | None, findings: list[Finding]) -> str:
    if kind is not None:
        return rules.kinds[kind].tip
    for finding in sorted(findings, key=lambda f: -f.weight):
        signal = rules.signal(finding.signal)
        if signal.tip and finding.weight > 0:
            return signal.tip
    return rules.default_tip
