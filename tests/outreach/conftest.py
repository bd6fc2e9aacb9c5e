from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from countycare.organizations.models import InstitutionType
from countycare.outreach.models import CircuitTeam, TeamMember
from tests.factories import InstitutionFactory, StaffFactory, with_role


@pytest.fixture(autouse=True)
def _english():
    """The services' messages are asserted in English (the UI default is Chinese)."""
    from django.utils import translation

    with translation.override("en"):
        yield


FUNCTIONS = ["clinical", "tcm", "nurse", "public_health", "auxiliary"]


@pytest.fixture
def geo_tree(tree):
    """The small tree with coordinates: township A at (39.50, 109.80), its villages around."""
    coords = {
        tree.township_a: ("39.50", "109.80"),
        tree.village_a1: ("39.52", "109.82"),
        tree.village_a2: ("39.46", "109.75"),
        tree.township_b: ("39.30", "109.60"),
        tree.village_b1: ("39.32", "109.62"),
        tree.village_b2: ("39.28", "109.55"),
        tree.lead_hospital: ("39.60", "109.78"),
    }
    for inst, (lat, lon) in coords.items():
        inst.latitude, inst.longitude = Decimal(lat), Decimal(lon)
        inst.served_population = 900
        inst.save()
    return tree


@pytest.fixture
def small_villages(geo_tree):
    """Two villages without a clinic under township A (OUT-04 applies)."""
    return [
        InstitutionFactory(code="VA3", name="甲三组", type=InstitutionType.VILLAGE,
                           parent=geo_tree.township_a, latitude=Decimal("39.55"),
                           longitude=Decimal("109.86"), served_population=120),
        InstitutionFactory(code="VA4", name="甲四组", type=InstitutionType.VILLAGE,
                           parent=geo_tree.township_a, latitude=Decimal("39.44"),
                           longitude=Decimal("109.83"), served_population=90),
    ]  # fmt: skip


@pytest.fixture
def circuit_team(geo_tree, small_villages):
    """Township A's circuit team: one member per OUT-04 function."""
    team = CircuitTeam.objects.create(name="札萨克巡诊队", kind="village_circuit",
                                      home=geo_tree.township_a)  # fmt: skip
    for function in FUNCTIONS:
        staff = StaffFactory(username=f"team_{function}", employer=geo_tree.township_a)
        with_role(staff, "township_doctor", geo_tree.township_a)
        TeamMember.objects.create(team=team, staff=staff, function=function,
                                  valid_from=dt.date(2020, 1, 1))  # fmt: skip
    return team
