"""What the diagnostic kit measures (WH-02): each vital sign once, with its LOINC code, unit,
the range a living person can have (outside it the value is an error: a typo or a faulty
device) and the normal range (outside it the value is flagged). Critical thresholds are not
here: they are data (CriticalRule), configurable per county."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from countycare.core.errors import ValidationError


@dataclass(frozen=True)
class Vital:
    key: str  # the API / form field name
    code: str  # LOINC
    name: object  # lazy translated name
    unit: str
    possible: tuple[Decimal, Decimal]  # inclusive: outside is impossible → error
    normal: tuple[Decimal | None, Decimal | None]  # inclusive: outside → flag L / H
    decimals: int = 0


def _d(x) -> Decimal:
    return Decimal(str(x))


VITALS: tuple[Vital, ...] = (
    Vital("systolic_bp", "8480-6", gettext_lazy("Systolic blood pressure"), "mmHg",
          (_d(50), _d(300)), (_d(90), _d(139))),
    Vital("diastolic_bp", "8462-4", gettext_lazy("Diastolic blood pressure"), "mmHg",
          (_d(20), _d(200)), (_d(60), _d(89))),
    Vital("pulse", "8867-4", gettext_lazy("Pulse"), "/min", (_d(20), _d(300)), (_d(60), _d(100))),
    Vital("spo2", "59408-5", gettext_lazy("SpO2"), "%", (_d(50), _d(100)), (_d(95), None)),
    Vital("glucose_fasting", "1558-6", gettext_lazy("Fasting blood glucose"), "mmol/L",
          (_d("0.5"), _d(50)), (_d("3.9"), _d("6.0")), 1),
    Vital("glucose_random", "2339-0", gettext_lazy("Random blood glucose"), "mmol/L",
          (_d("0.5"), _d(50)), (_d("3.9"), _d("11.0")), 1),
    Vital("temperature", "8310-5", gettext_lazy("Body temperature"), "°C",
          (_d(30), _d(45)), (_d("36.0"), _d("37.3")), 1),
    Vital("height", "8302-2", gettext_lazy("Height"), "cm", (_d(30), _d(250)), (None, None), 1),
    Vital("weight", "29463-7", gettext_lazy("Weight"), "kg", (_d(1), _d(300)), (None, None), 1),
    Vital("bmi", "39156-5", gettext_lazy("BMI"), "kg/m2", (_d(8), _d(80)), (_d("18.5"), _d("23.9")),
          1),
)  # fmt: skip


def stored_name(vital: Vital) -> str:
    """The name stored on an Observation: in the county's language (settings.LANGUAGE_CODE),
    whatever language the recording user's browser asked for."""
    from django.conf import settings
    from django.utils import translation

    with translation.override(settings.LANGUAGE_CODE):
        return str(vital.name)


BY_KEY = {v.key: v for v in VITALS}
BY_CODE = {v.code: v for v in VITALS}


@dataclass(frozen=True)
class Measured:
    vital: Vital
    value: Decimal
    flag: str  # "N", "L", "H"


def parse(key: str, raw) -> Decimal | None:
    """The number the user typed, or None when left empty; an error when it is not one."""
    vital = BY_KEY[key]
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError(
            _("%(name)s must be a number.") % {"name": vital.name}, code="not_a_number", field=key
        ) from None
    if not value.is_finite():
        raise ValidationError(
            _("%(name)s must be a number.") % {"name": vital.name}, code="not_a_number", field=key
        )
    return value


def measure(key: str, value: Decimal) -> Measured:
    vital = BY_KEY[key]
    low, high = vital.possible
    if not (low <= value <= high):
        raise ValidationError(
            _(
                "%(name)s %(value)s %(unit)s is not possible (a person measures %(low)s–%(high)s). "
                "Check the device and measure again."
            )
            % {"name": vital.name, "value": value, "unit": vital.unit, "low": low, "high": high},
            code="impossible_value",
            field=key,
        )
    nlow, nhigh = vital.normal
    flag = "N"
    if nlow is not None and value < nlow:
        flag = "L"
    elif nhigh is not None and value > nhigh:
        flag = "H"
    return Measured(vital, value, flag)


def validate(data: dict) -> list[Measured]:
    """All the vitals in ``data`` (keys from :data:`VITALS`), each checked; every error at
    once (a ValidationError whose ``extra["errors"]`` maps each field to its message).
    BMI is computed from height and weight when both are given and BMI is not."""
    measured: list[Measured] = []
    errors: dict[str, list[str]] = {}
    values: dict[str, Decimal] = {}
    for vital in VITALS:
        try:
            value = parse(vital.key, data.get(vital.key))
            if value is None:
                continue
            measured.append(measure(vital.key, value))
            values[vital.key] = value
        except ValidationError as exc:
            errors[vital.key] = [str(exc.message)]
    if not errors:
        sbp, dbp = values.get("systolic_bp"), values.get("diastolic_bp")
        if sbp is not None and dbp is not None and dbp >= sbp:
            errors["diastolic_bp"] = [
                _("The diastolic pressure must be lower than the systolic pressure.")
            ]
        if (sbp is None) != (dbp is None):
            field = "diastolic_bp" if dbp is None else "systolic_bp"
            errors[field] = [_("Enter both systolic and diastolic pressure.")]
    if not errors and "bmi" not in values and "height" in values and "weight" in values:
        metres = values["height"] / 100
        bmi = (values["weight"] / (metres * metres)).quantize(Decimal("0.1"))
        try:
            measured.append(measure("bmi", bmi))
        except ValidationError as exc:
            errors["height"] = [str(exc.message)]
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationError(first, code="invalid_vitals", extra={"errors": errors})
    return measured
