"""Facility standards (STD-02, STD-03, STD-04; 002 §2(一)–(二), §3(一)2): what each
grassroots institution lacks, and the level it is judged at."""

from __future__ import annotations

import pytest

from countycare.indicators import standards
from countycare.organizations.models import Equipment
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db
TOWNSHIP_KIT = ["ecg_machine", "blood_cell_counter", "urine_analyzer", "biochemistry_analyzer",
                "x_ray", "b_ultrasound", "simple_ventilator", "air_disinfector", "spirometer",
                "ambulance"]  # fmt: skip


def _staff(inst, n, **kw):
    for _ in range(n):
        StaffFactory(employer=inst, **kw)


def _row(rows, inst):
    return next(r for r in rows if r.institution == inst)


def test_township_center_staffing_and_equipment(tree):
    """Township A: 10 staff, 9 health technicians (90 %), 2 GPs, 1 of 4 physicians TCM
    (25 %), 1 public-health physician, every item of the township list → compliant.
    Township B lacks a public-health physician, a GP and the spirometer."""
    a = tree.township_a
    _staff(
        a,
        2,
        qualification="licensed_physician",
        practice_category="clinical",
        is_registered_gp=True,
    )
    _staff(a, 1, qualification="licensed_physician", practice_category="tcm")
    _staff(a, 1, qualification="public_health_physician", practice_category="public_health")
    _staff(a, 5, qualification="nurse", practice_category="nursing")
    _staff(a, 1)  # a driver: not a health technician
    for kind in TOWNSHIP_KIT:
        Equipment.objects.create(institution=a, kind=kind)
    b = tree.township_b
    _staff(
        b,
        1,
        qualification="licensed_physician",
        practice_category="clinical",
        is_registered_gp=True,
    )
    _staff(b, 1, qualification="licensed_physician", practice_category="mongolian_medicine")
    for kind in TOWNSHIP_KIT:
        if kind != "spirometer":
            Equipment.objects.create(institution=b, kind=kind)
    Equipment.objects.create(institution=b, kind="spirometer", in_service=False)
    rows = standards.compliance(tree.county)
    row_a = _row(rows, a)
    assert row_a.category == "township" and row_a.compliant, [c.code for c in row_a.lacks]
    lacks = {c.code for c in _row(rows, b).lacks}
    assert lacks == {"registered_gps", "public_health_physicians", "equipment:spirometer"}


def test_institution_raised_to_central_is_held_to_the_longer_list(tree):
    """A township center becoming a central center must have DR, color ultrasound and an
    automatic biochemistry analyzer; its X-ray and B-mode ultrasound no longer suffice."""
    a = tree.township_a
    for kind in TOWNSHIP_KIT:
        Equipment.objects.create(institution=a, kind=kind)

    def equipment_lacks():
        return {
            c.code
            for c in _row(standards.compliance(tree.county), a).lacks
            if c.code.startswith("equipment")
        }

    assert equipment_lacks() == set()
    a.is_central = True
    a.save()
    assert equipment_lacks() == {
        "equipment:dr",
        "equipment:color_ultrasound",
        "equipment:auto_biochemistry_analyzer",
    }


def test_village_clinic_doctors_per_1000(tree, village_doctors):
    """STD-03: 1–1.5 village doctors per 1,000 agricultural residents, all certified.
    A1: 1,500 residents → 2 doctors needed (2–2); A2: 3,000 → 3–4 but has 1."""
    tree.village_a1.agricultural_population = 1500
    tree.village_a1.save()
    tree.village_a2.agricultural_population = 3000
    tree.village_a2.save()
    rows = standards.compliance(tree.county)
    a1 = {c.code: c for c in _row(rows, tree.village_a1).checks}
    assert a1["village_doctors"].ok is True and a1["village_doctors"].required == "2–2"
    a2 = {c.code: c for c in _row(rows, tree.village_a2).checks}
    assert a2["village_doctors"].ok is False and a2["village_doctors"].required == "3–4"
    assert {c.code for c in _row(rows, tree.village_a1).lacks} == {"equipment:diagnostic_kit"}
