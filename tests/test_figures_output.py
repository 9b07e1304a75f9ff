"""The figures' outputs over seeded data: the message, the PNG charts (drawn with a CJK font,
no glyph missing) and the anonymised workbook."""

from __future__ import annotations

import io
import re
import warnings
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from matplotlib import font_manager, rc_context
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from PIL import Image
from sqlalchemy import update

from bot.db import transaction
from bot.directory.models import Area, Team
from bot.directory.tables import as_text
from bot.figures import charts, periods, service, workbook
from bot.figures.counting import Scope
from bot.figures.render import figures_text
from bot.i18n import translator
from tests.figures_support import seed

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
async def report(session_factory) -> service.Report:
    ids = await seed(session_factory)
    async with transaction(session_factory) as session:
        # Names people type can look like formulas; the workbook must keep them text.
        await session.execute(update(Team).where(Team.id == ids["patrol"].id)
                              .values(name="=HYPERLINK(\"http://x\",\"巡逻\")"))
        await session.execute(update(Area).where(Area.id == ids["grid2"].id)
                              .values(name="+5网格"))
    november = periods.month_period(2026, 11, tz=TZ, now=NOW)
    async with session_factory() as session:
        return await service.collect(
            session, scope=Scope(area_path=ids["community"].path), period=november,
            previous=periods.previous(november, tz=TZ),
            months=periods.months_back(count=12, tz=TZ, now=NOW))


@pytest.mark.parametrize(("language", "family"), [("zh-CN", "Noto Sans CJK SC"),
                                                  ("zh-TW", "Noto Sans CJK TC")])
def test_charts_are_pngs_drawn_in_a_cjk_font(report, language, family) -> None:
    with warnings.catch_warnings():
        # matplotlib warns "Glyph … missing from font(s)" where it would draw a box.
        warnings.simplefilter("error")
        drawn = charts.build_figures(report, language)
    figures = [figure for figure, _png in drawn]
    pngs = [png for _figure, png in drawn]
    assert charts.font_family(language) == family
    assert len(pngs) == 4
    for png in pngs:
        image = Image.open(io.BytesIO(png))
        assert image.format == "PNG" and image.size == (1200, 750)
        image.load()
    chinese = [text for figure in figures for text in figure.findobj(
        match=lambda artist: hasattr(artist, "get_text") and hasattr(artist, "get_fontproperties"))
        if HAN.search(text.get_text())]
    assert chinese  # titles, categories, months, teams
    for text in chinese:
        path = font_manager.findfont(text.get_fontproperties(), fallback_to_default=False)
        assert font_manager.get_font(path).family_name == family, text.get_text()


def test_the_default_font_would_have_drawn_boxes(report) -> None:
    """The check above is real: without the CJK font matplotlib warns of missing glyphs."""
    with (rc_context({"font.family": ["DejaVu Sans"]}), warnings.catch_warnings(),
          pytest.raises(UserWarning, match="missing from font")):
        warnings.simplefilter("error")
        charts.to_png(charts.category_chart(report, "zh-CN"))


def test_the_message_has_the_key_numbers(report) -> None:
    text = figures_text(report, scope_name="龙江路社区", _=translator("zh-CN"),
                        language="zh-CN", tz=TZ)
    assert "2026年11月" in text and "2026年10月" in text
    assert "收到反映：5 件（↑150%；上期：2）" in text
    assert "67%" in text  # mediation: 2 of 3
    english = figures_text(report, scope_name="Longjiang", _=translator("en"), language="en",
                           tz=TZ)
    assert "Reports received: 5 (↑150%; before: 2)" in english
    assert "median 30 min" in english  # taken on: median of 10, 20, 30, 40 min and 49 h


def test_workbook_reads_back_anonymised_and_without_formulas(report) -> None:
    data = workbook.build_workbook(report, scope_name="龙江路社区", language="zh-CN", tz=TZ)
    book = load_workbook(io.BytesIO(data))
    summary = {row[0]: row[1:] for row in book["概况"].iter_rows(min_row=3, values_only=True)}
    assert summary["收到的反映"] == (5, 2)
    assert summary["转派出所"] == (1, 0)
    assert summary["送达"] == (3, 1)
    reports = list(book["反映明细"].iter_rows(min_row=2, values_only=True))
    assert len(reports) == 5
    cells = [cell for sheet in book for row in sheet.iter_rows() for cell in row]
    assert not [c for c in cells if c.data_type == "f"]
    texts = {str(c.value) for c in cells if c.value is not None}
    assert "'=HYPERLINK(\"http://x\",\"巡逻\")" in texts and "'+5网格" in texts
    assert not [t for t in texts if "陈阿姨" in t or "13800000009" in t]


def test_rows_written_as_xml_read_back_as_openpyxl_writes_them() -> None:
    """The rows skip openpyxl's cell writer; a reader must not tell the difference."""
    rows: list[list[object]] = [
        ["编号", "收到时间"],
        ["TX-000001", datetime(2026, 11, 3, 8, 15, 30, 123456), "噪音扰民", " 两头有空格 ",
         "<a & b>", "#N/A", '=HYPERLINK("http://x","巡逻")', "", None, 3, 2.5],
        [],
        ["TX-000002", None, "-1", "@x", "\tTab", "响\x07铃", "两\n行", 1234567890123, 0.1],
    ]

    def read(data: bytes) -> list[list[tuple[object, str, str]]]:
        sheet = load_workbook(io.BytesIO(data))["rows"]
        return [[(c.value, c.data_type, c.number_format) for c in row]
                for row in sheet.iter_rows()]

    reference = Workbook(write_only=True)  # openpyxl's own cells, text forced as /export does
    sheet = reference.create_sheet("rows")
    for row in rows:
        cells: list[object] = []
        for value in row:
            if isinstance(value, str):
                value = WriteOnlyCell(sheet, value=as_text(value))
                value.data_type = "s"
            cells.append(value)
        sheet.append(cells)
    written = io.BytesIO()
    reference.save(written)

    book = workbook._Book()
    book.sheet("rows").extend(rows)
    book.sheet("empty")
    ours = book.save()
    assert read(ours) == read(written.getvalue())
    assert load_workbook(io.BytesIO(ours))["empty"].max_row == 1  # openpyxl's empty sheet
