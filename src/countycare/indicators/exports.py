"""Excel exports (openpyxl) in the layout a health commission's forms use: a title row with the
unit and the period, a header row, numbered rows, the basis (requirement) of each row, and a
footer with the time it was produced. Numbers are numbers (not text) so they can be summed."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from django.utils import timezone

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STATUS_ZH = {"ok": "", "no_data": "无数据", "pending": "数据源待接入", "not_applicable": "不适用"}
MET_ZH = {True: "达标", False: "未达标", None: ""}


def workbook(sheets: Iterable[tuple[str, str, Sequence[str], Iterable[Sequence]]]) -> bytes:
    """``sheets``: (sheet name, title, header, rows)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    thin = Side(style="thin", color="999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    book = Workbook()
    book.remove(book.active)
    for name, title, header, rows in sheets:
        ws = book.create_sheet(name[:31])
        ws.append([title])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
        ws["A1"].font = Font(bold=True, size=14)
        ws["A1"].alignment = Alignment(horizontal="center")
        ws.append(["序号", *header])
        for cell in ws[2]:
            cell.font = Font(bold=True)
            cell.border = border
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        n = 0
        for n, row in enumerate(rows, start=1):
            ws.append([n, *row])
            for cell in ws[ws.max_row]:
                cell.border = border
                if isinstance(cell.value, float):
                    cell.number_format = "#,##0.00"
        ws.append([])
        ws.append([f"共 {n} 行；生成时间 {timezone.localtime():%Y-%m-%d %H:%M}（CountyCare）"])
        ws.freeze_panes = "B3"
        widths = [6, *([14] * len(header))]
        for i, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = width
        ws.column_dimensions["B"].width = 30
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


INDICATOR_HEADER = [
    "指标",
    "指标编码",
    "依据",
    "分子",
    "分母",
    "指标值",
    "单位",
    "目标值",
    "目标年度",
    "是否达标",
    "说明",
]
UNIT_ZH = {"%": "%", "per_10000": "每万人", "count": "个/人次", "yuan": "元"}


def indicator_rows(outcomes) -> list[list]:
    return [
        [
            o.indicator.zh, o.indicator.code, o.indicator.requirement, o.numerator, o.denominator,
            o.value, UNIT_ZH.get(o.indicator.unit, o.indicator.unit), o.target, o.target_year,
            MET_ZH[o.met], STATUS_ZH.get(o.status, o.status),
        ]
        for o in outcomes
    ]  # fmt: skip
