"""Devices without HL7 whose results are typed in (issue 5, SHC-03): the village kit's glucose
meter and the urine test strip (dry chemistry, 10 parameters). Each test carries its LOINC
code (the same codes the analyzers send and the critical-value rules use), its unit, and
what may be entered: a number within the device's measuring range, or one of the strip's
colour blocks. The flag comes from the platform's reference ranges (numbers) or from the
strip's normal blocks (ordinal results); critical values from the Walking Hospital's rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

# The strip's colour blocks, as printed on the vial (GB/T and manufacturers' labels).
NEG, TRACE = "-", "±"
GRADES = (NEG, TRACE, "+", "++", "+++", "++++")
GRADE_LABELS = {NEG: "−（阴性）", TRACE: "±（弱阳性）", "+": "+", "++": "++", "+++": "+++",
                "++++": "++++"}  # fmt: skip


@dataclass(frozen=True)
class Test:
    code: str  # LOINC
    name: str
    unit: str = ""
    # Numbers: the device's measuring range (outside it the meter shows LO/HI: not a value)
    # and the decimals it displays.
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    decimals: int = 1
    # Ordinal results (strip blocks): the blocks and those that are normal.
    choices: tuple[str, ...] = ()
    normal: tuple[str, ...] = ()
    # The strip's numeric blocks (specific gravity, pH).
    steps: tuple[str, ...] = ()
    label: object = ""

    @property
    def key(self) -> str:
        return "t_" + self.code.replace("-", "_")

    @property
    def is_ordinal(self) -> bool:
        return bool(self.choices)


@dataclass(frozen=True)
class Device:
    key: str
    label: object
    help: object
    tests: tuple[Test, ...] = field(default_factory=tuple)
    # Glucose: one value, the kind (fasting / random) chosen; the strip: any of its tests.
    one_of: bool = False

    def test(self, code: str) -> Test | None:
        return next((t for t in self.tests if t.code == code), None)


def _steps(start: str, stop: str, step: str) -> tuple[str, ...]:
    out, value = [], Decimal(start)
    while value <= Decimal(stop):
        out.append(str(value))
        value += Decimal(step)
    return tuple(out)


# Blood glucose meters (GB/T 19634-2021 《体外诊断检验系统 自测用血糖监测系统通用技术条件》)
# measure capillary glucose from about 1.1 to 33.3 mmol/L; outside that the meter shows
# LO/HI and the value must come from the lab.
GLUCOSE_MIN, GLUCOSE_MAX = Decimal("1.1"), Decimal("33.3")

DEVICES: dict[str, Device] = {
    "glucose_meter": Device(
        key="glucose_meter",
        label=_("Glucose meter"),
        help=_(
            "Capillary blood glucose, 1.1–33.3 mmol/L. LO or HI on the meter: send blood "
            "to the lab."
        ),
        one_of=True,
        tests=(
            Test(
                "1558-6",
                "空腹血糖",
                "mmol/L",
                GLUCOSE_MIN,
                GLUCOSE_MAX,
                1,
                label=_("Fasting blood glucose"),
            ),
            Test(
                "2339-0",
                "随机血糖",
                "mmol/L",
                GLUCOSE_MIN,
                GLUCOSE_MAX,
                1,
                label=_("Random blood glucose"),
            ),
        ),
    ),
    "urine_strip": Device(
        key="urine_strip",
        label=_("Urine test strip"),
        help=_(
            "Read the strip against the vial's colour chart at the time it states; leave a "
            "test empty if the strip has no block for it."
        ),
        tests=(
            Test(
                "5811-5",
                "尿比重",
                "",
                Decimal("1.000"),
                Decimal("1.030"),
                3,
                steps=_steps("1.000", "1.030", "0.005"),
                label=_("Specific gravity (SG)"),
            ),
            Test(
                "5803-2",
                "尿酸碱度",
                "",
                Decimal("5.0"),
                Decimal("9.0"),
                1,
                steps=_steps("5.0", "9.0", "0.5"),
                label=_("pH"),
            ),
            Test("5804-0", "尿蛋白", choices=GRADES[:5], normal=(NEG,), label=_("Protein (PRO)")),
            Test("5792-7", "尿糖", choices=GRADES, normal=(NEG,), label=_("Glucose (GLU)")),
            Test("5797-6", "尿酮体", choices=GRADES[:5], normal=(NEG,), label=_("Ketones (KET)")),
            Test("5794-3", "尿隐血", choices=GRADES[:5], normal=(NEG,), label=_("Blood (BLD)")),
            Test(
                "5799-2", "尿白细胞", choices=GRADES[:5], normal=(NEG,), label=_("Leukocytes (LEU)")
            ),
            Test("5802-4", "亚硝酸盐", choices=(NEG, "+"), normal=(NEG,), label=_("Nitrite (NIT)")),
            Test(
                "5770-3",
                "尿胆红素",
                choices=(NEG, "+", "++", "+++"),
                normal=(NEG,),
                label=_("Bilirubin (BIL)"),
            ),
            Test(
                "5818-0",
                "尿胆原",
                choices=(NEG, TRACE, "+", "++", "+++"),
                normal=(NEG, TRACE),
                label=_("Urobilinogen (URO)"),
            ),
        ),
    ),
}


def device(key: str) -> Device | None:
    return DEVICES.get(key)


def choices() -> list[tuple[str, object]]:
    return [(d.key, d.label) for d in DEVICES.values()]
