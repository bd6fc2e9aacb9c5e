"""Walking Hospital fixtures: the five shared centers at the lead hospital (telemed.catalog),
the cast's center reader reading for every center, and helpers to make orders."""

from __future__ import annotations

import pytest

from countycare.telemed import catalog, services
from countycare.telemed.models import CenterKind
from tests.factories import StaffFactory, with_role


@pytest.fixture
def centers(tree, center_reader) -> dict:
    """``centers["ecg"]`` … by kind; ``center_reader`` reads for all of them."""
    found = {c.kind: c for c in catalog.install(tree.lead_hospital)}
    for center in found.values():
        center.readers.add(center_reader)
    return found


@pytest.fixture
def ecg_center(centers):
    return centers[CenterKind.ECG]


@pytest.fixture
def make_reader(tree, centers):
    """``make_reader(name)``: another reader of the ECG center."""

    def make(username: str, kind: str = CenterKind.ECG):
        user = StaffFactory(username=username, employer=tree.lead_hospital)
        with_role(user, "center_reader", tree.lead_hospital)
        centers[kind].readers.add(user)
        return user

    return make


@pytest.fixture
def make_order(centers, residents, village_doctor):
    """``make_order(**kw)``: a submitted 12-lead ECG order for the A1 resident."""

    def make(**kw):
        kw.setdefault("resident", residents["a1"].pk)
        kw.setdefault("service", "ECG12")
        return services.create_order(kw.pop("actor", village_doctor), **kw)

    return make
