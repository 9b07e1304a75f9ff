"""The /figures message: the key numbers and the change from the period before, with
numbers, percentages, months and durations written the reader's way (Babel)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from babel.numbers import format_decimal, format_percent

from bot.figures.periods import Period, PeriodKind
from bot.figures.service import Report
from bot.i18n import Translate
from bot.tipoffs.categories import CATEGORIES, parse_category
from bot.tipoffs.render import category_label

BABEL_LOCALES = {"zh-CN": "zh_Hans_CN", "zh-TW": "zh_Hant_TW", "en": "en"}
DASH = "–"


def babel_locale(language: str) -> str:
    return BABEL_LOCALES.get(language, BABEL_LOCALES["zh-CN"])


def number(value: int | float, language: str) -> str:
    return format_decimal(value, locale=babel_locale(language))


def percent(value: float | None, language: str) -> str:
    return DASH if value is None else format_percent(value, locale=babel_locale(language))


def duration(seconds: float | None, _: Translate, language: str) -> str:
    """Minutes under two hours, hours under two days, then days (one decimal at most)."""
    if seconds is None:
        return DASH
    minutes = seconds / 60
    if minutes < 120:
        return _("{n} min").format(n=number(round(minutes), language))
    hours = minutes / 60
    if hours < 48:
        return _("{n} h").format(n=format_decimal(round(hours, 1), format="#,##0.#",
                                                  locale=babel_locale(language)))
    return _("{n} days").format(n=format_decimal(round(hours / 24, 1), format="#,##0.#",
                                                 locale=babel_locale(language)))


def period_label(period: Period, language: str) -> str:
    """"2026年11月" / "November 2026", or the year; a running period says up to when."""
    first = date(period.year, period.month or 1, 1)
    skeleton = "yMMMM" if period.kind is PeriodKind.MONTH else "y"
    return format_skeleton(skeleton, first, locale=babel_locale(language))


def month_button_label(year: int, month: int, language: str) -> str:
    return format_skeleton("yMMM", date(year, month, 1), locale=babel_locale(language))


def change(now: int, before: int, language: str) -> str:
    """↑/↓ and the percentage from the period before; "new" when there was none before."""
    if before == 0:
        return "" if now == 0 else "↑"
    if now == before:
        return "±0%"
    arrow = "↑" if now > before else "↓"
    return arrow + format_percent(abs(now - before) / before, locale=babel_locale(language))


def category_name(category: str, _: Translate) -> str:
    """The category's name without its emoji (chart fonts have no emoji)."""
    parsed = parse_category(category)
    return _(CATEGORIES[parsed].label) if parsed is not None else _("Other")


def figures_text(report: Report, *, scope_name: str, _: Translate, language: str,
                 tz: ZoneInfo) -> str:
    """One short message: what a cadre reads at a glance before the meeting."""
    t, tb = report.tipoffs, report.tipoffs_before
    b, a, people = report.broadcasts, report.alerts, report.people
    title = period_label(report.period, language)
    if not report.period.complete:
        up_to = format_skeleton("MMMd", report.period.end.astimezone(tz).date(),
                                locale=babel_locale(language))
        title = _("{period}, up to {date}").format(period=title, date=up_to)

    def n(value: int) -> str:
        return number(value, language)

    lines = [
        _("📊 Figures · {scope} · {period}").format(scope=scope_name, period=title),
        _("Compared with {previous}.").format(
            previous=_previous_label(report, _, language)),
        "",
        _("📨 Reports received: {count} ({change}; before: {before})").format(
            count=n(t.received), change=change(t.received, tb.received, language) or "±0%",
            before=n(tb.received)),
    ]
    if t.by_category:
        top = sorted(t.by_category.items(), key=lambda item: -item[1])[:3]
        lines.append(_("Most reported: {list}").format(list=" · ".join(
            f"{category_label(c, _)} {n(k)}" for c, k in top)))
    lines += [
        _("⏱ Taken on in: median {median}, 9 in 10 within {p90}").format(
            median=duration(t.claim_median_s, _, language),
            p90=duration(t.claim_p90_s, _, language)),
        _("✅ Closed in: median {median}, 9 in 10 within {p90}").format(
            median=duration(t.close_median_s, _, language),
            p90=duration(t.close_p90_s, _, language)),
        _("⏰ Escalated for waiting: {escalated} · 🚓 Referred to police: {referred}").format(
            escalated=n(t.escalated), referred=n(t.referred)),
        _("🤝 Disputes mediated: {rate} ({resolved} of {closed} resolved)").format(
            rate=percent(t.mediation.rate, language), resolved=n(t.mediation.resolved),
            closed=n(t.mediation.closed)),
        _satisfaction_line(report, _, language),
        "",
        _("📢 Messages sent: {sent} ({change}); delivered to {rate} of {recipients}; "
          "unreachable: {unreachable}").format(
            sent=n(b.sent), change=change(b.sent, report.broadcasts_before.sent, language)
            or "±0%", rate=percent(b.delivered_rate, language), recipients=n(b.recipients),
            unreachable=n(b.unreachable)),
        _("🚨 Emergency alerts: {sent}; “Received” from {rate}, median {median}; "
          "reminders: {reminders}, escalations: {escalated}").format(
            sent=n(a.sent), rate=percent(a.acknowledged_rate, language),
            median=duration(a.median_ack_s, _, language), reminders=n(a.reminders),
            escalated=n(a.escalated)),
    ]
    p = report.patrol
    if p.duties or p.allclear_asked:
        lines.append(_("🚶 Patrol: {shifts} shifts, {duties} duties; on time {on_time}, late "
                       "{late}, missed {missed}, covered or excused {covered}; all-clear "
                       "answered {answered} of {asked} evenings").format(
            shifts=n(p.shifts), duties=n(p.duties), on_time=n(p.on_time), late=n(p.late),
            missed=n(p.missed), covered=n(p.covered_or_excused),
            answered=n(p.allclear_answered), asked=n(p.allclear_asked)))
    if report.scope.area_path is not None:
        lines.append(_("🏠 Residents: {residents} (new: {new}); buildings reached: "
                       "{coverage}").format(residents=n(people.residents),
                                            new=n(people.new_residents),
                                            coverage=percent(people.coverage, language)))
    lines.append(_("👥 Team members: {members} in {teams} teams").format(
        members=n(sum(people.team_sizes.values())), teams=n(len(people.team_sizes))))
    return "\n".join(lines)


def average_score(value: float | None, language: str) -> str:
    """An average of 1–5 scores with one decimal ("4.3"), "–" when nobody rated."""
    if value is None:
        return DASH
    return format_decimal(round(value, 1), format="0.0", locale=babel_locale(language))


def _satisfaction_line(report: Report, _: Translate, language: str) -> str:
    s = report.satisfaction
    if not s.rated:
        return _("⭐ Satisfaction: no ratings yet (asked: {asked})").format(
            asked=number(s.asked, language))
    spread = " ".join(f"{score}⭐{number(count, language)}"
                      for score, count in sorted(s.distribution.items(), reverse=True))
    return _("⭐ Satisfaction: {average} of 5 from {rated} ratings (before: {before}); "
             "{spread}").format(average=average_score(s.average, language),
                                rated=number(s.rated, language),
                                before=average_score(report.satisfaction_before.average,
                                                     language),
                                spread=spread)


def _previous_label(report: Report, _: Translate, language: str) -> str:
    label = period_label(report.previous, language)
    if report.period.complete:
        return label
    return _("the same days of {period}").format(period=label)
