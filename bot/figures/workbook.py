"""The /figures workbook (XLSX): one sheet per group of figures and the rows behind them.

Anonymised by construction: the rows carry no reporter, no description, no phone number
and no name of a person at all — only references, categories, places, teams and times.
Every text cell is written as text: a team or area named "=HYPERLINK(…)" (or starting
with + - @) is shown as typed, never run as a formula.

A year of a street office has some 20,000 reports: openpyxl spends about 25 µs on each
cell (binding, styling, an XML element), seconds for that sheet alone. So openpyxl makes
the workbook (sheets, styles, the parts around them) with empty sheets, and the rows are
written as sheet XML here (`rows_xml`, the same cells openpyxl writes) into the saved file.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from functools import lru_cache
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from bot.directory.tables import as_text
from bot.figures import render
from bot.figures.counting import percentile
from bot.figures.service import Report
from bot.i18n import translator
from bot.tipoffs.render import STATUS_LABELS

#: A sheet: its rows of values (text, numbers, dates, None for an empty cell).
Sheet = list[Sequence[object]]


def _row(sheet: Sheet, values: Sequence[object]) -> None:
    sheet.append(values)


@lru_cache(maxsize=4096)
def _text_xml(value: str) -> str:
    """A text cell's XML after its reference (kinds, statuses, places and teams repeat)."""
    text = as_text(value)
    if not text:
        return ' t="inlineStr"/>'
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return f' t="inlineStr"><is><t{space}>{escape(text)}</t></is></c>'


def _cell_xml(reference: str, value: object, date_style: int) -> str:
    """One cell as openpyxl writes it: text inline (through `as_text`), a date as a number
    in the date style, numbers to 16 digits."""
    if isinstance(value, str):
        return f'<c r="{reference}"{_text_xml(value)}'
    if isinstance(value, datetime):
        return f'<c r="{reference}" s="{date_style}" t="n"><v>{to_excel(value):.16g}</v></c>'
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f'<c r="{reference}" t="n"><v>{value:.16g}</v></c>'
    raise TypeError(f"no cell for {type(value).__name__}")


def rows_xml(rows: Iterable[Sequence[object]], *, first: int,
             date_style: int) -> Iterator[bytes]:
    """Sheet rows numbered from `first`, as the `<row>` elements of a sheet's XML, a few
    hundred at a time."""
    chunk: list[str] = []
    for number, values in enumerate(rows, start=first):
        cells = "".join(_cell_xml(f"{get_column_letter(column)}{number}", v, date_style)
                        for column, v in enumerate(values, start=1) if v is not None)
        chunk.append(f'<row r="{number}">{cells}</row>')
        if len(chunk) == 500:
            yield "".join(chunk).encode()
            chunk = []
    yield "".join(chunk).encode()


def _date_style(sheet: WriteOnlyWorksheet) -> int:
    """The index of the style openpyxl gives a date cell in this workbook (registered now)."""
    return WriteOnlyCell(sheet, value=datetime(2000, 1, 1)).style_id


class _Book:
    """The workbook's sheets, in order, as rows of values until it is saved."""

    def __init__(self) -> None:
        self.sheets: list[tuple[str, Sheet]] = []

    def sheet(self, title: str) -> Sheet:
        rows: Sheet = []
        self.sheets.append((title, rows))
        return rows

    def save(self) -> bytes:
        workbook = Workbook(write_only=True)
        made = [(workbook.create_sheet(title), rows) for title, rows in self.sheets]
        date_style = _date_style(made[0][0])
        buffer = io.BytesIO()
        workbook.save(buffer)
        return _with_rows(buffer.getvalue(), {
            sheet.path.lstrip("/"): rows_xml(rows, first=1, date_style=date_style)
            for sheet, rows in made})


def _with_rows(data: bytes, rows: dict[str, Iterable[bytes]]) -> bytes:
    """The saved workbook with each sheet's (zip member's) rows put into its sheet data."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info)
            if info.filename not in rows:
                target.writestr(info, body)
                continue
            body = re.sub(rb"<sheetData\s*/>", b"<sheetData></sheetData>", body, count=1)
            head, tail = body.split(b"</sheetData>", 1)
            with target.open(info, "w") as stream:
                stream.write(head)
                for chunk in rows[info.filename]:
                    stream.write(chunk)
                stream.write(b"</sheetData>" + tail)
    return out.getvalue()


def _local(moment: datetime | None, tz: ZoneInfo) -> datetime | None:
    """Spreadsheets know no time zones: local wall-clock time, as people read it."""
    return moment.astimezone(tz).replace(tzinfo=None) if moment is not None else None


def _hours(seconds: float | None) -> float | None:
    return round(seconds / 3600, 2) if seconds is not None else None


def _average(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


def build_workbook(report: Report, *, scope_name: str, language: str, tz: ZoneInfo) -> bytes:
    _ = translator(language)
    t, tb = report.tipoffs, report.tipoffs_before
    b, bb = report.broadcasts, report.broadcasts_before
    a, ab = report.alerts, report.alerts_before
    book = _Book()

    summary = book.sheet(_("Summary"))
    _row(summary, [scope_name])
    _row(summary, [_("Figure"), render.period_label(report.period, language),
                   render.period_label(report.previous, language)])
    for label, now, before in (
        (_("Reports received"), t.received, tb.received),
        (_("Taken on, median (hours)"), _hours(t.claim_median_s), _hours(tb.claim_median_s)),
        (_("Taken on, 9 in 10 within (hours)"), _hours(t.claim_p90_s), _hours(tb.claim_p90_s)),
        (_("Closed, median (hours)"), _hours(t.close_median_s), _hours(tb.close_median_s)),
        (_("Closed, 9 in 10 within (hours)"), _hours(t.close_p90_s), _hours(tb.close_p90_s)),
        (_("Escalated for waiting"), t.escalated, tb.escalated),
        (_("Referred to police"), t.referred, tb.referred),
        (_("Disputes closed"), t.mediation.closed, tb.mediation.closed),
        (_("Disputes resolved"), t.mediation.resolved, tb.mediation.resolved),
        (_("Mediation success rate"), t.mediation.rate, tb.mediation.rate),
        (_("Residents asked about satisfaction"), report.satisfaction.asked,
         report.satisfaction_before.asked),
        (_("Satisfaction ratings"), report.satisfaction.rated,
         report.satisfaction_before.rated),
        (_("Average satisfaction (1–5)"), _average(report.satisfaction.average),
         _average(report.satisfaction_before.average)),
        (_("Patrol shifts"), report.patrol.shifts, report.patrol_before.shifts),
        (_("Patrol duties"), report.patrol.duties, report.patrol_before.duties),
        (_("Signed in on time"), report.patrol.on_time, report.patrol_before.on_time),
        (_("Signed in late"), report.patrol.late, report.patrol_before.late),
        (_("Missed sign-ins"), report.patrol.missed, report.patrol_before.missed),
        (_("Covered or excused"), report.patrol.covered_or_excused,
         report.patrol_before.covered_or_excused),
        (_("Helpers signed in"), report.patrol.helpers, report.patrol_before.helpers),
        (_("All-clear asked (evenings)"), report.patrol.allclear_asked,
         report.patrol_before.allclear_asked),
        (_("All-clear answered"), report.patrol.allclear_answered,
         report.patrol_before.allclear_answered),
        (_("All-clear with something to report"), report.patrol.allclear_issues,
         report.patrol_before.allclear_issues),
        (_("Messages sent"), b.sent, bb.sent),
        (_("Recipients"), b.recipients, bb.recipients),
        (_("Delivered"), b.delivered, bb.delivered),
        (_("Unreachable"), b.unreachable, bb.unreachable),
        (_("Emergency alerts"), a.sent, ab.sent),
        (_("Asked to confirm"), a.expected, ab.expected),
        (_("Confirmed “Received”"), a.acknowledged, ab.acknowledged),
        (_("Reminders"), a.reminders, ab.reminders),
        (_("Escalations"), a.escalated, ab.escalated),
    ):
        _row(summary, [label, now, before])

    kinds = book.sheet(_("By kind"))
    _row(kinds, [_("Kind"), render.period_label(report.period, language),
                 render.period_label(report.previous, language)])
    for category in sorted(set(t.by_category) | set(tb.by_category)):
        _row(kinds, [render.category_name(category, _), t.by_category.get(category, 0),
                     tb.by_category.get(category, 0)])
    if report.by_area:
        _row(kinds, [])
        _row(kinds, [_("Place"), render.period_label(report.period, language)])
        for name, count in report.by_area.items():
            _row(kinds, [name or _("Elsewhere in the area"), count])

    rated = book.sheet(_("Satisfaction"))
    _row(rated, [_("Rating (1–5)"), render.period_label(report.period, language),
                 render.period_label(report.previous, language)])
    for score in sorted(report.satisfaction.distribution, reverse=True):
        _row(rated, [score, report.satisfaction.distribution[score],
                     report.satisfaction_before.distribution.get(score, 0)])
    if report.satisfaction.comments:
        _row(rated, [])
        _row(rated, [_("Comments (unsigned, in alphabetical order)")])
        for comment in report.satisfaction.comments:
            _row(rated, [comment])

    months = book.sheet(_("Per month"))
    _row(months, [_("Month"), _("Reports received")])
    for month, count in zip(report.months, report.monthly, strict=True):
        _row(months, [render.period_label(month, language), count])

    teams = book.sheet(_("Teams"))
    _row(teams, [_("Team"), _("Taken on"), _("Taken on, median (hours)"),
                 _("Taken on, 9 in 10 within (hours)"), _("Closed"),
                 _("Closed, median (hours)"), _("Closed, 9 in 10 within (hours)")])
    for times in report.team_times:
        name = report.team_names.get(times.team_id, "") if times.team_id else _("No team")
        _row(teams, [name, len(times.claims), _hours(percentile(times.claims, 50)),
                     _hours(percentile(times.claims, 90)), len(times.closes),
                     _hours(percentile(times.closes, 50)), _hours(percentile(times.closes, 90))])

    reports = book.sheet(_("Reports"))
    _row(reports, [_("Reference"), _("Received"), _("Kind"), _("Status"), _("Place"),
                   _("Team"), _("Taken on"), _("Closed"), _("Escalated")])
    reports.extend([
        row.reference, _local(row.created_at, tz), render.category_name(row.category, _),
        _(STATUS_LABELS[row.status]), report.area_names.get(row.area_path or "", ""),
        report.team_names.get(row.team_id, "") if row.team_id else "",
        _local(row.claimed_at, tz), _local(row.closed_at, tz),
        _("yes") if row.escalated else ""] for row in report.tipoff_rows)

    messages = book.sheet(_("Messages"))
    _row(messages, [_("Number"), _("Sent"), _("Kind"), _("Recipients"), _("Delivered"),
                    _("Unreachable"), _("Failed"), _("Waiting")])
    for broadcast in report.broadcast_rows:
        _row(messages, [broadcast.id, _local(broadcast.created_at, tz), broadcast.kind,
                        broadcast.recipients, broadcast.sent, broadcast.unreachable,
                        broadcast.failed, broadcast.pending])

    alerts = book.sheet(_("Emergency alerts"))
    _row(alerts, [_("Number"), _("Sent"), _("Asked to confirm"), _("Confirmed “Received”"),
                  _("Median minutes to confirm"), _("Reminders"), _("Escalated")])
    for alert in report.alert_rows:
        median = percentile(alert.ack_seconds, 50)
        _row(alerts, [alert.id, _local(alert.created_at, tz),
                      alert.expected if alert.ack_required else None, len(alert.ack_seconds),
                      round(median / 60, 1) if median is not None else None, alert.reminders,
                      _("yes") if alert.escalated else ""])

    return book.save()

