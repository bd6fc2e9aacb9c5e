"""Visits, vitals validation and critical values (WH-02; critical-value defaults of issue 3)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from countycare.core.errors import IllegalTransition, ValidationError
from countycare.telemed import critical, selectors, services
from countycare.telemed.models import AlertStatus, CriticalAlert, Observation, Visit

pytestmark = pytest.mark.django_db


def test_visit_with_vitals_flags_and_bmi(village_doctor, residents):
    visit = services.open_visit(
        village_doctor,
        resident=residents["a1"].pk,
        vitals_data={"systolic_bp": "150", "diastolic_bp": "95", "pulse": 72,
                     "height": "170", "weight": "80"},
    )  # fmt: skip
    obs = {o.code: o for o in visit.observations.all()}
    assert obs["8480-6"].flag == "H" and obs["8867-4"].flag == "N"
    assert obs["39156-5"].value == Decimal("27.7") and obs["39156-5"].flag == "H"
    assert not CriticalAlert.objects.exists()
    assert visit.institution.code == "VA1"


@pytest.mark.parametrize(
    "data,field",
    [
        ({"systolic_bp": "1200", "diastolic_bp": "80"}, "systolic_bp"),  # a typo for 120
        ({"spo2": "101"}, "spo2"),
        ({"temperature": "abc"}, "temperature"),
        ({"systolic_bp": "120"}, "diastolic_bp"),  # half a blood pressure
        ({"systolic_bp": "80", "diastolic_bp": "90"}, "diastolic_bp"),
        ({"glucose_fasting": "NaN"}, "glucose_fasting"),
    ],
)
def test_impossible_vitals_are_errors_and_nothing_is_written(village_doctor, residents, data,
                                                             field):  # fmt: skip
    with pytest.raises(ValidationError) as err:
        services.open_visit(village_doctor, resident=residents["a1"].pk, vitals_data=data)
    assert field in err.value.as_dict()["errors"]
    assert not Visit.objects.exists() and not Observation.objects.exists()


def test_all_errors_at_once(village_doctor, residents):
    with pytest.raises(ValidationError) as err:
        services.open_visit(
            village_doctor, resident=residents["a1"].pk, vitals_data={"spo2": "20", "pulse": "x"}
        )
    assert set(err.value.as_dict()["errors"]) == {"spo2", "pulse"}


@pytest.mark.parametrize(
    "data,code",
    [
        ({"spo2": "88"}, "59408-5"),
        ({"glucose_random": "2.5"}, "2339-0"),
        ({"glucose_fasting": "25"}, "1558-6"),
        ({"systolic_bp": "180", "diastolic_bp": "100"}, "8480-6"),
        ({"systolic_bp": "170", "diastolic_bp": "110"}, "8462-4"),
    ],
)
def test_critical_values_raise_an_alert(village_doctor, residents, data, code):
    services.open_visit(village_doctor, resident=residents["a1"].pk, vitals_data=data)
    alert = CriticalAlert.objects.get()
    assert alert.observation.code == code and alert.observation.is_critical
    assert alert.notify == village_doctor and alert.township.code == "TA"
    assert alert.status == AlertStatus.OPEN


def test_not_critical_at_the_boundary(village_doctor, residents):
    services.open_visit(
        village_doctor,
        resident=residents["a1"].pk,
        vitals_data={"spo2": "90", "glucose_random": "2.8", "systolic_bp": "179",
                     "diastolic_bp": "109"},
    )  # fmt: skip
    assert not CriticalAlert.objects.exists()


def test_alert_acknowledgement_and_escalation(village_doctor, township_doctor, village_doctor_b1,
                                              residents):  # fmt: skip
    services.open_visit(village_doctor, resident=residents["a1"].pk, vitals_data={"spo2": "85"})
    alert = CriticalAlert.objects.get()
    assert list(selectors.open_alerts(village_doctor)) == [alert]
    assert list(selectors.open_alerts(township_doctor)) == []  # not overdue yet
    CriticalAlert.objects.filter(pk=alert.pk).update(
        raised_at=timezone.now() - dt.timedelta(minutes=16)
    )
    assert list(selectors.open_alerts(township_doctor)) == [alert]  # overdue shows upward
    assert critical.escalate_overdue() == 1
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ESCALATED
    with pytest.raises(Exception):  # noqa: B017 — out of scope: not found
        critical.acknowledge(village_doctor_b1, alert.pk)
    critical.acknowledge(township_doctor, alert.pk, action_taken="已电话联系，建议转诊")
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED and alert.acknowledged_by == township_doctor
    with pytest.raises(IllegalTransition):
        critical.acknowledge(village_doctor, alert.pk)
