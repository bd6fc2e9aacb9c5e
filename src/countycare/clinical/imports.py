"""Reading encounter files exported from a hospital information system (HIS) or from the
insurance settlement data (医保结算清单): CSV (UTF-8 or GB18030) or Excel, a header row with
English or Chinese column names, one encounter a row. The whole file is validated first —
every problem with its row number at once — and nothing is written unless every row is valid.

Columns (extra columns are ignored)::

    number      就诊流水号 / 结算流水号   the sending system's own key (required)
    date        就诊日期 / 入院日期        2025-03-02, 2025/3/2, 20250302 or an Excel date
    kind        就诊类型                   门诊 / 急诊 / 住院 (outpatient / emergency / inpatient)
    institution_code  机构编码             the county institution; empty: outside the county
    provider    就诊机构名称               where, outside the county (required then)
    national_id 身份证号                   optional: finds the resident in the registry
    residence_code    居住地编码           optional: the village/community the patient lived in
    tcm         中医药服务                 是/否 (1/0): a TCM/Mongolian-medicine service
    total_cost  总费用                     yuan, optional
    fund_paid   医保基金支付               yuan, optional

The residence is the file's residence code, else the resident's home village in the registry
when the file is imported (monthly files: where he lived that month)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.translation import gettext as _

from countycare.clinical.models import EncounterKind
from countycare.core import crypto
from countycare.core import national_id as nid
from countycare.core.tables import UnreadableTable, header_index, read_table
from countycare.organizations.models import RESIDENCE_TYPES, Institution, InstitutionType

MAX_BYTES = 100 * 1024 * 1024
MAX_ERRORS = 200
COLUMNS = {
    "number": (
        "number",
        "encounter_no",
        "visit_no",
        "就诊流水号",
        "就诊号",
        "结算流水号",
        "流水号",
    ),
    "date": ("date", "visit_date", "admission_date", "就诊日期", "入院日期", "日期"),
    "kind": ("kind", "type", "visit_type", "就诊类型", "就诊类别", "类别"),
    "institution_code": ("institution_code", "机构编码", "定点机构编码", "医疗机构编码"),
    "provider": ("provider", "institution_name", "就诊机构名称", "定点机构名称", "医疗机构名称"),
    "national_id": ("national_id", "身份证号", "身份证号码", "公民身份号码", "证件号码"),
    "residence_code": ("residence_code", "village_code", "居住地编码", "常住地编码", "村编码"),
    "tcm": ("tcm", "中医药服务", "中医药（蒙医药）服务", "中医"),
    "total_cost": ("total_cost", "总费用", "医疗总费用"),
    "fund_paid": ("fund_paid", "医保基金支付", "基金支付", "统筹基金支付"),
}
REQUIRED = ("number", "date", "kind")
KINDS = {
    "outpatient": EncounterKind.OUTPATIENT, "门诊": EncounterKind.OUTPATIENT,
    "普通门诊": EncounterKind.OUTPATIENT, "门诊慢特病": EncounterKind.OUTPATIENT,
    "emergency": EncounterKind.EMERGENCY, "急诊": EncounterKind.EMERGENCY,
    "inpatient": EncounterKind.INPATIENT, "住院": EncounterKind.INPATIENT,
}  # fmt: skip
YES = {"1", "y", "yes", "true", "是", "有", "√"}
NO = {"", "0", "n", "no", "false", "否", "无"}
# Not places where a person is seen.
NOT_CARE = (InstitutionType.COUNTY, InstitutionType.MEDICAL_COMMUNITY, InstitutionType.VILLAGE)
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T].*)?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_MONEY_MAX = Decimal("1e10")


@dataclass(frozen=True)
class Row:
    line: int
    number: str
    date: dt.date
    kind: str
    institution_id: int | None
    institution_type: str
    provider: str
    id_hash: str | None  # keyed hash of the national ID, to find the resident
    residence_id: int | None
    tcm: bool
    total_cost: Decimal | None
    fund_paid: Decimal | None


@dataclass
class Parsed:
    rows: list[Row]
    errors: list[str]


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel stores codes typed as numbers as floats
    return str(value).strip()


def parse_date(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    m = _DATE.match(text) or _COMPACT_DATE.match(text)
    if not m:
        return None
    try:
        day = dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None
    return day if day.year >= 1900 else None


def _money(value, label: str, problems: list[str]) -> Decimal | None:
    text = _text(value).replace(",", "")
    if not text:
        return None
    try:
        amount = Decimal(text)
        if not amount.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        problems.append(
            _("%(field)s “%(v)s” is not an amount in yuan") % {"field": label, "v": text}
        )
        return None
    if amount < 0:
        problems.append(_("%(field)s cannot be negative") % {"field": label})
    elif amount >= _MONEY_MAX:
        problems.append(_("%(field)s is too large") % {"field": label})
    else:
        return amount.quantize(Decimal("0.01"))
    return None


def _lookup(codes: Iterable[str]) -> dict[str, tuple[int, str]]:
    codes = {c for c in codes if c}
    if not codes:
        return {}
    return {
        code: (pk, type_)
        for code, pk, type_ in Institution.objects.filter(code__in=codes).values_list(
            "code", "pk", "type"
        )
    }


def parse(name: str, content: bytes, *, today: dt.date | None = None) -> Parsed:
    """Validate a whole file; ``errors`` lists every problem with its row number."""
    if len(content) > MAX_BYTES:
        return Parsed([], [_("The file is larger than 100 MB; split it by month.")])
    try:
        table = read_table(name, content)
    except UnreadableTable as exc:
        if exc.reason == "excel":
            return Parsed([], [_("The Excel file cannot be read: %(e)s") % {"e": exc.detail}])
        return Parsed(
            [], [_("The file is neither CSV text (UTF-8 or GB18030) nor an Excel workbook.")]
        )
    if not table:
        return Parsed([], [_("The file is empty.")])
    index = header_index(table[0], COLUMNS)
    missing = [k for k in REQUIRED if k not in index]
    if missing:
        return Parsed([], [
            _("The header row lacks the column(s) %(cols)s; expected at least number, date, "
              "kind (or 就诊流水号, 就诊日期, 就诊类型).") % {"cols": ", ".join(missing)}
        ])  # fmt: skip
    width = len(table[0])

    def cells(raw) -> dict[str, object]:
        raw = list(raw) + [""] * (width - len(raw))
        return {key: raw[i] for key, i in index.items()}

    body = [cells(r) for r in table[1:]]
    if not body:
        return Parsed([], [_("The file has a header but no rows.")])
    institutions = _lookup(_text(r.get("institution_code", "")) for r in body)
    residences = _lookup(_text(r.get("residence_code", "")) for r in body)
    today = today or timezone.localdate()
    errors: list[str] = []
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for line, r in enumerate(body, start=2):
        problems: list[str] = []
        number = _text(r["number"])
        if not number:
            problems.append(_("the encounter number is empty"))
        elif len(number) > 64:
            problems.append(_("the encounter number is longer than 64 characters"))
        elif number in seen:
            problems.append(_("the same encounter number as row %(n)d") % {"n": seen[number]})
        day = parse_date(r["date"])
        if day is None:
            problems.append(_("“%(v)s” is not a date (use 2025-03-02)") % {"v": _text(r["date"])})
        elif day > today:
            problems.append(_("the date %(d)s is in the future") % {"d": day.isoformat()})
        kind = KINDS.get(_text(r["kind"]).lower())
        if kind is None:
            problems.append(
                _("“%(v)s” is not a kind of encounter (门诊, 急诊 or 住院)")
                % {"v": _text(r["kind"])}
            )
        code = _text(r.get("institution_code", ""))
        provider = _text(r.get("provider", ""))[:100]
        institution_id, institution_type = None, ""
        if code:
            found = institutions.get(code)
            if found is None:
                problems.append(_("no institution has the code “%(code)s”") % {"code": code})
            elif found[1] in NOT_CARE:
                problems.append(
                    _("“%(code)s” is not an institution where patients are seen") % {"code": code}
                )
            else:
                institution_id, institution_type = found
        elif not provider:
            problems.append(
                _("neither an institution code (in the county) nor the name of the institution "
                  "outside the county")
            )  # fmt: skip
        id_hash = None
        raw_id = _text(r.get("national_id", ""))
        if raw_id:
            try:
                id_hash = crypto.lookup_hash(nid.parse(raw_id, today=today).number)
            except nid.NationalIdError as exc:
                problems.append(_("national ID: %(e)s") % {"e": exc.message})
        residence_id = None
        residence_code = _text(r.get("residence_code", ""))
        if residence_code:
            found = residences.get(residence_code)
            if found is None or found[1] not in RESIDENCE_TYPES:
                problems.append(
                    _("“%(code)s” is not the code of a village or community")
                    % {"code": residence_code}
                )
            else:
                residence_id = found[0]
        tcm_text = _text(r.get("tcm", "")).lower()
        if tcm_text not in YES | NO:
            problems.append(_("TCM service “%(v)s” is neither 是 nor 否") % {"v": tcm_text})
        total_cost = _money(r.get("total_cost", ""), _("the total cost"), problems)
        fund_paid = _money(r.get("fund_paid", ""), _("the insurance fund paid"), problems)
        if total_cost is not None and fund_paid is not None and fund_paid > total_cost:
            problems.append(_("the insurance fund paid exceeds the total cost"))
        if problems:
            errors.append(
                _("Row %(n)d: %(problems)s.") % {"n": line, "problems": "; ".join(problems)}
            )
            if len(errors) >= MAX_ERRORS:
                errors.append(_("… stopped after %(n)d errors.") % {"n": MAX_ERRORS})
                break
            continue
        seen[number] = line
        rows.append(Row(line, number, day, kind, institution_id, institution_type, provider,
                        id_hash, residence_id, tcm_text in YES, total_cost, fund_paid))  # fmt: skip
    return Parsed(rows, errors)


def template_csv() -> bytes:
    """An example file people can fill in (Chinese headers, as the county's exports have)."""
    lines = [
        "就诊流水号,就诊日期,就诊类型,机构编码,就诊机构名称,身份证号,居住地编码,中医药服务,总费用,医保基金支付",
        "MZ2025030200001,2025-03-02,门诊,150627-T06-V001,,,150627-T06-V001,是,86.50,52.00",
        "ZY2025030500017,2025-03-05,住院,,鄂尔多斯市中心医院,,150627-T06-V001,否,8620.00,5900.00",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8-sig")
