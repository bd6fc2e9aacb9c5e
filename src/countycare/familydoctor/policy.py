"""Policy numbers of family-doctor contracts and chronic-disease follow-up (organizations.policy),
each with the requirement it implements. A county sets its own value with a PolicyValue row.

Sources, checked when implementing (issue 7):

- FD-01: seed 001 §11 — 2024 全人群 60 %, 重点人群 90 % contract coverage.
- FD-02: seed 002 §2(三)3 — coverage rises 1–3 points a year; 2025 ≥ 75 % / ≥ 90 %.
- FD-04: seed 002 §3(二)3 — "原则上将不低于70%的签约服务费用于家庭医生服务人员的薪酬分配".
- FD-08: 《国家基本公共卫生服务规范（第三版）》(国卫基层发〔2017〕13号), the service
  specifications 高血压患者健康管理服务规范, 2型糖尿病患者健康管理服务规范 (§2 服务内容:
  (二) 随访评估, (三) 分类干预, (四) 健康体检), 严重精神障碍患者管理服务规范 (随访评估的
  危险性评估 0–5 级, 分类干预) and 老年人健康管理服务规范 (每年 1 次健康管理服务). What it
  says and what we took:
    * ≥ 4 face-to-face follow-ups a year (hypertension, type-2 diabetes; severe mental
      disorder "每年至少随访4次").
    * Hypertension controlled: < 140/90 mmHg; patients ≥ 65 years < 150/90 mmHg.
    * Type-2 diabetes controlled: fasting glucose < 7.0 mmol/L.
    * Not controlled (first time) or adverse drug reaction → adjust, follow up within 2 weeks.
    * Two consecutive follow-ups not controlled, an adverse reaction hard to control, a new or
      worsening complication → advise referral, follow up the referral within 2 weeks.
    * Danger signs → urgent referral after first aid: SBP ≥ 180 and/or DBP ≥ 110 mmHg (both
      programs); glucose ≥ 16.7 or ≤ 3.9 mmol/L; persistent tachycardia (heart rate > 100/min)
      and temperature > 39 °C (diabetes); the symptom lists of the two specifications; follow
      up the referral within 2 weeks.
    * Severe mental disorder: risk level 3–5, marked psychotic symptoms, no insight, a severe
      adverse reaction or severe physical disease → unstable, refer at once, follow up within
      2 weeks; risk 1–2 or one aspect poor → basically stable, observe 2 weeks; risk 0 and
      all well → stable, follow up at 3 months.
    * The specification sets no fixed interval after a controlled follow-up ("预约下一次随访");
      three months keeps the four a year, so 90 days is the default here.
    * Residents 65+ get one health management service (health check) a year; so do
      hypertension, diabetes and (with consent) severe mental disorder patients.
- FD-05 / 长期处方: 《长期处方管理规范（试行）》(国卫办医发〔2021〕17号) — a long prescription
  for a stable chronic patient covers at most 12 weeks.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from countycare.organizations.policy import declare

# --- Coverage (FD-01, FD-02) -------------------------------------------------------------------
COVERAGE_TARGET = declare(
    "familydoctor_coverage_target",
    {"2024": 60, "2025": 75},
    "FD-02",
    _("Contract coverage of all residents per year, target (the latest year not after it)"),
    "%",
)
KEY_COVERAGE_TARGET = declare(
    "familydoctor_key_coverage_target",
    {"2024": 90, "2025": 90},
    "FD-02",
    _("Contract coverage of key populations per year, target (the latest year not after it)"),
    "%",
)
COVERAGE_MIN_ANNUAL_RISE = declare(
    "familydoctor_coverage_min_annual_rise",
    1,
    "FD-02",
    _("Rise of contract coverage over the previous year, minimum (until the target is met)"),
    "points",
)
# --- Contracts (FD-03) -----------------------------------------------------------------------
CONTRACT_MONTHS = declare(
    "familydoctor_contract_months",
    12,
    "FD-03",
    _("Length of a family-doctor contract"),
    "months",
)
RENEWAL_WINDOW_DAYS = declare(
    "familydoctor_renewal_window_days",
    60,
    "FD-03",
    _("How many days before a contract ends it may be renewed"),
    "days",
)
# --- Fee split (FD-04) -------------------------------------------------------------------------
TEAM_FEE_SHARE_MIN = declare(
    "familydoctor_team_fee_share_min",
    0.7,
    "FD-04",
    _("Share of contract service fees paid to the family-doctor team's staff, minimum"),
)
# --- Chronic follow-up (FD-08) -----------------------------------------------------------------
FOLLOW_UPS_PER_YEAR = declare(
    "familydoctor_follow_ups_per_year",
    4,
    "FD-08",
    _("Face-to-face follow-ups per chronic patient per year, minimum"),
)
NEXT_FOLLOW_UP_DAYS = declare(
    "familydoctor_next_follow_up_days",
    {
        "controlled": 90,
        "not_controlled": 14,
        "adverse_reaction": 14,
        "complication": 14,
        "stable": 90,
        "basically_stable": 14,
        "unstable": 14,
    },
    "FD-08",
    _("Days to the next follow-up per class of the follow-up"),
    "days",
)
REFERRAL_FOLLOW_UP_DAYS = declare(
    "familydoctor_referral_follow_up_days",
    14,
    "FD-08",
    _("Days within which a referred patient is followed up"),
    "days",
)
BP_TARGET = declare(
    "familydoctor_bp_target",
    {"default": [140, 90], "elderly": [150, 90]},
    "FD-08",
    _("Blood pressure below which hypertension counts as controlled (SBP, DBP; elderly 65+)"),
    "mmHg",
)
BP_REFERRAL = declare(
    "familydoctor_bp_referral",
    [180, 110],
    "FD-08",
    _("Blood pressure at which a patient is referred at once (SBP or DBP, inclusive)"),
    "mmHg",
)
GLUCOSE_TARGET = declare(
    "familydoctor_fasting_glucose_target",
    7.0,
    "FD-08",
    _("Fasting glucose below which type-2 diabetes counts as controlled"),
    "mmol/L",
)
GLUCOSE_REFERRAL = declare(
    "familydoctor_glucose_referral",
    {"high": 16.7, "low": 3.9},
    "FD-08",
    _("Blood glucose at or beyond which a diabetic patient is referred at once"),
    "mmol/L",
)
HEART_RATE_REFERRAL = declare(
    "familydoctor_heart_rate_referral",
    100,
    "FD-08",
    _("Heart rate above which a diabetic patient is referred at once"),
    "/min",
)
TEMPERATURE_REFERRAL = declare(
    "familydoctor_temperature_referral",
    39.0,
    "FD-08",
    _("Body temperature above which a diabetic patient is referred at once"),
    "°C",
)
CONSECUTIVE_UNCONTROLLED_REFERRAL = declare(
    "familydoctor_consecutive_uncontrolled_referral",
    2,
    "FD-08",
    _("Consecutive follow-ups not controlled after which referral is advised"),
)
SMD_UNSTABLE_RISK_LEVEL = declare(
    "familydoctor_smd_unstable_risk_level",
    3,
    "FD-08",
    _("Risk level (0–5) from which a severe mental disorder patient is unstable and referred"),
)
DUE_SOON_DAYS = declare(
    "familydoctor_due_soon_days",
    7,
    "FD-08",
    _("Days ahead a follow-up shows as due on the lists"),
    "days",
)
# --- Long prescriptions (FD-05) --------------------------------------------------------------
LONG_PRESCRIPTION_MAX_WEEKS = declare(
    "familydoctor_long_prescription_max_weeks",
    12,
    "FD-05",
    _("Length of a long prescription for a stable chronic patient, maximum"),
    "weeks",
)
