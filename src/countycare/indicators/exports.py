"""Excel exports (openpyxl) in the layout a health commission's forms use: a title row with the
unit and the period, a header row, numbered rows, the basis (requirement) of each row, and a
footer with the time it was produced. Numbers are numbers (not text) so they can be summed."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from django.utils import timezone, translation

from countycare.indicators.registry import Ctx, all_indicators

MAX_ROWS = 100_000  # the rows behind one number in one file
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


def assessment_sheets(institution, period) -> list[tuple]:
    """The half-yearly monitoring / annual assessment report (KPI-02, KPI-03) as sheets: the
    scores per township, how each score is made (indicator, value, target, attainment,
    weight, points), what could not be scored, and the weights in force."""
    with translation.override("zh-hans"):  # the commission's forms are Chinese
        return _assessment_sheets(institution, period)


def _assessment_sheets(institution, period) -> list[tuple]:
    from countycare.indicators import assessment

    whole = assessment.assess(institution, period)
    rows = assessment.assess_townships(institution, period)
    tail = f"{institution.name} · {period.label}"
    scores = [[a.institution.name, a.institution.code, a.score, a.met, len(a.scored),
               "、".join(o.indicator.zh for o in a.unassessed)] for a in rows]  # fmt: skip
    scores.append([f"{institution.name}（合计）", institution.code, whole.score, whole.met,
                   len(whole.scored), "、".join(o.indicator.zh for o in whole.unassessed)])  # fmt: skip
    detail = []
    for a in [*rows, whole]:
        for s in a.scored:
            o = s.outcome
            detail.append([
                a.institution.name, o.indicator.zh, o.indicator.code, o.indicator.requirement,
                o.value, o.target, MET_ZH[o.met], round(100 * s.attainment, 2), s.weight,
                round(s.points, 4),
            ])  # fmt: skip
    missing = [[a.institution.name, o.indicator.zh, o.indicator.code,
                STATUS_ZH.get(o.status, o.status) or "无数据"]
               for a in [*rows, whole] for o in a.unassessed]  # fmt: skip
    configured = assessment.weights(Ctx(institution, period).community_id)
    weights = [[i.zh, i.code, i.requirement, assessment.weight_of(i, configured),
                "县级配置" if i.code in configured else "默认"]
               for i in all_indicators() if i.policy_key]  # fmt: skip
    return [
        ("考核得分", f"{whole.title}：医共体成员单位考核得分（{tail}）",
         ["机构", "机构编码", "综合得分", "达标指标数", "参与评分指标数", "未能评分指标"], scores),
        ("评分明细", f"考核评分明细（{tail}）",
         ["机构", "指标", "指标编码", "依据", "指标值", "目标值", "是否达标", "完成度（%）", "权重",
          "得分"], detail),
        ("未评分指标", f"无数据、未参与评分的指标（{tail}）", ["机构", "指标", "指标编码", "原因"], missing),
        ("权重", "考核权重（indicators_assessment_weights）", ["指标", "指标编码", "依据", "权重", "来源"],
         weights),
    ]  # fmt: skip
