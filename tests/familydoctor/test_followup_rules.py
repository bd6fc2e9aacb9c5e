"""The classification of a follow-up, its next date and its referral triggers (FD-08, 国家基本
公共卫生服务规范（第三版）), against hand-worked cases. Pure: the rules get the policy's
declared defaults."""

import datetime as dt
from decimal import Decimal

import pytest

from countycare.familydoctor import followup as rules
from countycare.familydoctor import policy as fd_policy
from countycare.familydoctor.followup import Measurements, assess
from countycare.organizations import policy

DAY = dt.date(2026, 3, 10)


def defaults(**overrides) -> rules.Rules:
    reg = policy.REGISTRY
    values = {
        "bp_target": reg[fd_policy.BP_TARGET].default,
        "bp_referral": list(reg[fd_policy.BP_REFERRAL].default),
        "glucose_target": Decimal(str(reg[fd_policy.GLUCOSE_TARGET].default)),
        "glucose_referral": reg[fd_policy.GLUCOSE_REFERRAL].default,
        "heart_rate_referral": reg[fd_policy.HEART_RATE_REFERRAL].default,
        "temperature_referral": Decimal(str(reg[fd_policy.TEMPERATURE_REFERRAL].default)),
        "consecutive": reg[fd_policy.CONSECUTIVE_UNCONTROLLED_REFERRAL].default,
        "smd_unstable_risk": reg[fd_policy.SMD_UNSTABLE_RISK_LEVEL].default,
        "next_days": dict(reg[fd_policy.NEXT_FOLLOW_UP_DAYS].default),
        "referral_days": reg[fd_policy.REFERRAL_FOLLOW_UP_DAYS].default,
        "elderly_age": reg[policy.ELDERLY_AGE].default,
    }
    values.update(overrides)
    return rules.Rules(**values)


def bp(sbp, dbp, **kw):
    return Measurements(systolic_bp=Decimal(sbp), diastolic_bp=Decimal(dbp), **kw)


def htn(m, age=55, **kw):
    return assess(program="hypertension", followed_on=DAY, age=age, m=m, rules=defaults(), **kw)


def dm(glucose, age=55, sbp=130, dbp=80, **kw):
    m = bp(sbp, dbp, fasting_glucose=Decimal(str(glucose)), **kw.pop("m", {}))
    return assess(program="type2_diabetes", followed_on=DAY, age=age, m=m, rules=defaults(), **kw)


def days(outcome):
    return (outcome.next_due_on - DAY).days


@pytest.mark.parametrize(
    "sbp, dbp, age, cls, next_days",
    [
        (130, 80, 55, "controlled", 90),  # < 140/90
        (139, 89, 55, "controlled", 90),
        (140, 80, 55, "not_controlled", 14),  # SBP ≥ 140: adjust, again within 2 weeks
        (130, 90, 55, "not_controlled", 14),  # DBP ≥ 90
        (145, 85, 70, "controlled", 90),  # 65+: < 150/90
        (150, 85, 70, "not_controlled", 14),
        (145, 85, 64, "not_controlled", 14),  # one year short of the elderly target
    ],
)
def test_hypertension_class_and_next_date(sbp, dbp, age, cls, next_days):
    outcome = htn(bp(sbp, dbp), age=age)
    assert (outcome.classification, days(outcome), outcome.triggers) == (cls, next_days, [])


@pytest.mark.parametrize(
    "sbp, dbp, triggered",
    [(179, 109, False), (180, 100, True), (160, 110, True), (200, 120, True)],
)
def test_hypertension_critical_bp_refers_urgently(sbp, dbp, triggered):
    outcome = htn(bp(sbp, dbp))
    assert ("bp_critical" in outcome.triggers) is triggered
    if triggered:
        assert outcome.urgency == "urgent"
        assert days(outcome) == 14  # follow the referral up within two weeks
        assert outcome.classification == "not_controlled"


def test_danger_signs_refer_at_once_whatever_the_pressure():
    outcome = htn(bp(128, 78), danger_signs=["chest"])
    assert outcome.classification == "controlled"
    assert outcome.triggers == ["danger_sign"] and outcome.urgency == "urgent"
    assert days(outcome) == 14


def test_two_uncontrolled_in_a_row_advise_referral():
    first = htn(bp(150, 95), previous_classes=["controlled", "not_controlled"])
    assert first.triggers == []
    second = htn(bp(150, 95), previous_classes=["not_controlled", "controlled"])
    assert second.triggers == ["consecutive"] and second.urgency == "routine"
    # An adverse reaction counts as not controlled too.
    third = htn(bp(150, 95), previous_classes=["adverse_reaction"])
    assert third.triggers == ["consecutive"]
    # Controlled now: no referral, whatever came before.
    assert htn(bp(130, 80), previous_classes=["not_controlled"]).triggers == []


def test_adverse_reaction_and_complication_classes():
    mild = htn(bp(130, 80), adverse_reaction="mild")
    assert (mild.classification, days(mild), mild.triggers) == ("adverse_reaction", 14, [])
    severe = htn(bp(130, 80), adverse_reaction="severe")
    assert severe.triggers == ["adverse_severe"] and severe.urgency == "routine"
    worse = htn(bp(150, 95), adverse_reaction="mild", new_complication=True)
    assert worse.classification == "complication"  # the worst class that applies
    assert worse.triggers == ["complication"]


@pytest.mark.parametrize(
    "glucose, cls, triggers",
    [
        (6.9, "controlled", []),
        (7.0, "not_controlled", []),  # ≥ 7.0 mmol/L
        (16.6, "not_controlled", []),
        (16.7, "not_controlled", ["glucose_high"]),  # ≥ 16.7: refer at once
        (3.9, "controlled", ["glucose_low"]),  # ≤ 3.9: hypoglycaemia, refer at once
        (4.0, "controlled", []),
    ],
)
def test_diabetes_fasting_glucose(glucose, cls, triggers):
    outcome = dm(glucose)
    assert (outcome.classification, outcome.triggers) == (cls, triggers)
    assert days(outcome) == (14 if triggers or cls != "controlled" else 90)


def test_diabetes_random_glucose_also_triggers_but_does_not_classify():
    outcome = dm(6.1, m={"random_glucose": Decimal("17.0")})
    assert outcome.classification == "controlled"
    assert outcome.triggers == ["glucose_high"]


def test_diabetes_tachycardia_fever_and_bp():
    assert dm(6.0, m={"heart_rate": Decimal(100)}).triggers == []
    assert dm(6.0, m={"heart_rate": Decimal(101)}).triggers == ["tachycardia"]
    assert dm(6.0, m={"temperature": Decimal("39.0")}).triggers == []
    assert dm(6.0, m={"temperature": Decimal("39.1")}).triggers == ["fever"]
    assert dm(6.0, sbp=182, dbp=96).triggers == ["bp_critical"]


@pytest.mark.parametrize(
    "kw, cls, next_days, referred",
    [
        ({"risk_level": 0, "psychotic_symptoms": "gone", "insight": "recovered", "social_function": "good"}, "stable", 90, False),
        ({"risk_level": 0, "psychotic_symptoms": "gone", "insight": "recovered", "social_function": "fair"}, "stable", 90, False),
        ({"risk_level": 1, "psychotic_symptoms": "gone", "insight": "recovered", "social_function": "good"}, "basically_stable", 14, False),
        ({"risk_level": 0, "psychotic_symptoms": "present", "insight": "recovered", "social_function": "good"}, "basically_stable", 14, False),
        ({"risk_level": 0, "psychotic_symptoms": "gone", "insight": "partial", "social_function": "good"}, "basically_stable", 14, False),
        ({"risk_level": 0, "psychotic_symptoms": "gone", "insight": "recovered", "social_function": "poor"}, "basically_stable", 14, False),
        ({"risk_level": 3, "psychotic_symptoms": "gone", "insight": "recovered", "social_function": "good"}, "unstable", 14, True),
        ({"risk_level": 0, "psychotic_symptoms": "marked", "insight": "recovered", "social_function": "good"}, "unstable", 14, True),
        ({"risk_level": 0, "psychotic_symptoms": "gone", "insight": "absent", "social_function": "good"}, "unstable", 14, True),
        ({"risk_level": 1, "psychotic_symptoms": "gone", "insight": "recovered", "social_function": "good", "physical_disease": "severe"}, "unstable", 14, True),
        ({"risk_level": 1, "psychotic_symptoms": "gone", "insight": "recovered", "social_function": "good", "adverse_reaction": "severe"}, "unstable", 14, True),
    ],
)  # fmt: skip
def test_severe_mental_disorder_classes(kw, cls, next_days, referred):
    outcome = assess(program="severe_mental_disorder", followed_on=DAY, age=40, m=Measurements(),
                     rules=defaults(), **kw)  # fmt: skip
    assert outcome.classification == cls
    assert days(outcome) == next_days
    assert (outcome.triggers == ["smd_unstable"]) is referred


def test_the_numbers_come_from_the_policy():
    strict = defaults(bp_target={"default": [130, 80]}, next_days={"controlled": 60, "not_controlled": 7},
                      referral_days=10)  # fmt: skip
    outcome = assess(program="hypertension", followed_on=DAY, age=50, m=bp(132, 78), rules=strict)
    assert (outcome.classification, days(outcome)) == ("not_controlled", 7)
    outcome = assess(program="hypertension", followed_on=DAY, age=50, m=bp(125, 78), rules=strict)
    assert (outcome.classification, days(outcome)) == ("controlled", 60)
    critical = assess(program="hypertension", followed_on=DAY, age=50, m=bp(185, 100), rules=strict)
    assert days(critical) == 7  # the class's 7 days is sooner than the referral's 10


def test_trigger_texts_name_the_thresholds():
    r = defaults()
    assert "180" in r.trigger_text("bp_critical") and "110" in r.trigger_text("bp_critical")
    assert "16.7" in r.trigger_text("glucose_high")
    assert "3.9" in r.trigger_text("glucose_low")


def test_self_care_levels():
    assert [rules.self_care_level(s) for s in (0, 3, 4, 8, 9, 18, 19, 40)] == [
        "independent", "independent", "mild", "mild", "moderate", "moderate", "dependent",
        "dependent",
    ]  # fmt: skip
