"""Texts of the alert feature (no Telegram import): the alert, reminders, the live status."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.alerts.models import Severity
from bot.i18n import LANGUAGES, N_, Translate, people_and_groups, translator
from broadcasts import OutgoingMessage

ACK_LABEL = N_("✅ Received")
SEVERITY_LABELS = {
    Severity.WARNING: N_("⚠️ Warning"),
    Severity.EMERGENCY: N_("🚨 Emergency"),
}
#: Telegram's limits for a message's text and a photo's caption, in code points.
MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
#: Room kept for figures not yet known while the author types: audience counts and
#: reminder minutes (a preview's numbers are at most this long).
_ROOM_FOR_NUMBER = 9_999_999


def summary(text: str, limit: int = 30) -> str:
    """The first words of an alert, to name it in reminders and lists."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def banner(_: Translate, *, renotify_minutes: int) -> str:
    """The sensitive-period line above the compose steps."""
    return _("🔴 Sensitive period: reminders go out every {m} minutes.").format(
        m=renotify_minutes) + "\n\n"


def preview_text(_: Translate, *, banner: str, severity: Severity, text: str, people: int,
                 groups: int, ack_required: bool) -> str:
    """What the author checks before pressing Send."""
    return banner + _(
        "Please check:\n\n{severity}\n{text}\n\nThis reaches {audience}. {ack}").format(
        severity=_(SEVERITY_LABELS[severity]), text=text,
        audience=people_and_groups(_, people, groups),
        ack=_("They will be asked to press “Received”.") if ack_required else "")


def text_limit(_: Translate, *, photo: bool, renotify_max: int) -> int:
    """How long the author's own text may be, known while they type it (before severity,
    acknowledgement and audience size are chosen): every copy — any language, a reminder,
    the “Received” line — must fit a message, or a caption with a photo, and the author's
    preview (shown as a message) too."""
    empty = [alert_text(translator(lang), severity=severity, text="", ack_required=True,
                        reminder=(renotify_max, renotify_max))
             for lang in LANGUAGES for severity in Severity]
    previews = [preview_text(_, banner=banner(_, renotify_minutes=_ROOM_FOR_NUMBER),
                             severity=severity, text="", people=_ROOM_FOR_NUMBER,
                             groups=_ROOM_FOR_NUMBER, ack_required=True)
                for severity in Severity]
    copy_limit = CAPTION_LIMIT if photo else MESSAGE_LIMIT
    return min(copy_limit - max(map(len, empty)), MESSAGE_LIMIT - max(map(len, previews)))


def alert_text(_: Translate, *, severity: Severity, text: str, ack_required: bool,
               reminder: tuple[int, int] | None = None) -> str:
    head = _(SEVERITY_LABELS[severity])
    parts = []
    if reminder is not None:
        parts.append(_("🔁 Reminder {n} of {m}: you have not confirmed this alert yet.")
                     .format(n=reminder[0], m=reminder[1]))
    parts.append(f"{head}\n\n{text}")
    if ack_required:
        parts.append(_("Please press “Received” below so we know you have it."))
    return "\n\n".join(parts)


def in_all_languages(build: Callable[[Translate], OutgoingMessage],
                     first: str) -> dict[str, OutgoingMessage]:
    """``{language: message}`` with ``first`` as the engine's fallback."""
    order = [first, *(lang for lang in LANGUAGES if lang != first)]
    return {lang: build(translator(lang)) for lang in order}


def escalation_text(_: Translate, *, text: str, rounds: int, names: list[str]) -> str:
    return _("⏰ Still not confirmed after {rounds} reminders — the alert “{summary}”:\n"
             "{names}\n\nPlease check on them.").format(
        rounds=rounds, summary=summary(text), names="\n".join(f"• {n}" for n in names))


def all_clear_text(_: Translate, *, text: str, note: str | None) -> str:
    out = _("✅ All clear: the alert “{summary}” is over. Thank you all.").format(
        summary=summary(text))
    if note:
        out += "\n\n" + note
    return out


@dataclass(frozen=True)
class Figures:
    """The live numbers of one alert."""

    alert_id: int
    text: str
    severity: Severity
    ack_required: bool
    open: bool
    delivered: int
    chats: int
    unreachable: int
    acknowledged: int
    people: int
    renotify_done: int
    renotify_max: int
    next_renotify_at: datetime | None
    escalated: bool
    closed_at: datetime | None
    pending: int = 0  # copies not yet out (the status message still moves)


def status_text(_: Translate, figures: Figures, tz: ZoneInfo) -> str:
    f = figures
    lines = [
        _("{severity} alert #{id}: “{summary}”").format(
            severity=_(SEVERITY_LABELS[f.severity]), id=f.alert_id, summary=summary(f.text)),
        "",
        _("📨 Delivered: {x} / {y} chats").format(x=f.delivered, y=f.chats),
    ]
    if f.ack_required:
        lines.append(_("✅ Acknowledged: {a} / {p} people").format(a=f.acknowledged, p=f.people))
    if f.unreachable:
        lines.append(_("🚫 Unreachable: {u}").format(u=f.unreachable))
    if f.open and f.ack_required and f.next_renotify_at is not None:
        at = f.next_renotify_at.astimezone(tz).strftime("%H:%M")
        if f.renotify_done < f.renotify_max:
            lines.append(_("🔁 Next reminder at {time} ({n} of {m})").format(
                time=at, n=f.renotify_done + 1, m=f.renotify_max))
        else:
            lines.append(_("⏰ Leaders will be told at {time}").format(time=at))
    if f.escalated:
        lines.append(_("⏰ Leaders were told who has not confirmed."))
    if not f.open and f.closed_at is not None:
        lines.append("")
        lines.append(_("✅ All clear sent at {time}. These are the final figures.").format(
            time=f.closed_at.astimezone(tz).strftime("%H:%M")))
    return "\n".join(lines)


def missing_text(_: Translate, *, alert_id: int, groups: list[tuple[str | None, list[str]]],
                 limit: int = 3800) -> str:
    if not groups:
        return _("Everyone has confirmed alert #{id}. 👍").format(id=alert_id)
    lines = [_("Not yet confirmed (alert #{id}):").format(id=alert_id)]
    for team, names in groups:
        lines.append("")
        lines.append(f"【{team}】" if team else _("【No team】"))
        lines.append("、".join(names))
    text = "\n".join(lines)
    return text if len(text) <= limit else text[: limit - 1] + "…"
