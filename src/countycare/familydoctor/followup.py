"""The rules of a chronic follow-up (FD-08, 国家基本公共卫生服务规范（第三版）): what the form
asks, how a follow-up is classified, when the next one is due, and what triggers a referral.
Pure functions over the numbers of ``familydoctor.policy`` (see its docstring for the source).

:func:`assess` is the one place these rules live; ``services.record_follow_up`` stores what it
returns and tests check it against hand-worked cases.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from countycare.familydoctor import policy as fd_policy
from countycare.familydoctor.models import (
    FACE_TO_FACE,
    Adherence,
    FollowUpClass,
    Insight,
    Level3,
    PhysicalDisease,
    Program,
    Severity,
    Symptoms,
)
from countycare.organizations import policy

C = FollowUpClass

# --- What the form asks (the specification's 随访服务记录表) ----------------------------------
# Symptoms since the last follow-up.
SYMPTOMS: dict[str, list[tuple[str, Any]]] = {
    Program.HYPERTENSION: [
        ("none", _("No symptoms")),
        ("headache_dizziness", _("Headache, dizziness")),
        ("nausea_vomiting", _("Nausea, vomiting")),
        ("blurred_vision_tinnitus", _("Blurred vision, tinnitus")),
        ("dyspnoea", _("Shortness of breath")),
        ("palpitations_chest_tightness", _("Palpitations, chest tightness")),
        ("nosebleed", _("Nosebleed that does not stop")),
        ("numb_limbs", _("Numb limbs")),
        ("leg_oedema", _("Swollen legs")),
    ],
    Program.TYPE2_DIABETES: [
        ("none", _("No symptoms")),
        ("polydipsia", _("Drinking much")),
        ("polyphagia", _("Eating much")),
        ("polyuria", _("Passing much urine")),
        ("blurred_vision", _("Blurred vision")),
        ("infection", _("Infection")),
        ("numb_hands_feet", _("Numb hands or feet")),
        ("leg_oedema", _("Swollen legs")),
        ("weight_loss", _("Marked weight loss")),
    ],
    Program.SEVERE_MENTAL_DISORDER: [
        ("none", _("No symptoms")),
        ("hallucination", _("Hallucinations")),
        ("delusion", _("Delusions")),
        ("excitement", _("Excitement, agitation")),
        ("low_mood", _("Low mood")),
        ("withdrawal", _("Withdrawal, apathy")),
        ("insomnia", _("Poor sleep")),
        ("self_harm_ideas", _("Thoughts of self-harm")),
    ],
}
# Danger signs (危急情况): any one means an urgent referral after first aid.
DANGER_SIGNS: dict[str, list[tuple[str, Any]]] = {
    Program.HYPERTENSION: [
        ("consciousness", _("Change of consciousness")),
        ("severe_headache", _("Severe headache or dizziness")),
        ("vomiting", _("Nausea and vomiting")),
        ("vision", _("Blurred vision, eye pain")),
        ("chest", _("Palpitations, chest tightness, cannot lie flat for breathlessness")),
        ("pregnancy", _("Pregnant or breastfeeding with raised blood pressure")),
        ("other_disease", _("Another disease that cannot be handled here")),
    ],
    Program.TYPE2_DIABETES: [
        ("consciousness", _("Change of consciousness or behaviour")),
        ("acetone_breath", _("Breath smelling of rotten apples (acetone)")),
        ("sweating_palpitations", _("Palpitations, sweating")),
        ("gastro", _("Poor appetite, nausea, vomiting, abdominal pain")),
        ("polyuria_deep_breathing", _("Much drinking and urine, deep breathing, flushed skin")),
        ("vision_loss", _("Sudden loss of vision")),
        ("pregnancy", _("Pregnant or breastfeeding with raised glucose")),
        ("other_disease", _("Another disease that cannot be handled here")),
    ],
    Program.SEVERE_MENTAL_DISORDER: [
        ("violence", _("Violence or threat to others")),
        ("self_harm", _("Self-harm or suicide attempt")),
        ("other_disease", _("Another disease that cannot be handled here")),
    ],
}
# Lifestyle items of the form: key → (label, kind, bounds or choices).
LIFESTYLE: dict[str, tuple[Any, str, Any]] = {
    "smoking_per_day": (_("Cigarettes a day"), "int", (0, 100)),
    "drinking_per_day": (_("Alcohol a day (liang)"), "int", (0, 50)),
    "exercise_per_week": (_("Exercise sessions a week"), "int", (0, 21)),
    "exercise_minutes": (_("Minutes each time"), "int", (0, 600)),
    "salt": (_("Salt intake"), "choice", ("light", "medium", "heavy")),
    "staple_food_g": (_("Staple food a day (g)"), "int", (0, 2000)),
    "psychology": (_("Psychological adjustment"), "choice", Level3.values),
    "compliance": (_("Follows medical advice"), "choice", Level3.values),
}
SALT_LABELS = {"light": _("Light"), "medium": _("Medium"), "heavy": _("Heavy")}
# Annual health check items (老年人健康管理服务规范, 辅助检查): code → (label, LOINC or service
# codes that show it was done).
CHECK_ITEMS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "blood_pressure": (_("Blood pressure"), ("8480-6",)),
    "cbc": (_("Blood routine"), ("718-7", "6690-2", "777-3")),
    "urinalysis": (_("Urine routine"), ("5804-0", "5792-7", "5811-5")),
    "liver": (_("Liver function (ALT, AST, bilirubin)"), ("1742-6", "1920-8", "1975-2")),
    "kidney": (_("Kidney function (creatinine, urea)"), ("2160-0", "3094-0")),
    "glucose": (_("Fasting glucose"), ("1558-6", "2345-7")),
    "lipids": (_("Blood lipids"), ("2093-3", "2571-8", "13457-7", "2085-9")),
    "ecg": (_("ECG"), ("ecg",)),
    "ultrasound": (_("Abdominal ultrasound"), ("ultrasound",)),
}


def choices(program: str, table: dict[str, list[tuple[str, Any]]]) -> list[tuple[str, Any]]:
    return table.get(program, [])


# --- Classification --------------------------------------------------------------------------
@dataclass(frozen=True)
class Trigger:
    code: str
    urgent: bool
    label: Any


TRIGGERS: dict[str, Trigger] = {
    t.code: t
    for t in (
        Trigger("bp_critical", True, _("SBP ≥ %(sbp)s or DBP ≥ %(dbp)s mmHg")),
        Trigger("glucose_high", True, _("Glucose ≥ %(high)s mmol/L")),
        Trigger("glucose_low", True, _("Glucose ≤ %(low)s mmol/L")),
        Trigger("tachycardia", True, _("Heart rate above %(hr)s/min")),
        Trigger("fever", True, _("Temperature above %(t)s °C")),
        Trigger("danger_sign", True, _("Danger signs")),
        Trigger("smd_unstable", True, _("Unstable (risk level %(risk)s or worse)")),
        Trigger("consecutive", False, _("Not controlled %(n)s times in a row")),
        Trigger("adverse_severe", False, _("Adverse reaction hard to control")),
        Trigger("complication", False, _("New or worsening complication")),
    )
}


@dataclass
class Measurements:
    systolic_bp: Decimal | None = None
    diastolic_bp: Decimal | None = None
    heart_rate: Decimal | None = None
    temperature: Decimal | None = None
    fasting_glucose: Decimal | None = None
    random_glucose: Decimal | None = None


@dataclass
class Assessment:
    classification: str
    next_due_on: dt.date
    triggers: list[str] = field(default_factory=list)

    @property
    def urgency(self) -> str:
        if not self.triggers:
            return ""
        return "urgent" if any(TRIGGERS[t].urgent for t in self.triggers) else "routine"


@dataclass(frozen=True)
class Rules:
    """The policy numbers of one community, read once per assessment."""

    bp_target: dict
    bp_referral: list
    glucose_target: Decimal
    glucose_referral: dict
    heart_rate_referral: int
    temperature_referral: Decimal
    consecutive: int
    smd_unstable_risk: int
    next_days: dict
    referral_days: int
    elderly_age: int

    @classmethod
    def current(cls, community=None) -> Rules:
        def v(key):
            return policy.value(key, community)

        return cls(
            bp_target=v(fd_policy.BP_TARGET),
            bp_referral=list(v(fd_policy.BP_REFERRAL)),
            glucose_target=Decimal(str(v(fd_policy.GLUCOSE_TARGET))),
            glucose_referral=v(fd_policy.GLUCOSE_REFERRAL),
            heart_rate_referral=int(v(fd_policy.HEART_RATE_REFERRAL)),
            temperature_referral=Decimal(str(v(fd_policy.TEMPERATURE_REFERRAL))),
            consecutive=int(v(fd_policy.CONSECUTIVE_UNCONTROLLED_REFERRAL)),
            smd_unstable_risk=int(v(fd_policy.SMD_UNSTABLE_RISK_LEVEL)),
            next_days=dict(v(fd_policy.NEXT_FOLLOW_UP_DAYS)),
            referral_days=int(v(fd_policy.REFERRAL_FOLLOW_UP_DAYS)),
            elderly_age=int(v(policy.ELDERLY_AGE)),
        )

    def trigger_text(self, code: str) -> str:
        low, high = self.glucose_referral.get("low"), self.glucose_referral.get("high")
        values = {
            "sbp": self.bp_referral[0],
            "dbp": self.bp_referral[1],
            "high": high,
            "low": low,
            "hr": self.heart_rate_referral,
            "t": self.temperature_referral,
            "risk": self.smd_unstable_risk,
            "n": self.consecutive,
        }
        return str(TRIGGERS[code].label) % values


def bp_target_for(rules: Rules, age: int) -> tuple[int, int]:
    """Controlled below this (SBP, DBP): 140/90, patients ≥ 65 150/90 (FD-08)."""
    key = "elderly" if age >= rules.elderly_age and "elderly" in rules.bp_target else "default"
    sbp, dbp = rules.bp_target[key]
    return int(sbp), int(dbp)


def _uncontrolled(cls: str) -> bool:
    return cls in (C.NOT_CONTROLLED, C.ADVERSE_REACTION)


def assess(
    *,
    program: str,
    followed_on: dt.date,
    age: int,
    m: Measurements,
    danger_signs: list[str] = (),
    adverse_reaction: str = Severity.NONE,
    new_complication: bool = False,
    previous_classes: list[str] = (),
    risk_level: int | None = None,
    psychotic_symptoms: str = "",
    insight: str = "",
    social_function: str = "",
    physical_disease: str = "",
    rules: Rules,
) -> Assessment:
    """The class of a follow-up, its referral triggers and the next date (FD-08).

    ``previous_classes``: the classes of the patient's earlier follow-ups of the program,
    newest first (two not controlled in a row advise referral)."""
    triggers: list[str] = []
    if program == Program.SEVERE_MENTAL_DISORDER:
        cls = _smd_class(
            rules, risk_level, psychotic_symptoms, insight, social_function, physical_disease,
            adverse_reaction,
        )  # fmt: skip
        if cls == C.UNSTABLE:
            triggers.append("smd_unstable")
        if danger_signs:
            triggers.append("danger_sign")
    else:
        sbp_ref, dbp_ref = (int(x) for x in rules.bp_referral)
        if (m.systolic_bp is not None and m.systolic_bp >= sbp_ref) or (
            m.diastolic_bp is not None and m.diastolic_bp >= dbp_ref
        ):
            triggers.append("bp_critical")
        if program == Program.TYPE2_DIABETES:
            high = Decimal(str(rules.glucose_referral["high"]))
            low = Decimal(str(rules.glucose_referral["low"]))
            glucose = [g for g in (m.fasting_glucose, m.random_glucose) if g is not None]
            if any(g >= high for g in glucose):
                triggers.append("glucose_high")
            if any(g <= low for g in glucose):
                triggers.append("glucose_low")
            if m.heart_rate is not None and m.heart_rate > rules.heart_rate_referral:
                triggers.append("tachycardia")
            if m.temperature is not None and m.temperature > rules.temperature_referral:
                triggers.append("fever")
        if danger_signs:
            triggers.append("danger_sign")
        cls = _chronic_class(program, age, m, adverse_reaction, new_complication, rules)
        if _uncontrolled(cls) and rules.consecutive > 1:
            streak = 1
            for earlier in previous_classes:
                if not _uncontrolled(earlier):
                    break
                streak += 1
            if streak >= rules.consecutive:
                triggers.append("consecutive")
        if adverse_reaction == Severity.SEVERE:
            triggers.append("adverse_severe")
        if cls == C.COMPLICATION:
            triggers.append("complication")
    days = int(rules.next_days.get(cls, 90))
    if triggers:
        # Follow the referral up within two weeks.
        days = min(days, rules.referral_days)
    return Assessment(cls, followed_on + dt.timedelta(days=days), triggers)


def _chronic_class(program, age, m, adverse_reaction, new_complication, rules) -> str:
    """The form's 此次随访分类, the worst that applies: complication, adverse reaction, not
    controlled, controlled."""
    if new_complication:
        return C.COMPLICATION
    if adverse_reaction in (Severity.MILD, Severity.SEVERE):
        return C.ADVERSE_REACTION
    if program == Program.HYPERTENSION:
        sbp_t, dbp_t = bp_target_for(rules, age)
        controlled = m.systolic_bp < sbp_t and m.diastolic_bp < dbp_t
    else:
        controlled = m.fasting_glucose < rules.glucose_target
    return C.CONTROLLED if controlled else C.NOT_CONTROLLED


def _smd_class(rules, risk, symptoms, insight, social, physical, adverse) -> str:
    """严重精神障碍 分类干预: unstable (risk 3–5, marked symptoms, no insight, severe adverse
    reaction or physical disease); basically stable (risk 1–2 or one aspect poor); stable."""
    if (
        risk >= rules.smd_unstable_risk
        or symptoms == Symptoms.MARKED
        or insight == Insight.ABSENT
        or adverse == Severity.SEVERE
        or physical == PhysicalDisease.SEVERE
    ):
        return C.UNSTABLE
    if (
        risk >= 1
        or symptoms == Symptoms.PRESENT
        or insight == Insight.PARTIAL
        or social == Level3.POOR
        or adverse == Severity.MILD
    ):
        return C.BASICALLY_STABLE
    return C.STABLE


STABLE_CLASSES = (C.CONTROLLED, C.STABLE)


def counts_toward_year(method: str) -> bool:
    """Only face-to-face follow-ups count toward the four a year (FD-08)."""
    return method in FACE_TO_FACE


def self_care_level(score: int) -> str:
    """老年人生活自理能力评估表: 0–3 independent, 4–8 mild, 9–18 moderate, ≥ 19 dependent."""
    if score <= 3:
        return "independent"
    if score <= 8:
        return "mild"
    if score <= 18:
        return "moderate"
    return "dependent"


ADHERENCE_NEEDED = (Adherence.REGULAR, Adherence.INTERMITTENT, Adherence.NONE)
