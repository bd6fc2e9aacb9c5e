"""Referral fixtures: the starter disease catalog, departments at the lead hospital, a
published clinic session, and the township A's capability standard."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from countycare.referrals import appointments, catalogs
from countycare.referrals.models import Department
from tests.factories import StaffFactory, with_role


@pytest.fixture
def catalog(db):
    return catalogs.load_starter()


@pytest.fixture
def departments(tree) -> dict:
    names = ("心血管内科", "神经内科", "内分泌科", "骨科")
    found = {n: Department.objects.create(institution=tree.lead_hospital, name=n) for n in names}
    found["体检中心"] = Department.objects.create(
        institution=tree.lead_hospital, name="体检中心", takes_referrals=False
    )
    return found


@pytest.fixture
def hospital_admin(tree):
    """Manages the lead hospital's schedules (institution admin there)."""
    user = StaffFactory(username="hospital_admin", employer=tree.lead_hospital)
    with_role(user, "institution_admin", tree.lead_hospital)
    return user


@pytest.fixture
def other_hospital_specialist(tree):
    from tests.factories import InstitutionFactory

    hospital = InstitutionFactory(
        code="H02", name="伊金霍洛旗蒙医医院", type="mongolian_medicine_hospital",
        parent=tree.community,
    )  # fmt: skip
    user = StaffFactory(username="mongol_specialist", employer=hospital)
    with_role(user, "specialist", hospital)
    return user


def tomorrow_at(hour: int, minute: int = 0, days: int = 1) -> dt.datetime:
    day = timezone.localdate() + dt.timedelta(days=days)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


@pytest.fixture
def session(departments, hospital_admin, specialist):
    """In five days 08:00–10:00 at 心血管内科, 10 slots of 12 minutes (2 reserved, held for
    family doctors until 48 hours before)."""
    return appointments.publish_session(
        hospital_admin,
        department=departments["心血管内科"],
        doctor=specialist,
        starts_at=tomorrow_at(8, days=5),
        ends_at=tomorrow_at(10, days=5),
        slot_minutes=12,
    )


# The Walking Hospital's fixtures (shared centers, orders) for reports that travel.
from tests.telemed.conftest import centers, ecg_center, make_order  # noqa: E402, F401


@pytest.fixture
def signed_report(make_order, center_reader):  # noqa: F811 (the imported fixture)
    """A signed ECG report of the A1 resident."""
    from countycare.telemed import services as telemed

    order = make_order()
    telemed.claim(center_reader, order.pk)
    return telemed.sign_report(center_reader, order.pk, impression="窦性心动过速，ST段压低")


@pytest.fixture
def critical_alert(residents, village_doctor):
    """A Walking Hospital critical value (SBP 196) of the A1 resident."""
    from countycare.telemed import services as telemed

    visit = telemed.open_visit(
        village_doctor,
        resident=residents["a1"].pk,
        complaint="头痛、胸闷",
        vitals_data={"systolic_bp": "196", "diastolic_bp": "112"},
    )
    return visit.observations.get(code="8480-6").alerts.get()
