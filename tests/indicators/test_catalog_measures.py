"""Every indicator of the registry against a hand-computed small dataset (issue 9): the
imported-statistics ways (KPI-02: beds, new techniques, insurance; KPI-01 satisfaction), the
ways over another app's figures (referrals REF-02/KPI-02, outreach OUT-02…05, lab SHC-03,
read through the apps' own ``figures`` functions), the Walking Hospital's orders, turnaround
and critical values (WH-03, SHC-03, WH-07) and the facility-standards share (STD-01)."""

from __future__ import annotations

import datetime as dt
import sys
import types
from dataclasses import replace

import pytest

from countycare.indicators import periods
from countycare.indicators.compute import compute
from countycare.indicators.registry import Ctx, all_indicators, get
from countycare.organizations.models import Equipment
from countycare.telemed.models import CriticalAlert, ExamOrder
from tests.factories import StaffFactory
from tests.indicators.conftest import YEAR, aware
from tests.telemed.conftest import centers, make_order  # noqa: F401 — fixtures

pytestmark = pytest.mark.django_db
Y = periods.year(YEAR)


def ready(indicator, way: int = 0):
    """The indicator with only its way ``way``, its sources taken as holding data (the
    figures come from a stand-in of the app)."""
    w = indicator.ways[way]
    sources = tuple(replace(s, pending=False, has_data=None) for s in w.sources)
    return replace(indicator, ways=(replace(w, sources=sources),))


def fake_app(monkeypatch, module: str, function: str, answer):
    calls = []

    def figures(institution, start, end):
        calls.append((institution.code, start, end))
        return answer

    fake = types.ModuleType(module)
    setattr(fake, function, figures)
    monkeypatch.setitem(sys.modules, module, fake)
    return calls


def shown(o):
    return o.numerator, o.denominator, o.value, o.met


def test_imported_statistics_indicators(tree, import_rows):
    """Beds: township A 1,200 of 1,500 open bed-days and B 300 of 1,000 → county 60 %, A 80 %.
    New techniques at grassroots: 2 + 1 (the hospital's own 5 do not count) = 3. Satisfaction
    450 of 500 = 90 % (target 90: met). Insurance: grassroots 250,000 of 1,000,000 yuan."""
    import_rows([
        ("TA", f"{YEAR}-01", "open_bed_days", 1500), ("TA", f"{YEAR}-01", "occupied_bed_days", 1200),
        ("TB", f"{YEAR}-02", "open_bed_days", 1000), ("TB", f"{YEAR}-02", "occupied_bed_days", 300),
        ("TA", f"{YEAR}-03", "new_techniques", 2), ("VB1", f"{YEAR}-05", "new_techniques", 1),
        ("H01", f"{YEAR}-05", "new_techniques", 5),
        ("TA", f"{YEAR}-03", "satisfaction_surveyed", 300), ("TA", f"{YEAR}-03", "satisfaction_satisfied", 280),
        ("TB", f"{YEAR}-06", "satisfaction_surveyed", 200), ("TB", f"{YEAR}-06", "satisfaction_satisfied", 170),
        ("H01", f"{YEAR}-04", "insurance_fund_yuan", "750000.00"),
        ("TA", f"{YEAR}-04", "insurance_fund_yuan", "200000.00"),
        ("VA1", f"{YEAR}-04", "insurance_fund_yuan", "50000.00"),
        ("H01", f"{YEAR}-04", "upward_referrals", 80), ("H01", f"{YEAR}-04", "downward_referrals", 20),
    ])  # fmt: skip
    county, a = tree.county, tree.township_a
    assert shown(compute(get("grassroots_bed_occupancy"), county, Y)) == (1500, 2500, 60.0, None)
    assert shown(compute(get("grassroots_bed_occupancy"), a, Y))[:3] == (1200, 1500, 80.0)
    techniques = compute(get("new_techniques"), county, Y)
    assert (techniques.numerator, techniques.denominator, techniques.value) == (3, None, 3)
    assert shown(compute(get("satisfaction_rate"), county, Y)) == (450, 500, 90.0, True)
    assert shown(compute(get("satisfaction_rate"), tree.township_b, Y)) == (170, 200, 85.0, False)
    assert shown(compute(get("grassroots_insurance_share"), county, Y))[:3] == (
        250000,
        1000000,
        25.0,
    )
    # Downward referrals imported for the lead hospital (the second way, after the app's).
    down = compute(ready(get("downward_referral_share"), way=1), county, Y)
    assert shown(down)[:3] == (20, 100, 20.0)
    # The first half-year holds no bed-days of the second: July–December is not available.
    h2 = compute(get("grassroots_bed_occupancy"), county, periods.half(YEAR, 2))
    assert (h2.status, h2.value) == ("no_data", None)


def test_referral_figures(tree, monkeypatch):
    """REF-02/KPI-02 from referrals.selectors.figures: 30 down of (90 up received + 30 down)
    → 25 %; 12 out of the county of 60 up + 12 out → 16.67 % (lower is better)."""
    calls = fake_app(monkeypatch, "countycare.referrals.selectors", "figures", {
        "upward": 60, "downward": 41, "out_of_county": 12, "lead_upward_received": 90,
        "lead_downward": 30,
    })  # fmt: skip
    assert shown(compute(ready(get("downward_referral_share")), tree.county, Y))[:3] == (
        30,
        120,
        25.0,
    )
    out = compute(ready(get("out_of_county_referral_share")), tree.county, Y)
    assert (
        shown(out)[:3] == (12, 72, 16.67)
        and get("out_of_county_referral_share").direction == "lower"
    )
    assert calls[0] == ("150627", dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31))


def test_outreach_figures(tree, monkeypatch):
    """OUT-02…05 from outreach.compliance.figures: 9 of 12 points served twice (75 %, target
    100: not met), 30 of 36 elderly-care months, 40 of 50 village-weeks, 95 of 100 dispatch
    weeks."""
    fake_app(monkeypatch, "countycare.outreach.compliance", "figures", {
        "service_points": {"met": 9, "points": 12},
        "elderly_care": {"met": 30, "institution_months": 36},
        "village_circuits": {"met": 40, "village_weeks": 50},
        "dispatch": {"met": 95, "dispatch_weeks": 100},
    })  # fmt: skip
    county = tree.county
    assert shown(compute(ready(get("circuit_point_frequency")), county, Y)) == (9, 12, 75.0, False)
    assert shown(compute(ready(get("elderly_care_monthly_visits")), county, Y))[:3] == (
        30,
        36,
        83.33,
    )
    assert shown(compute(ready(get("village_circuit_rate")), county, Y))[:3] == (40, 50, 80.0)
    assert shown(compute(ready(get("dispatch_compliance")), county, Y))[:3] == (95, 100, 95.0)
    empty = {
        "met": 0,
        "points": 0,
        "institution_months": 0,
        "village_weeks": 0,
        "dispatch_weeks": 0,
    }
    fake_app(monkeypatch, "countycare.outreach.compliance", "figures",
             dict.fromkeys(("service_points", "elderly_care", "village_circuits", "dispatch"), empty))  # fmt: skip
    none = compute(ready(get("circuit_point_frequency")), county, Y)
    assert (none.status, none.value, none.met) == ("no_data", None, None)


def test_lab_figures(tree, monkeypatch):
    """SHC-03 from lab.selectors.figures, asked with the period's aware bounds: 190 of 200
    results within 2 h = 95 % (target 100: not met)."""
    calls = fake_app(monkeypatch, "countycare.lab.selectors", "figures",
                     {"measured": 200, "within_target": 190})  # fmt: skip
    assert shown(compute(ready(get("lab_within_2h")), tree.county, Y)) == (190, 200, 95.0, False)
    assert calls[0][1] == Y.start_at and calls[0][2] == Y.end_at


def test_walking_hospital_orders_turnaround_and_critical_values(
    tree,
    residents,
    village_doctor,
    make_order,  # noqa: F811
):
    """WH-03: 3 orders submitted in the year. SHC-03 (ECG routine target 120 min): one signed
    after 60 min, one after 180 min, one still open long past its target → 1 of 3 in time.
    WH-07 (15 min): acknowledged after 10 min, after 40 min, never → 1 of 3."""
    base = aware(dt.date(YEAR, 5, 1), 9)
    orders = [make_order() for _ in range(3)]
    for order, signed_after, status in ((orders[0], 60, "signed"), (orders[1], 180, "signed"),
                                        (orders[2], None, "submitted")):  # fmt: skip
        ExamOrder.objects.filter(pk=order.pk).update(
            submitted_at=base, status=status,
            signed_at=base + dt.timedelta(minutes=signed_after) if signed_after else None,
        )  # fmt: skip
    county = tree.county
    assert compute(get("wh_exam_orders"), county, Y).value == 3
    tat = compute(get("wh_tat_within_target"), county, Y)
    assert shown(tat)[:3] == (1, 3, 33.33)
    for minutes in (10, 40, None):
        CriticalAlert.objects.create(
            resident=residents["a1"], message="SpO2 85 %", notify=village_doctor,
            institution=tree.village_a1, raised_at=base,
            acknowledged_at=base + dt.timedelta(minutes=minutes) if minutes else None,
        )  # fmt: skip
    assert shown(compute(get("critical_ack_in_time"), county, Y))[:3] == (1, 3, 33.33)
    assert shown(compute(get("critical_ack_in_time"), tree.township_b, Y))[:2] == (0, 0)


def test_facility_standard_compliance_share(tree):
    """STD-01: of township A, B and the four village clinics, only A meets every check."""
    kit = ["ecg_machine", "blood_cell_counter", "urine_analyzer", "biochemistry_analyzer", "x_ray",
           "b_ultrasound", "simple_ventilator", "air_disinfector", "spirometer", "ambulance"]  # fmt: skip
    for kind in kit:
        Equipment.objects.create(institution=tree.township_a, kind=kind)
    for q, cat, gp in (("licensed_physician", "clinical", True), ("licensed_physician", "clinical", True),
                       ("licensed_physician", "tcm", False),
                       ("public_health_physician", "public_health", False)):  # fmt: skip
        StaffFactory(employer=tree.township_a, qualification=q, practice_category=cat,
                     is_registered_gp=gp)  # fmt: skip
    out = compute(get("facility_standard_compliance"), tree.county, Y)
    assert shown(out)[:3] == (1, 6, 16.67)
    assert compute(get("facility_standard_compliance"), tree.township_a, Y).value == pytest.approx(
        100 / 3, abs=0.01
    )


@pytest.mark.parametrize("where", ["county", "township_a", "village_a1", "lead_hospital"])
def test_every_way_runs_against_the_real_apps(tree, where):
    """Each way of each indicator, with its sources taken as holding data, runs its measures
    on the apps as they are (their real figures functions and models) — the keys it reads
    exist — and an empty county gives counts of 0, never an error."""
    institution = getattr(tree, where)
    for indicator in all_indicators():
        for way in indicator.ways:
            if any(not s.installed for s in way.sources):
                continue
            if any(s.pending for s in way.sources):
                # The app is still to expose its figures: the measure may not run yet.
                continue
            ctx = Ctx(institution, Y)
            numerator = way.numerator(ctx)
            assert numerator in (0, None), (indicator.code, numerator)
            if way.denominator is not None:
                # Counts of the empty county (the standards count its institutions).
                denominator = way.denominator(ctx)
                assert denominator is None or denominator >= 0, indicator.code
            if way.rows is not None:
                assert way.rows(ctx).count() == 0
