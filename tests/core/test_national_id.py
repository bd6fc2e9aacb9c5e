"""GB 11643-1999 national ID validation: what a valid number encodes, and which check fails
for each kind of invalid number."""

import datetime as dt

import pytest

from countycare.core import national_id as nid
from countycare.core.errors import ValidationError

TODAY = dt.date(2025, 6, 1)


def parse(raw):
    return nid.parse(raw, today=TODAY)


def failure(raw):
    with pytest.raises(nid.NationalIdError) as info:
        parse(raw)
    return info.value


@pytest.mark.parametrize(
    ("number", "birth", "sex"),
    [
        # The example of the standard itself: a woman born 1949-12-31, check character X.
        ("11010519491231002X", dt.date(1949, 12, 31), "F"),
        # Worked by hand: Σ(digit × weight) = 277, 277 mod 11 = 2 → "X"; 17th digit 1 → man.
        ("15062719800517001X", dt.date(1980, 5, 17), "M"),
        # 伊金霍洛旗, a girl born on a leap day.
        ("150627201602290022", dt.date(2016, 2, 29), "F"),
    ],
)
def test_valid_numbers_give_birth_date_sex_and_region(number, birth, sex):
    parsed = parse(number)
    assert parsed.number == number
    assert parsed.birth_date == birth
    assert parsed.sex == sex
    assert parsed.division_code == number[:6]


def test_check_character_follows_iso_7064_mod_11_2():
    # Σ = 277 → 277 mod 11 = 2 → "X" (table 1 0 X 9 8 7 6 5 4 3 2).
    assert nid.check_char("15062719800517001") == "X"
    assert nid.check_char("11010519491231002") == "X"
    # Sequence 003 instead of 001 adds 2 × 2 to the sum.
    assert nid.check_char("15062719800517003") == "6"  # Σ = 281 → 6


def test_build_composes_a_number_that_parses_back():
    number = nid.build("150627", dt.date(1990, 1, 1), 123)
    assert number.startswith("15062719900101123")
    parsed = parse(number)
    assert (parsed.birth_date, parsed.sex) == (dt.date(1990, 1, 1), "M")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("１５０６２７１９８００５１７００１Ｘ", "15062719800517001X"),  # full-width digits and X
        ("15062719800517001x", "15062719800517001X"),  # lower-case x
        ("15062719800517001ｘ", "15062719800517001X"),  # full-width lower-case x
        (" 150627 19800517 001X ", "15062719800517001X"),  # spaces
        ("150627\u300019800517001X", "15062719800517001X"),  # ideographic space
    ],
)
def test_normalisation_of_what_people_type_on_tablets(raw, expected):
    assert nid.normalize(raw) == expected
    assert parse(raw).number == expected


def test_empty_is_required():
    assert failure("  ").code == "required"


@pytest.mark.parametrize("raw", ["15062719800517001", "15062719800517001X1", "1"])
def test_wrong_length(raw):
    error = failure(raw)
    assert error.code == "length"
    assert str(len(raw)) in str(error.message)
    assert error.field == "national_id"


@pytest.mark.parametrize("raw", ["1506271980051700AX", "15062719800517001Y", "X50627198005170011"])
def test_wrong_characters(raw):
    assert failure(raw).code == "characters"


def test_unknown_province_code():
    first17 = "99062719800517001"
    error = failure(first17 + nid.check_char(first17))
    assert error.code == "region"
    assert "99" in str(error.message)


@pytest.mark.parametrize(
    "birth",
    [
        "19800230",  # 30 February
        "19801301",  # month 13
        "19800001",  # month 0
        "20230229",  # 2023 is not a leap year
    ],
)
def test_impossible_birth_date(birth):
    first17 = f"150627{birth}001"
    error = failure(first17 + nid.check_char(first17))
    assert error.code == "birth_date"
    assert birth in str(error.message)


@pytest.mark.parametrize("birth", ["20250602", "20300101", "18891231"])
def test_birth_date_in_the_future_or_before_1890(birth):
    first17 = f"150627{birth}001"
    error = failure(first17 + nid.check_char(first17))
    assert error.code == "birth_date"


def test_birth_date_today_is_accepted():
    first17 = "15062720250601002"
    assert parse(first17 + nid.check_char(first17)).birth_date == TODAY


def test_wrong_check_digit_says_which_character_was_expected():
    error = failure("150627198005170011")
    assert error.code == "check_digit"
    assert "X" in str(error.message)  # the expected character
    # A single typing error in the body is caught the same way.
    error = failure("11010519491231012X")
    assert error.code == "check_digit"
    assert nid.check_char("11010519491231012") in str(error.message)


def test_errors_are_domain_validation_errors_with_the_field():
    error = failure("123")
    assert isinstance(error, ValidationError)
    assert error.status_code == 400
    assert error.as_dict()["errors"] == {"national_id": [str(error.message)]}
    with pytest.raises(nid.NationalIdError) as info:
        nid.parse("123", field="id_number")
    assert info.value.field == "id_number"


def test_mask_keeps_the_first_four_and_last_four():
    assert nid.mask("15062719800517001X") == "1506**********001X"
    assert nid.parse("15062719800517001X").masked == "1506**********001X"
    assert nid.mask("1234567") == "*******"
