"""Resident identity card number (居民身份证号码), GB 11643-1999.

18 characters: 6-digit administrative division code, 8-digit birth date (YYYYMMDD), 3-digit
sequence (odd for men, even for women), and an ISO 7064 MOD 11-2 check character (0-9 or X).
Each failed check raises :class:`NationalIdError` with a ``code`` naming it and a message that
says what is wrong.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

from countycare.core.errors import ValidationError

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
# Province-level codes of GB/T 2260 (first two digits of the division code).
PROVINCE_CODES = frozenset(
    {
        "11", "12", "13", "14", "15",
        "21", "22", "23",
        "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46",
        "50", "51", "52", "53", "54",
        "61", "62", "63", "64", "65",
        "71", "81", "82",
    }
)  # fmt: skip
_SHAPE = re.compile(r"^\d{17}[\dX]$")
EARLIEST_BIRTH = dt.date(1890, 1, 1)

SEX_MALE = "M"
SEX_FEMALE = "F"


class NationalIdError(ValidationError):
    default_code = "national_id_invalid"


@dataclass(frozen=True)
class NationalId:
    number: str
    division_code: str
    birth_date: dt.date
    sex: str  # "M" or "F"

    @property
    def masked(self) -> str:
        return mask(self.number)


def normalize(raw: str) -> str:
    """Strip spaces and full-width characters people type on tablets; upper-case the X."""
    text = (raw or "").strip().replace(" ", "").replace("\u3000", "")
    text = text.translate({0xFF10 + i: ord("0") + i for i in range(10)})  # full-width digits
    return text.replace("ｘ", "X").replace("Ｘ", "X").upper()


def check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def parse(raw: str, *, today: dt.date | None = None, field: str = "national_id") -> NationalId:
    """Validate a national ID and return what it encodes, or raise NationalIdError."""
    number = normalize(raw)
    if not number:
        raise NationalIdError(_("Enter the national ID number."), code="required", field=field)
    if len(number) != 18:
        raise NationalIdError(
            _("A national ID has 18 characters; this one has %(n)d.") % {"n": len(number)},
            code="length",
            field=field,
        )
    if not _SHAPE.match(number):
        raise NationalIdError(
            _("The first 17 characters must be digits and the last a digit or X."),
            code="characters",
            field=field,
        )
    division = number[:6]
    if division[:2] not in PROVINCE_CODES:
        raise NationalIdError(
            _("The region code %(code)s is not a valid province code.") % {"code": division[:2]},
            code="region",
            field=field,
        )
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise NationalIdError(
            _("The birth date %(date)s in the ID is not a real date.") % {"date": number[6:14]},
            code="birth_date",
            field=field,
        ) from None
    today = today or dt.date.today()
    if birth > today or birth < EARLIEST_BIRTH:
        raise NationalIdError(
            _("The birth date %(date)s in the ID is out of range.") % {"date": birth.isoformat()},
            code="birth_date",
            field=field,
        )
    expected = check_char(number[:17])
    if number[17] != expected:
        raise NationalIdError(
            _(
                "The check digit does not match: the last character should be %(expected)s, "
                "not %(given)s. Check the number for a typing error."
            )
            % {"expected": expected, "given": number[17]},
            code="check_digit",
            field=field,
        )
    sex = SEX_MALE if int(number[16]) % 2 == 1 else SEX_FEMALE
    return NationalId(number=number, division_code=division, birth_date=birth, sex=sex)


def mask(number: str) -> str:
    """``150627199001011234`` → ``1506**********1234``."""
    if len(number) < 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def build(division_code: str, birth_date: dt.date, sequence: int) -> str:
    """Compose a valid number (for the demo county and tests)."""
    first17 = f"{division_code}{birth_date:%Y%m%d}{sequence:03d}"
    return first17 + check_char(first17)
