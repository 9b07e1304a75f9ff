"""The answer to a check, in the reader's language. No Telegram."""

from __future__ import annotations

from bot.i18n import Translate
from bot.scamcheck.checker import CheckResult, Verdict
from bot.scamcheck.rules import Rules

#: At most this many signals are listed (the strongest first): a short answer is read.
MAX_SIGNALS = 4


def kind_name(rules: Rules, kind: str | None, language: str) -> str | None:
    return rules.kinds[kind].name.text(language) if kind in rules.kinds else None


def answer(result: CheckResult, rules: Rules, _: Translate, language: str) -> str:
    """Verdict, the signs in plain words, what was read, what to do."""
    kind = kind_name(rules, result.kind, language)
    if result.verdict is Verdict.NONE:
        lines = [_("🟢 No obvious risk found."), "",
                 _("But no check is certain. If someone asks you for money, a code or secrecy, "
                   "stop and ask your family first, or call 96110 (the anti-fraud line).")]
        return "\n".join([*lines, "", _("I do not keep the text you sent me.")])
    if result.verdict is Verdict.HIGH:
        head = (_("🔴 High risk: this looks like a scam ({kind}).").format(kind=kind) if kind
                else _("🔴 High risk: this looks like a scam."))
    else:
        head = (_("🟠 Suspicious: parts of this look like a scam ({kind}).").format(kind=kind)
                if kind else _("🟠 Suspicious: parts of this look like a scam."))
    lines = [head, "", _("What I noticed:")]
    for finding in result.warnings[:MAX_SIGNALS]:
        lines.append("• " + rules.signal(finding.signal).explanation.text(language))
    read = []
    if result.links:
        read.append(_("Links: {links}").format(links=", ".join(result.links[:3])))
    if result.phones:
        read.append(_("Phone numbers: {phones}").format(phones=", ".join(result.phones[:3])))
    if result.amounts:
        read.append(_("Amounts: {amounts}").format(amounts=", ".join(result.amounts[:3])))
    if read:
        lines += ["", *read]
    lines += ["", _("What to do:"),
              _("• Do not transfer money, do not tap its links, and never give anyone a "
                "verification code."),
              _("• Not sure? Call 96110, the anti-fraud line. Already paid? Call 110 at once."),
              "", _("I do not keep the text you sent me.")]
    return "\n".join(lines)
