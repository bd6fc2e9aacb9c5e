"""Recording chronic follow-ups (FD-08): under the contract, measurements stored once (typed
here or confirmed from a Walking Hospital visit and that day's lab results), class and next
date, referral triggers through the referrals app, long prescriptions, and bad input that
saves nothing."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from countycare.core.errors import Conflict, ValidationError
from countycare.core.models import AuditEntry
from countycare.familydoctor import selectors, services, signals
from countycare.familydoctor.models import FollowUp, LongPrescription
from countycare.telemed import services as telemed
from countycare.telemed.models import CriticalAlert, Observation
from tests.factories import KeyPopulationTagFactory
from tests.referrals.conftest import catalog, departments  # noqa: F401

pytestmark = pytest.mark.django_db


def aware(day, hour=10):
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


@pytest.fixture
def contracted(village_doctor, hypertensive, team_a, sign):
    """The hypertensive A1 resident under contract for 200 days."""
    start = timezone.localdate() - dt.timedelta(days=200)
    return sign(village_doctor, hypertensive, team_a, now=aware(start))


def record(actor, resident, **kw):
    kw.setdefault("program", "hypertension")
    kw.setdefault("adherence", "regular")
    kw.setdefault("measurements", {"systolic_bp": "132", "diastolic_bp": "84"})
    return services.record_follow_up(actor, resident=resident.pk, **kw)


def test_follow_up_classified_with_next_date_and_observations(village_doctor, contracted):
    resident = contracted.resident
    today = timezone.localdate()
    f = record(village_doctor, resident, measurements={"systolic_bp": "132", "diastolic_bp": "84",
               "heart_rate": "72", "weight": "70", "height": "170"},
               symptoms=["none"], lifestyle={"salt": "medium", "smoking_per_day": "5"},
               medications=[{"name": "氨氯地平片", "dose": "5 mg", "frequency": "每日1次"}])  # fmt: skip
    assert f.contract == contracted
    assert (f.classification, f.next_due_on) == ("controlled", today + dt.timedelta(days=90))
    assert (f.systolic_bp, f.diastolic_bp, f.heart_rate) == (132, 84, 72)
    assert f.bmi == Decimal("24.2")
    assert f.lifestyle == {"salt": "medium", "smoking_per_day": 5}
    codes = set(f.observations.values_list("code", flat=True))
    assert codes == {"8480-6", "8462-4", "8867-4", "29463-7", "8302-2", "39156-5"}
    assert Observation.objects.filter(resident=resident, visit__isnull=True).count() == 6
    assert f.referral_triggers == []
    assert AuditEntry.objects.filter(action="create", object_type="familydoctor.followup").exists()


def test_critical_bp_suggests_referral_and_raises_the_critical_value(village_doctor, contracted):
    f = record(village_doctor, contracted.resident,
               measurements={"systolic_bp": "186", "diastolic_bp": "112"})  # fmt: skip
    assert f.referral_triggers == ["bp_critical"] and f.referral_urgency == "urgent"
    assert f.next_due_on == f.followed_on + dt.timedelta(days=14)
    # The kit's critical-value rule (telemed, SBP ≥ 180) raised its alert as well.
    assert CriticalAlert.objects.filter(resident=contracted.resident).exists()
    assert selectors.referral_suggestions(village_doctor).filter(pk=f.pk).exists()


def test_refer_from_follow_up_goes_through_the_referrals_service(
    village_doctor,
    contracted,
    departments,  # noqa: F811 (the imported fixture)
    catalog,  # noqa: F811
):
    f = record(village_doctor, contracted.resident,
               measurements={"systolic_bp": "186", "diastolic_bp": "112"})  # fmt: skip
    referral = services.refer_from(village_doctor, f.pk, department=departments["心血管内科"].pk)
    f.refresh_from_db()
    assert f.referral == referral
    assert referral.direction == "up" and referral.urgency == "urgent"
    assert referral.diagnosis_code == "I10"
    assert "186/112" in referral.reason
    # The measurements and the critical value travel with the referral (SHC-01).
    alerts = CriticalAlert.objects.filter(resident=contracted.resident)
    assert alerts.count() == 2  # SBP ≥ 180 and DBP ≥ 110
    assert referral.critical_alert in alerts
    assert set(referral.observations.values_list("pk", flat=True)) == set(
        f.observations.values_list("pk", flat=True)
    )
    assert not selectors.referral_suggestions(village_doctor).filter(pk=f.pk).exists()
    with pytest.raises(Conflict):
        services.refer_from(village_doctor, f.pk, department=departments["心血管内科"].pk)


def test_two_uncontrolled_follow_ups_advise_referral(village_doctor, contracted):
    today = timezone.localdate()
    first = record(village_doctor, contracted.resident, followed_on=today - dt.timedelta(days=14),
                   measurements={"systolic_bp": "152", "diastolic_bp": "92"})  # fmt: skip
    assert first.classification == "not_controlled" and first.referral_triggers == []
    second = record(village_doctor, contracted.resident,
                    measurements={"systolic_bp": "150", "diastolic_bp": "94"})  # fmt: skip
    assert second.referral_triggers == ["consecutive"]
    assert second.referral_urgency == "routine"


def test_walking_hospital_visit_counts_without_typing_again(village_doctor, contracted):
    resident = contracted.resident
    visit = telemed.open_visit(village_doctor, resident=resident.pk,
                               vitals_data={"systolic_bp": "148", "diastolic_bp": "92", "pulse": "80"})  # fmt: skip
    before = Observation.objects.count()
    f = record(village_doctor, resident, visit=visit.pk, measurements={"weight": "68"})
    assert f.visit == visit
    assert (f.systolic_bp, f.diastolic_bp, f.heart_rate) == (148, 92, 80)
    assert f.classification == "not_controlled"
    assert f.followed_on == timezone.localdate(visit.visited_at)
    # Only the weight was new; the visit's three vitals are linked, not copied.
    assert Observation.objects.count() == before + 1
    assert set(visit.observations.all()) <= set(f.observations.all())
    assert not selectors.visits_to_confirm(village_doctor).filter(pk=visit.pk).exists()


def test_a_visit_value_typed_differently_is_an_error(village_doctor, contracted):
    visit = telemed.open_visit(village_doctor, resident=contracted.resident.pk,
                               vitals_data={"systolic_bp": "148", "diastolic_bp": "92"})  # fmt: skip
    assert selectors.visits_to_confirm(village_doctor).filter(pk=visit.pk).exists()
    with pytest.raises(ValidationError) as err:
        record(village_doctor, contracted.resident, visit=visit.pk,
               measurements={"systolic_bp": "130", "diastolic_bp": "92"})  # fmt: skip
    assert "systolic_bp" in err.value.extra["errors"]
    assert not FollowUp.objects.exists()


def test_a_visit_of_another_day_or_resident(village_doctor, contracted, residents):
    visit = telemed.open_visit(village_doctor, resident=contracted.resident.pk,
                               vitals_data={"systolic_bp": "128", "diastolic_bp": "80"})  # fmt: skip
    with pytest.raises(ValidationError) as err:
        record(village_doctor, contracted.resident, visit=visit.pk,
               followed_on=timezone.localdate() - dt.timedelta(days=1), measurements={})  # fmt: skip
    assert err.value.field == "followed_on"
    other = telemed.open_visit(village_doctor, resident=residents["a1"].pk,
                               vitals_data={"systolic_bp": "128", "diastolic_bp": "80"})  # fmt: skip
    assert other.resident_id == contracted.resident_id  # same resident: the A1 fixture
    from tests.factories import ResidentFactory

    neighbour = ResidentFactory(home_village=contracted.resident.home_village)
    theirs = telemed.open_visit(village_doctor, resident=neighbour.pk,
                                vitals_data={"systolic_bp": "128", "diastolic_bp": "80"})  # fmt: skip
    with pytest.raises(ValidationError) as err:
        record(village_doctor, contracted.resident, visit=theirs.pk, measurements={})
    assert err.value.code == "unknown_visit"


def test_diabetes_follow_up_takes_the_days_glucose_from_the_lab(village_doctor, contracted, team_a):
    from countycare.lab import services as lab

    resident = contracted.resident
    KeyPopulationTagFactory(resident=resident, tag="type2_diabetes",
                            recorded_on=timezone.localdate() - dt.timedelta(days=300))  # fmt: skip
    visit = telemed.open_visit(village_doctor, resident=resident.pk,
                               vitals_data={"systolic_bp": "128", "diastolic_bp": "78"})  # fmt: skip
    lab.enter_results(village_doctor, resident=resident.pk, device="glucose_meter",
                      values={"1558-6": "8.4"})  # fmt: skip
    f = record(village_doctor, resident, program="type2_diabetes", visit=visit.pk, measurements={})
    assert f.fasting_glucose == Decimal("8.4")
    assert f.classification == "not_controlled"
    assert "1558-6" in set(f.observations.values_list("code", flat=True))
    # A hypertension follow-up the same day reuses the same visit: one measurement, two forms.
    g = record(village_doctor, resident, program="hypertension", visit=visit.pk, measurements={})
    assert g.systolic_bp == 128 and g.classification == "controlled"


def test_diabetes_needs_the_fasting_glucose(village_doctor, contracted):
    KeyPopulationTagFactory(resident=contracted.resident, tag="type2_diabetes")
    with pytest.raises(ValidationError) as err:
        record(village_doctor, contracted.resident, program="type2_diabetes")
    assert "fasting_glucose" in err.value.extra["errors"]


@pytest.mark.parametrize(
    "kw, field, code",
    [
        ({"followed_on": "tomorrow"}, "followed_on", "future"),
        ({"followed_on": "201 days ago"}, "followed_on", "before_contract"),
        ({"followed_on": "2026-13-40"}, "followed_on", "invalid_date"),
        ({"program": "type2_diabetes"}, "program", "not_in_program"),
        ({"measurements": {"systolic_bp": "400", "diastolic_bp": "84"}}, None, "invalid_measurements"),
        ({"measurements": {"systolic_bp": "120", "diastolic_bp": "130"}}, None, "invalid_measurements"),
        ({"measurements": {"systolic_bp": "12O", "diastolic_bp": "80"}}, None, "invalid_measurements"),
        ({"measurements": {"diastolic_bp": "80"}}, None, "invalid_measurements"),
        ({"measurements": {}}, None, "invalid_measurements"),
        ({"measurements": {"systolic_bp": "130", "diastolic_bp": "80", "waist": "300"}}, None, "invalid_measurements"),
        ({"measurements": {"systolic_bp": "130", "diastolic_bp": "80", "pressure": "1"}}, "measurements", "invalid"),
        ({"symptoms": ["none", "nosebleed"]}, "symptoms", "inconsistent"),
        ({"symptoms": ["flying"]}, "symptoms", "invalid_choice"),
        ({"adherence": ""}, "adherence", "required"),
        ({"lifestyle": {"smoking_per_day": "500"}}, "lifestyle.smoking_per_day", "out_of_range"),
        ({"method": "telepathy"}, "method", "invalid"),
    ],
)  # fmt: skip
def test_bad_input_saves_nothing(village_doctor, contracted, kw, field, code):
    today = timezone.localdate()
    when = kw.get("followed_on")
    if when == "tomorrow":
        kw["followed_on"] = today + dt.timedelta(days=1)
    elif when == "201 days ago":
        kw["followed_on"] = today - dt.timedelta(days=201)
    before = Observation.objects.count()
    with pytest.raises(ValidationError) as err:
        record(village_doctor, contracted.resident, **kw)
    assert err.value.code == code
    if field:
        assert err.value.field == field
    assert not FollowUp.objects.exists()
    assert Observation.objects.count() == before


def test_impossible_values_are_all_reported_at_once(village_doctor, contracted):
    with pytest.raises(ValidationError) as err:
        record(village_doctor, contracted.resident, measurements={
            "systolic_bp": "400", "diastolic_bp": "84", "heart_rate": "3", "weight": "900"})  # fmt: skip
    assert set(err.value.extra["errors"]) == {"systolic_bp", "heart_rate", "weight"}
    assert "400" in err.value.extra["errors"]["systolic_bp"][0]


def test_no_contract_and_duplicate_day(
    village_doctor, township_doctor, contracted, residents, tree
):
    KeyPopulationTagFactory(resident=residents["a2"], tag="hypertension")
    with pytest.raises(ValidationError) as err:
        record(township_doctor, residents["a2"])
    assert err.value.code == "no_contract"
    record(village_doctor, contracted.resident)
    with pytest.raises(Conflict) as err:
        record(village_doctor, contracted.resident)
    assert err.value.code == "duplicate_follow_up"
    assert FollowUp.objects.count() == 1


def test_long_prescription_only_for_stable_patients(village_doctor, contracted):
    sent = []
    signals.long_prescription_issued.connect(lambda sender, prescription, **kw: sent.append(prescription),
                                             weak=False, dispatch_uid="t")  # fmt: skip
    try:
        meds = [{"name": "氨氯地平片", "dose": "5 mg", "frequency": "每日1次"}]
        with pytest.raises(ValidationError) as err:
            record(village_doctor, contracted.resident, medications=meds,
                   measurements={"systolic_bp": "150", "diastolic_bp": "95"},
                   long_prescription={"weeks": 12})  # fmt: skip
        assert err.value.code == "not_stable"
        with pytest.raises(ValidationError) as err:
            record(village_doctor, contracted.resident, medications=meds,
                   long_prescription={"weeks": 13})  # fmt: skip
        assert err.value.code == "out_of_range"  # at most 12 weeks (FD-05)
        assert not FollowUp.objects.exists()
        f = record(village_doctor, contracted.resident, medications=meds,
                   long_prescription={"weeks": 12})  # fmt: skip
        rx = LongPrescription.objects.get()
        assert rx.follow_up == f and rx.weeks == 12 and rx.items == meds
        assert rx.ends_on == f.followed_on + dt.timedelta(weeks=12)
        assert rx.status == "issued"
    finally:
        signals.long_prescription_issued.disconnect(dispatch_uid="t")


def test_severe_mental_disorder_follow_up(village_doctor, contracted):
    KeyPopulationTagFactory(resident=contracted.resident, tag="severe_mental_disorder")
    with pytest.raises(ValidationError) as err:
        record(village_doctor, contracted.resident, program="severe_mental_disorder",
               measurements={})  # fmt: skip
    assert err.value.field == "risk_level"
    f = record(village_doctor, contracted.resident, program="severe_mental_disorder",
               measurements={}, risk_level=4, psychotic_symptoms="present", insight="partial",
               social_function="fair")  # fmt: skip
    assert f.classification == "unstable" and f.referral_triggers == ["smd_unstable"]


def test_phone_follow_up_does_not_count_toward_the_four(village_doctor, contracted):
    today = timezone.localdate()
    record(
        village_doctor,
        contracted.resident,
        method="phone",
        followed_on=today - dt.timedelta(days=1),
    )
    record(village_doctor, contracted.resident, method="home")
    row = selectors.due_list(village_doctor).get()
    if today.timetuple().tm_yday > 1:
        assert row.done_year == 1
    assert row.last_on == today
