"""Flags from the platform's reference ranges when the analyzer sends none (issue 5, SHC-03):
by the resident's sex and age on the day of the observation, WS/T 405-2012 for adults."""

import datetime as dt
from decimal import Decimal

import pytest

from countycare.lab.ingest import ingest
from countycare.lab.models import LabResult, ReferenceRange
from countycare.residents.models import Resident
from countycare.telemed.models import Observation

pytestmark = pytest.mark.usefixtures("reference_ranges")

BARE = [  # no range, no flag: as some village-kit analyzers send
    ("6690-2", "WBC", "11.0", "10*9/L", "", ""),
    ("718-7", "HGB", "118", "g/L", "", ""),
    ("777-3", "PLT", "402", "10*9/L", "", ""),
    ("2345-7", "GLU", "7.2", "mmol/L", "", ""),
]


def flags(order) -> dict:
    return dict(Observation.objects.filter(order=order).values_list("name", "flag"))


def test_the_data_migration_installed_ws_t_405_ranges():
    hgb = ReferenceRange.objects.get(code="718-7", sex="M", age_min=18)
    assert (hgb.low, hgb.high, hgb.unit, hgb.source) == (
        Decimal("130"),
        Decimal("175"),
        "g/L",
        "WS/T 405-2012",
    )
    assert ReferenceRange.objects.filter(code="718-7", sex="F", age_min=18).get().low == 115
    assert ReferenceRange.objects.filter(code="2345-7").exists()
    assert ReferenceRange.objects.filter(code="5811-5").exists()  # urine specific gravity


def test_an_adult_man_is_flagged_by_the_adult_male_range(make_oru, cbc_order):
    row = ingest(make_oru(obx=BARE)).message
    assert row.status == "accepted"

    assert flags(cbc_order) == {"WBC": "H", "HGB": "L", "PLT": "H", "GLU": "H"}
    hgb = Observation.objects.get(order=cbc_order, code="718-7")
    assert (hgb.reference_low, hgb.reference_high) == (Decimal("130"), Decimal("175"))
    result = LabResult.objects.get(observation=hgb)
    assert result.range_source == "platform"
    assert result.reference_range == ReferenceRange.objects.get(code="718-7", sex="M", age_min=18)


def test_a_woman_gets_the_female_range(make_oru, cbc_order, residents):
    Resident.objects.filter(pk=residents["a1"].pk).update(sex="F")
    ingest(make_oru(obx=BARE))
    assert flags(cbc_order)["HGB"] == "N"  # 118 is within 115-150


def test_a_child_gets_the_child_range_by_age_on_the_day(make_oru, cbc_order, residents):
    # Observed 2026-11-25: born 2018-06-01, so 8 years old (WS/T 779-2021, 6-13 years).
    Resident.objects.filter(pk=residents["a1"].pk).update(birth_date=dt.date(2018, 6, 1))
    ingest(make_oru(obx=BARE))
    got = flags(cbc_order)
    assert (got["WBC"], got["HGB"], got["PLT"]) == ("N", "N", "N")
    wbc = Observation.objects.get(order=cbc_order, code="6690-2")
    assert wbc.reference_high == Decimal("11.3")


def test_the_analyzer_range_and_flag_win(make_oru, cbc_order):
    ingest(make_oru())  # the CBC with ranges; PLT without a flag is computed from its range
    got = flags(cbc_order)
    assert got["PLT 血小板计数"] == "H"
    plt = LabResult.objects.get(observation__order=cbc_order, code="777-3")
    assert (plt.range_source, plt.reference_range) == ("analyzer", None)


def test_a_range_in_other_units_is_converted(make_oru, cbc_order):
    """WS/T 405 keeps haemoglobin in g/L; a result in g/dL is compared in g/dL."""
    ingest(make_oru(obx=[("718-7", "HGB", "11.8", "g/dL", "", "")]))
    hgb = Observation.objects.get(order=cbc_order)
    assert (hgb.flag, hgb.reference_low, hgb.reference_high) == ("L", Decimal(13), Decimal("17.5"))
    assert LabResult.objects.get(observation=hgb).range_source == "platform"


def test_counts_in_equivalent_units_use_the_range_as_is(make_oru, cbc_order):
    ingest(make_oru(obx=[("6690-2", "WBC", "11.0", "10^3/μL", "", "")]))
    wbc = Observation.objects.get(order=cbc_order)
    assert (wbc.flag, wbc.reference_high, wbc.unit) == ("H", Decimal("9.5"), "10^3/μL")


def test_no_platform_range_no_flag(make_oru, cbc_order):
    ingest(make_oru(obx=[("2093-3", "CHOL", "5.9", "mmol/L", "", "")]))
    assert Observation.objects.get(order=cbc_order).flag == ""
