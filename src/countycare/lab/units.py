"""What the platform knows about each common lab test (issue 5): whether its result is a
number, and which units it may be reported in — so a unit that contradicts the test (a
haemoglobin in 10*9/L, a glucose in %) is refused instead of stored, and a result in an
equivalent unit (g/dL for a range kept in g/L, 10*3/uL for 10*9/L) is compared with the
platform's reference range and the critical-value rules after conversion.

Units are compared after :func:`normalize` (UCUM as the analyzers write it: ``10^9/L``,
``10*9/L``, ``×10⁹/L``, ``10^3/μL``). Each accepted unit carries the factor that turns a value
in it into the test's canonical unit (the unit of the reference ranges and critical-value
rules), or ``None`` when there is no fixed factor (HbA1c in mmol/mol): such a result is
stored, but no range or rule in another unit is applied to it.

A test not listed here is not checked: its unit is stored as sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

D = Decimal
SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
POWER = re.compile(r"10([⁰¹²³⁴⁵⁶⁷⁸⁹]+)")

# Unit families: the unit as people write it → the factor to the family's canonical unit
# (None: no fixed factor). Compared after normalize().
COUNT_9 = {"10*9/L": D(1), "10*3/uL": D(1), "K/uL": D(1), "/nL": D(1), "10*3/mm3": D(1)}
COUNT_12 = {"10*12/L": D(1), "10*6/uL": D(1), "M/uL": D(1), "/pL": D(1), "10*6/mm3": D(1)}
MASS_G_L = {"g/L": D(1), "g/dL": D(10)}
PERCENT = {"%": D(1)}
FRACTION = {"%": D(1), "L/L": D(100), "1": D(100)}
FEMTOLITRE = {"fL": D(1), "um3": D(1)}
PICOGRAM = {"pg": D(1)}
# Glucose: 1 mmol/L = 18.016 mg/dL (molar mass 180.16 g/mol).
GLUCOSE = {"mmol/L": D(1), "mg/dL": D(1) / D("18.016")}
HBA1C = {"%": D(1), "mmol/mol": None}
ELECTROLYTE = {"mmol/L": D(1), "mEq/L": D(1)}  # monovalent ions: 1 mEq = 1 mmol
NO_UNIT = {"": D(1), "1": D(1)}
PH = {"": D(1), "1": D(1), "[pH]": D(1), "pH": D(1)}
# Test-strip blocks: ordinal, the unit only says what the block's number means.
STRIP_PROTEIN = {"": None, "g/L": None, "mg/dL": None}
STRIP_GLUCOSE = {"": None, "mmol/L": None, "mg/dL": None}
STRIP_BLOOD = {"": None, "Cell/uL": None, "/uL": None, "Ery/uL": None, "mg/dL": None}
STRIP_LEUKOCYTES = {"": None, "Cell/uL": None, "/uL": None, "Leu/uL": None}
STRIP_BILIRUBIN = {"": None, "umol/L": None, "mg/dL": None}
STRIP_UROBILINOGEN = {"": None, "umol/L": None, "mg/dL": None, "EU/dL": None}
STRIP_PRESENCE = {"": None}


def normalize(unit: str) -> str:
    """A unit as compared: lower case, no spaces, ``^`` and ``×`` as UCUM's ``*``, micro as
    ``u``, superscript digits as powers (``×10⁹/L`` → ``10*9/l``)."""
    text = (unit or "").strip().replace("µ", "u").replace("μ", "u")
    text = POWER.sub(lambda m: "10*" + m[1].translate(SUPERSCRIPTS), text)
    text = re.sub(r"^[×xX]\s*(?=10)", "", text)
    return text.replace("^", "*").replace(" ", "").lower()


@dataclass(frozen=True)
class TestKind:
    """``numeric``: the result is a number (a text result is an error, unless it is a
    comparison such as ``<0.1``); ``units``: normalized unit → factor to ``canonical``;
    ``shown``: the accepted units as written, for a message a person reads."""

    canonical: str
    units: dict[str, Decimal | None]
    numeric: bool = True
    shown: tuple[str, ...] = ()


def _kind(canonical: str, family: dict, numeric: bool = True) -> TestKind:
    return TestKind(
        canonical,
        {normalize(unit): f for unit, f in family.items()},
        numeric,
        tuple(u for u in family if u),
    )


# LOINC code → what the test is. CBC (WS/T 405-2012 parameters), glucose, HbA1c, and the
# urine test strip (the LOINC "by Test strip" codes the village kit's analyzers send).
TESTS: dict[str, TestKind] = {
    "6690-2": _kind("10*9/L", COUNT_9),  # WBC
    "777-3": _kind("10*9/L", COUNT_9),  # PLT
    "751-8": _kind("10*9/L", COUNT_9),  # NEUT#
    "731-0": _kind("10*9/L", COUNT_9),  # LYMPH#
    "742-7": _kind("10*9/L", COUNT_9),  # MONO#
    "711-2": _kind("10*9/L", COUNT_9),  # EO#
    "704-7": _kind("10*9/L", COUNT_9),  # BASO#
    "789-8": _kind("10*12/L", COUNT_12),  # RBC
    "718-7": _kind("g/L", MASS_G_L),  # HGB
    "786-4": _kind("g/L", MASS_G_L),  # MCHC
    "4544-3": _kind("%", FRACTION),  # HCT
    "787-2": _kind("fL", FEMTOLITRE),  # MCV
    "785-6": _kind("pg", PICOGRAM),  # MCH
    "788-0": _kind("%", PERCENT),  # RDW-CV
    "770-8": _kind("%", PERCENT),  # NEUT%
    "736-9": _kind("%", PERCENT),  # LYMPH%
    "5905-5": _kind("%", PERCENT),  # MONO%
    "713-8": _kind("%", PERCENT),  # EO%
    "706-2": _kind("%", PERCENT),  # BASO%
    "2345-7": _kind("mmol/L", GLUCOSE),  # glucose, serum/plasma
    "2339-0": _kind("mmol/L", GLUCOSE),  # glucose, blood
    "1558-6": _kind("mmol/L", GLUCOSE),  # fasting glucose
    "14749-6": _kind("mmol/L", GLUCOSE),  # glucose, moles/volume
    "1554-5": _kind("mmol/L", GLUCOSE),  # glucose, 12 h fasting (the GHH LAB example)
    "4548-4": _kind("%", HBA1C),  # HbA1c
    "2823-3": _kind("mmol/L", ELECTROLYTE),  # potassium, serum/plasma
    "2951-2": _kind("mmol/L", ELECTROLYTE),  # sodium, serum/plasma
    "5811-5": _kind("", NO_UNIT),  # urine specific gravity, test strip
    "5803-2": _kind("", PH),  # urine pH, test strip
    "5804-0": _kind("", STRIP_PROTEIN, numeric=False),
    "5792-7": _kind("", STRIP_GLUCOSE, numeric=False),
    "5797-6": _kind("", STRIP_GLUCOSE, numeric=False),  # ketones
    "5794-3": _kind("", STRIP_BLOOD, numeric=False),
    "5799-2": _kind("", STRIP_LEUKOCYTES, numeric=False),
    "5802-4": _kind("", STRIP_PRESENCE, numeric=False),  # nitrite
    "5770-3": _kind("", STRIP_BILIRUBIN, numeric=False),
    "5818-0": _kind("", STRIP_UROBILINOGEN, numeric=False),
}

# The names a Chinese lab report prints, for the tests listed here (the analyzers' own names
# vary: "HGB", "血红蛋白", "Hb").
NAMES = {
    "6690-2": "白细胞计数 WBC", "789-8": "红细胞计数 RBC", "718-7": "血红蛋白 HGB",
    "4544-3": "红细胞压积 HCT", "787-2": "平均红细胞体积 MCV", "785-6": "平均血红蛋白含量 MCH",
    "786-4": "平均血红蛋白浓度 MCHC", "788-0": "红细胞分布宽度 RDW-CV", "777-3": "血小板计数 PLT",
    "770-8": "中性粒细胞百分比 NEUT%", "736-9": "淋巴细胞百分比 LYMPH%",
    "5905-5": "单核细胞百分比 MONO%", "713-8": "嗜酸性粒细胞百分比 EO%",
    "706-2": "嗜碱性粒细胞百分比 BASO%", "751-8": "中性粒细胞绝对值 NEUT#",
    "731-0": "淋巴细胞绝对值 LYMPH#", "742-7": "单核细胞绝对值 MONO#",
    "711-2": "嗜酸性粒细胞绝对值 EO#", "704-7": "嗜碱性粒细胞绝对值 BASO#",
    "2345-7": "葡萄糖 GLU", "2339-0": "随机血糖", "1558-6": "空腹血糖", "14749-6": "葡萄糖 GLU",
    "1554-5": "葡萄糖（空腹12小时）", "4548-4": "糖化血红蛋白 HbA1c", "2823-3": "钾 K",
    "2951-2": "钠 Na", "5811-5": "尿比重 SG", "5803-2": "尿酸碱度 pH", "5804-0": "尿蛋白 PRO",
    "5792-7": "尿糖 GLU", "5797-6": "尿酮体 KET", "5794-3": "尿隐血 BLD",
    "5799-2": "尿白细胞 LEU", "5802-4": "亚硝酸盐 NIT", "5770-3": "尿胆红素 BIL",
    "5818-0": "尿胆原 URO",
}  # fmt: skip


def suggest_loinc(local_code: str, text: str = "") -> str:
    """The LOINC code whose name carries the analyzer's abbreviation or name (WBC → 6690-2,
    血红蛋白 → 718-7), to prefill the mapping form; "" when none or several fit."""
    wanted = {w for w in (local_code.strip().upper(), text.strip()) if w}
    found = [code for code, name in NAMES.items()
             if wanted & ({name.split()[-1].upper()} | set(name.split()))]  # fmt: skip
    return found[0] if len(found) == 1 else ""


# Not results: the patient's age as some analyzers report it beside the results (Mindray-
# protocol analyzers send OBX 30525-0 "Age"; the platform knows the birth date).
NOT_RESULTS = {"30525-0", "21612-7"}


def kind(code: str) -> TestKind | None:
    return TESTS.get(code)


def accepts(code: str, unit: str) -> bool:
    """False when ``unit`` contradicts the test ``code``; True for a test not listed."""
    found = TESTS.get(code)
    return found is None or normalize(unit) in found.units


def factor(code: str, unit: str) -> Decimal | None:
    """The factor from ``unit`` to the test's canonical unit; None when unknown."""
    found = TESTS.get(code)
    if found is None:
        return None
    return found.units.get(normalize(unit))


def convert(value: Decimal, code: str, from_unit: str, to_unit: str) -> Decimal | None:
    """``value`` in ``from_unit`` expressed in ``to_unit`` (same test), or None when the two
    units have no fixed relation. Equal units convert to themselves."""
    if normalize(from_unit) == normalize(to_unit):
        return value
    f_from, f_to = factor(code, from_unit), factor(code, to_unit)
    if f_from is None or f_to is None:
        return None
    return value * f_from / f_to


def significant(value: Decimal, digits: int = 3) -> Decimal:
    """``value`` rounded to ``digits`` significant digits, without an exponent in the text
    (a converted range bound: 3.9 mmol/L → 70.3 mg/dL)."""
    if value == 0:
        return D(0)
    exponent = value.adjusted() - digits + 1
    rounded = value.quantize(D(1).scaleb(exponent))
    return rounded if rounded.as_tuple().exponent <= 0 else D(int(rounded))
