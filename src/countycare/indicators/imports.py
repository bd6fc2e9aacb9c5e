"""Importing periodic statistics (visits, insurance, beds, satisfaction, referrals …) per
institution and month from a CSV or Excel file — the figures the visit-based indicators need
and the platform does not hold as rows. The file is validated whole: every error with its row
number at once, and nothing is written unless every row is valid.

Layout (a header row, English or Chinese column names; extra columns are ignored)::

    institution_code,month,metric,value          机构编码,月份,指标,数值
    150627-T03,2025-06,outpatient_visits,4210    150627-T03,2025-06,门急诊人次,4210

``metric`` is a code of :class:`models.Metric` or its Chinese name; ``month`` is 2025-06,
2025/06, 2025-06-01 or an Excel date."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.utils import translation
from django.utils.translation import gettext as _

from countycare.core.tables import UnreadableTable, header_index, read_table
from countycare.indicators.models import MONEY_METRICS, Metric
from countycare.organizations.models import Institution

MAX_BYTES = 20 * 1024 * 1024
MAX_ERRORS = 200
COLUMNS = {
    "institution_code": ("institution_code", "institution", "code", "机构编码", "机构代码"),
    "month": ("month", "period", "月份", "统计月份"),
    "metric": ("metric", "指标", "指标编码", "统计项目"),
    "value": ("value", "数值", "数量", "值"),
}
# Pairs that must hold within an institution and month when both are in the file.
NOT_ABOVE = (
    (Metric.SATISFACTION_SATISFIED, Metric.SATISFACTION_SURVEYED),
    (Metric.OCCUPIED_BED_DAYS, Metric.OPEN_BED_DAYS),
    (Metric.TCM_VISITS, Metric.OUTPATIENT_VISITS),
)
# The names the county's statistics forms use (accepted in the metric column).
METRIC_ZH = {
    Metric.OUTPATIENT_VISITS: ("门急诊人次", "诊疗人次"),
    Metric.TCM_VISITS: ("中医药（蒙医药）门急诊人次", "中医门急诊人次", "蒙医门急诊人次"),
    Metric.INPATIENT_ADMISSIONS: ("住院人次", "入院人次"),
    Metric.OUT_OF_COUNTY_VISITS: ("县域外就诊人次",),
    Metric.OPEN_BED_DAYS: ("实际开放总床日数",),
    Metric.OCCUPIED_BED_DAYS: ("实际占用总床日数",),
    Metric.INSURANCE_FUND_YUAN: ("医保基金支出（元）", "医保基金支出"),
    Metric.OUT_OF_COUNTY_INSURANCE_FUND_YUAN: ("县域外医保基金支出（元）", "县域外医保基金支出"),
    Metric.NEW_TECHNIQUES: ("新技术新项目数",),
    Metric.SATISFACTION_SURVEYED: ("满意度调查人数",),
    Metric.SATISFACTION_SATISFIED: ("满意人数",),
    Metric.UPWARD_REFERRALS: ("上转人次",),
    Metric.DOWNWARD_REFERRALS: ("下转人次",),
}
_MONTH = re.compile(r"^(\d{4})[-/.年](\d{1,2})(?:[-/.月](\d{1,2})日?)?月?$")


@dataclass(frozen=True)
class Row:
    line: int
    institution_id: int
    institution_type: str
    month: dt.date
    metric: str
    value: Decimal


@dataclass
class Parsed:
    rows: list[Row]
    errors: list[str]


def metric_aliases() -> dict[str, str]:
    """Metric codes and their Chinese and English names → code."""
    out = {}
    for code, label in Metric.choices:
        out[code.lower()] = code
        for name in METRIC_ZH.get(code, ()):
            out[name.lower()] = code
        for language in ("zh-hans", "en"):
            with translation.override(language):
                out[str(label).strip().lower()] = code
    return out


def _month(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.replace(day=1)
    m = _MONTH.match(str(value).strip())
    if not m:
        return None
    year, month = int(m[1]), int(m[2])
    if not (1900 <= year <= 2999 and 1 <= month <= 12):
        return None
    return dt.date(year, month, 1)


def parse(name: str, content: bytes) -> Parsed:
    """Validate a whole file; ``errors`` lists every problem with its row number."""
    errors: list[str] = []
    if len(content) > MAX_BYTES:
        return Parsed([], [_("The file is larger than 20 MB; split it by year.")])
    try:
        table = read_table(name, content)
    except UnreadableTable as exc:
        if exc.reason == "excel":
            return Parsed([], [_("The Excel file cannot be read: %(e)s") % {"e": exc.detail}])
        return Parsed([], [_("The file is neither UTF-8 nor GB18030 text, nor an Excel workbook.")])
    if not table:
        return Parsed([], [_("The file is empty.")])
    header = table[0]
    index = header_index(header, COLUMNS)
    missing = [COLUMNS[k][0] for k in COLUMNS if k not in index]
    if missing:
        return Parsed([], [
            _("The header row lacks the column(s) %(cols)s; expected institution_code, month, "
              "metric, value (or 机构编码, 月份, 指标, 数值).") % {"cols": ", ".join(missing)}
        ])  # fmt: skip
    codes = {
        str(r[index["institution_code"]]).strip()
        for r in table[1:]
        if len(r) > index["institution_code"]
    }
    institutions = {
        code: (pk, type_)
        for code, pk, type_ in Institution.objects.filter(code__in=codes).values_list(
            "code", "pk", "type"
        )
    }
    aliases = metric_aliases()
    today = dt.date.today()
    rows: list[Row] = []
    seen: dict[tuple[int, dt.date, str], int] = {}
    for line, raw in enumerate(table[1:], start=2):
        cells = list(raw) + [""] * (len(header) - len(raw))

        def cell(key: str, cells=cells):
            value = cells[index[key]]
            return value.strip() if isinstance(value, str) else value

        problems = []
        code = str(cell("institution_code")).strip()
        institution_id, institution_type = institutions.get(code, (None, ""))
        if not code:
            problems.append(_("the institution code is empty"))
        elif institution_id is None:
            problems.append(_("no institution has the code “%(code)s”") % {"code": code})
        month = _month(cell("month"))
        if month is None:
            problems.append(_("“%(v)s” is not a month (use 2025-06)") % {"v": cell("month")})
        elif month > today:
            problems.append(_("the month %(m)s has not begun") % {"m": f"{month:%Y-%m}"})
        metric = aliases.get(str(cell("metric")).strip().lower())
        if metric is None:
            problems.append(_("“%(v)s” is not a known metric") % {"v": cell("metric")})
        raw_value = cell("value")
        try:
            value = Decimal(str(raw_value).replace(",", "").strip())
            if not value.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            value = None
            problems.append(_("“%(v)s” is not a number") % {"v": raw_value})
        if value is not None:
            if value < 0:
                problems.append(_("the value cannot be negative"))
            elif metric and metric not in MONEY_METRICS and value != value.to_integral_value():
                problems.append(
                    _("%(metric)s is a count and must be a whole number") % {"metric": metric}
                )
            elif value >= Decimal("1e14"):
                problems.append(_("the value is too large"))
        if not problems:
            key = (institution_id, month, metric)
            if key in seen:
                problems.append(
                    _("the same institution, month and metric as row %(n)d") % {"n": seen[key]}
                )
            else:
                seen[key] = line
                rows.append(
                    Row(
                        line,
                        institution_id,
                        institution_type,
                        month,
                        metric,
                        value.quantize(Decimal("0.01")),
                    )
                )
        if problems:
            errors.append(
                _("Row %(n)d: %(problems)s.") % {"n": line, "problems": "; ".join(problems)}
            )
            if len(errors) >= MAX_ERRORS:
                errors.append(_("… stopped after %(n)d errors.") % {"n": MAX_ERRORS})
                break
    if not errors:
        by_key = {(r.institution_id, r.month, r.metric): r for r in rows}
        labels = dict(Metric.choices)
        for part, whole in NOT_ABOVE:
            for (inst, month, metric), row in by_key.items():
                if metric != part:
                    continue
                other = by_key.get((inst, month, whole))
                if other is not None and row.value > other.value:
                    errors.append(
                        _("Row %(n)d: %(part)s (%(a)s) exceeds %(whole)s (%(b)s) of row %(m)d.")
                        % {"n": row.line, "part": labels[part], "a": row.value,
                           "whole": labels[whole], "b": other.value, "m": other.line}
                    )  # fmt: skip
    if not rows and not errors:
        errors.append(_("The file has a header but no rows."))
    return Parsed(rows, errors)


def template_csv() -> bytes:
    """An example file people can fill in."""
    lines = ["institution_code,month,metric,value"]
    lines += [f"150627-T03,2025-06,{code},0" for code in Metric.values]
    return ("\n".join(lines) + "\n").encode()
