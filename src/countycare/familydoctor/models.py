"""Family-doctor teams, contracts, chronic-disease follow-up and health checks (issue 7;
FD-01 … FD-08).

- **Team** (家庭医生团队): a GP, a nurse, public-health staff, village doctors and county
  specialists as technical support; it belongs to an institution and serves villages.
- **ServicePackage** (签约服务包): basic and paid packages with their annual fee and what they
  include.
- **Contract** (家庭医生签约): a resident with a team for a year with one basic package and any
  paid ones, signed at any member institution and valid across the medical community (FD-03,
  一体化签约); consent on paper (scan) or signed on the tablet. States move only through
  ``familydoctor.services``, each move a :class:`ContractTransition`. A contract is *in force*
  on a day when ``start_on <= day <= end_on``; termination moves ``end_on`` to the day it
  ended, so coverage for any period is a date comparison, whatever the state.
- **FollowUp** (慢病随访): the national basic public health service specification's form for
  hypertension, type-2 diabetes and severe mental disorder (FD-08): measurements (stored as
  telemed Observations, the one store of measured values, so Walking Hospital vitals and lab
  results count without being typed twice), symptoms, medication and adherence, the class and
  the next date derived from it, and referral triggers.
- **LongPrescription** (长期处方, FD-05): up to 12 weeks for a stable patient, with the
  follow-up, handed to the pharmacy (signal ``long_prescription_issued``).
- **HealthCheck** (健康体检, FD-07/FD-08): the annual check of residents 65+ and of chronic
  patients.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from countycare.organizations.models import RESIDENCE_TYPES, Institution


# --- Teams and packages ---------------------------------------------------------------------
class MemberFunction(models.TextChoices):
    GP = "gp", _("General practitioner")
    NURSE = "nurse", _("Nurse")
    PUBLIC_HEALTH = "public_health", _("Public-health staff")
    VILLAGE_DOCTOR = "village_doctor", _("Village doctor")
    SPECIALIST = "specialist", _("County specialist (technical support)")
    OTHER = "other", _("Other")


class Team(models.Model):
    """家庭医生团队 of an institution (a township health center, a community center, a village
    clinic or the lead hospital) serving some villages. ``staff_share``: the part of its contract
    fees paid to its staff (FD-04: at least the policy's minimum; empty: that minimum)."""

    name = models.CharField(_("name"), max_length=100)
    institution = models.ForeignKey(
        Institution,
        verbose_name=_("institution"),
        on_delete=models.PROTECT,
        related_name="family_doctor_teams",
    )
    villages = models.ManyToManyField(
        Institution,
        verbose_name=_("villages served"),
        related_name="serving_family_doctor_teams",
        limit_choices_to={"type__in": RESIDENCE_TYPES},
        blank=True,
    )
    staff_share = models.DecimalField(
        _("share of fees to the team's staff"),
        max_digits=4,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("0.7 = 70 %. Empty: the policy minimum (FD-04)."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("family-doctor team")
        verbose_name_plural = _("family-doctor teams")
        ordering = ["institution__path", "name"]

    def __str__(self) -> str:
        return self.name


class TeamMember(models.Model):
    """A staff member in a team for a period, with a weight in the team's fee allocation."""

    team = models.ForeignKey(
        Team, verbose_name=_("team"), on_delete=models.CASCADE, related_name="members"
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff member"),
        on_delete=models.PROTECT,
        related_name="family_doctor_memberships",
    )
    function = models.CharField(_("function"), max_length=20, choices=MemberFunction.choices)
    is_leader = models.BooleanField(_("team leader"), default=False)
    fee_weight = models.DecimalField(
        _("weight in the fee allocation"),
        max_digits=6,
        decimal_places=2,
        default=1,
        help_text=_("The staff part of the fees is split in proportion to these weights."),
    )
    valid_from = models.DateField(_("valid from"), default=dt.date(2000, 1, 1))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)

    class Meta:
        verbose_name = _("team member")
        verbose_name_plural = _("team members")
        ordering = ["team", "-is_leader", "function", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "staff", "valid_from"], name="familydoctor_member_unique"
            ),
            models.CheckConstraint(
                condition=Q(fee_weight__gte=0), name="familydoctor_member_weight_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.staff} · {self.get_function_display()}"

    def serves_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or self.valid_until >= day)


class PackageKind(models.TextChoices):
    BASIC = "basic", _("Basic package")
    PAID = "paid", _("Paid package")


class ServicePackage(models.Model):
    """签约服务包: what a contract buys for a year. The fee is shared by the basic public
    health funds, the insurance fund and the resident (002 §3(二)3); ``resident_fee`` is the
    resident's part."""

    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=PackageKind.choices)
    fee = models.DecimalField(_("annual service fee (yuan)"), max_digits=8, decimal_places=2)
    resident_fee = models.DecimalField(
        _("paid by the resident (yuan)"), max_digits=8, decimal_places=2, default=0
    )
    items = models.JSONField(_("services included"), default=list, blank=True)
    target_populations = models.JSONField(
        _("for key populations"),
        default=list,
        blank=True,
        help_text=_("Key-population codes; empty: for everyone."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("service package")
        verbose_name_plural = _("service packages")
        ordering = ["kind", "fee", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(fee__gte=0) & Q(resident_fee__gte=0) & Q(resident_fee__lte=models.F("fee")),
                name="familydoctor_package_fees",
            )
        ]  # fmt: skip

    def __str__(self) -> str:
        return self.name


# --- Contracts --------------------------------------------------------------------------------
class ContractStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    RENEWED = "renewed", _("Renewed")
    EXPIRED = "expired", _("Expired")
    TERMINATED = "terminated", _("Terminated")


class ConsentMethod(models.TextChoices):
    PAPER = "paper", _("Signed on paper (scan attached)")
    TABLET = "tablet", _("Signed on the tablet")


class Channel(models.TextChoices):
    IN_PERSON = "in_person", _("In person")
    # 互联网+家庭医生 (FD-06): an online request by the resident's phone, confirmed by the
    # team, arrives with its issue; the contract carries where it came from.
    ONLINE = "online", _("Online")


class TerminationReason(models.TextChoices):
    MOVED = "moved", _("Moved away")
    DECEASED = "deceased", _("Deceased")
    RESIDENT_REQUEST = "resident_request", _("At the resident's request")
    CHANGED_TEAM = "changed_team", _("Changed to another team")
    OTHER = "other", _("Other")


def consent_path(instance, filename: str) -> str:
    return f"familydoctor/consent/{dt.date.today():%Y/%m}/{filename}"


class Contract(models.Model):
    """家庭医生签约 of one resident with one team for a year (FD-03: valid across the whole
    medical community wherever it was signed)."""

    number = models.CharField(_("contract number"), max_length=24, unique=True)
    resident = models.ForeignKey(
        "residents.Resident",
        verbose_name=_("resident"),
        on_delete=models.PROTECT,
        related_name="family_doctor_contracts",
    )
    team = models.ForeignKey(
        Team, verbose_name=_("team"), on_delete=models.PROTECT, related_name="contracts"
    )
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("family doctor"),
        on_delete=models.PROTECT,
        related_name="family_doctor_contracts",
    )
    signing_institution = models.ForeignKey(
        Institution,
        verbose_name=_("signing institution"),
        on_delete=models.PROTECT,
        related_name="family_doctor_contracts_signed",
    )
    packages = models.ManyToManyField(
        ServicePackage, through="ContractPackage", verbose_name=_("service packages")
    )
    fee_total = models.DecimalField(_("service fee (yuan)"), max_digits=9, decimal_places=2)
    start_on = models.DateField(_("from"))
    end_on = models.DateField(_("until"))
    planned_end_on = models.DateField(_("planned end"))
    status = models.CharField(
        _("status"), max_length=20, choices=ContractStatus.choices, default=ContractStatus.ACTIVE
    )
    channel = models.CharField(
        _("channel"), max_length=20, choices=Channel.choices, default=Channel.IN_PERSON
    )
    consent_method = models.CharField(_("consent"), max_length=10, choices=ConsentMethod.choices)
    consent_file = models.FileField(_("consent"), upload_to=consent_path, max_length=200)
    consent_sha256 = models.CharField(max_length=64, editable=False)
    renewed_from = models.OneToOneField(
        "self",
        verbose_name=_("renewal of"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="renewal",
    )
    termination_reason = models.CharField(
        _("reason for termination"), max_length=20, choices=TerminationReason.choices, blank=True
    )
    termination_note = models.CharField(_("note"), max_length=500, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    signed_at = models.DateTimeField(_("signed at"))
    updated_at = models.DateTimeField(auto_now=True)

    scope_paths = ("resident__home_village", "team__institution", "signing_institution")

    class Meta:
        verbose_name = _("family-doctor contract")
        verbose_name_plural = _("family-doctor contracts")
        ordering = ["-start_on", "-pk"]
        indexes = [
            models.Index(fields=["resident", "start_on", "end_on"], name="fd_contract_resident"),
            models.Index(fields=["start_on", "end_on"], name="fd_contract_period"),
            models.Index(fields=["team", "status"], name="fd_contract_team"),
            models.Index(fields=["doctor", "status"], name="fd_contract_doctor"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["resident"],
                condition=Q(status="active"),
                name="familydoctor_one_active_contract",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.resident}"

    def in_force_on(self, day: dt.date) -> bool:
        return self.start_on <= day <= self.end_on

    @property
    def audit_resident_id(self) -> int:
        return self.resident_id

    @property
    def audit_institution(self) -> Institution:
        return self.signing_institution


class ContractPackage(models.Model):
    """A package of a contract with the fee in force when it was signed."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="lines")
    package = models.ForeignKey(ServicePackage, on_delete=models.PROTECT, related_name="+")
    fee = models.DecimalField(_("fee (yuan)"), max_digits=8, decimal_places=2)

    class Meta:
        verbose_name = _("contracted package")
        verbose_name_plural = _("contracted packages")
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "package"], name="familydoctor_contract_package"
            )
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} · {self.package_id}"


class ContractTransition(models.Model):
    """One move of a contract: who, when, from, to, why (architecture.md "State machines")."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=20, choices=ContractStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=ContractStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(db_index=True)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("contract transition")
        verbose_name_plural = _("contract transitions")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.contract_id}: {self.from_status} → {self.to_status}"


# --- Chronic follow-up ------------------------------------------------------------------------
class Program(models.TextChoices):
    """The managed chronic diseases, named like the key populations they follow."""

    HYPERTENSION = "hypertension", _("Hypertension")
    TYPE2_DIABETES = "type2_diabetes", _("Type-2 diabetes")
    SEVERE_MENTAL_DISORDER = "severe_mental_disorder", _("Severe mental disorder")


class Method(models.TextChoices):
    CLINIC = "clinic", _("At the clinic")
    HOME = "home", _("Home visit")
    PHONE = "phone", _("By phone")
    ONLINE = "online", _("Online (self-measured)")


FACE_TO_FACE = (Method.CLINIC, Method.HOME)


class FollowUpClass(models.TextChoices):
    # Hypertension and type-2 diabetes (此次随访分类)
    CONTROLLED = "controlled", _("Controlled")
    NOT_CONTROLLED = "not_controlled", _("Not controlled")
    ADVERSE_REACTION = "adverse_reaction", _("Adverse drug reaction")
    COMPLICATION = "complication", _("New or worsening complication")
    # Severe mental disorder (分类干预)
    STABLE = "stable", _("Stable")
    BASICALLY_STABLE = "basically_stable", _("Basically stable")
    UNSTABLE = "unstable", _("Unstable")


class Adherence(models.TextChoices):
    REGULAR = "regular", _("Regular")
    INTERMITTENT = "intermittent", _("Intermittent")
    NONE = "none", _("Not taking")
    NOT_PRESCRIBED = "not_prescribed", _("No medicine prescribed")


class Severity(models.TextChoices):
    NONE = "none", _("None")
    MILD = "mild", _("Present")
    SEVERE = "severe", _("Severe or hard to control")


class Level3(models.TextChoices):
    GOOD = "good", _("Good")
    FAIR = "fair", _("Fair")
    POOR = "poor", _("Poor")


class FootPulse(models.TextChoices):
    NORMAL = "normal", _("Palpable, normal")
    WEAK = "weak", _("Weakened")
    ABSENT = "absent", _("Absent")


class Hypoglycemia(models.TextChoices):
    NONE = "none", _("None")
    OCCASIONAL = "occasional", _("Occasional")
    FREQUENT = "frequent", _("Frequent")


class Symptoms(models.TextChoices):
    """Psychotic symptoms at a severe mental disorder follow-up."""

    GONE = "gone", _("Essentially gone")
    PRESENT = "present", _("Present")
    MARKED = "marked", _("Marked")


class Insight(models.TextChoices):
    RECOVERED = "recovered", _("Essentially recovered")
    PARTIAL = "partial", _("Partial")
    ABSENT = "absent", _("Absent")


class PhysicalDisease(models.TextChoices):
    NONE = "none", _("None")
    STABLE = "stable", _("Stable")
    SEVERE = "severe", _("Severe")


class FollowUp(models.Model):
    """慢病随访 (FD-08). Written only by ``services.record_follow_up``; the class, the next
    date and the referral triggers are derived there (``followup.assess``)."""

    resident = models.ForeignKey(
        "residents.Resident",
        verbose_name=_("resident"),
        on_delete=models.PROTECT,
        related_name="follow_ups",
    )
    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.PROTECT, related_name="follow_ups"
    )
    program = models.CharField(_("program"), max_length=30, choices=Program.choices)
    followed_on = models.DateField(_("date"))
    method = models.CharField(_("how"), max_length=10, choices=Method.choices)
    institution = models.ForeignKey(
        Institution, verbose_name=_("institution"), on_delete=models.PROTECT, related_name="+"
    )
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("followed up by"),
        on_delete=models.PROTECT,
        related_name="family_doctor_follow_ups",
    )
    # The Walking Hospital visit whose vitals and results the doctor confirmed for this one.
    visit = models.ForeignKey(
        "telemed.Visit",
        verbose_name=_("Walking Hospital visit"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="family_doctor_follow_ups",
    )
    observations = models.ManyToManyField(
        "telemed.Observation",
        verbose_name=_("measurements"),
        blank=True,
        related_name="family_doctor_follow_ups",
    )
    symptoms = models.JSONField(_("symptoms"), default=list, blank=True)
    danger_signs = models.JSONField(_("danger signs"), default=list, blank=True)
    other_symptoms = models.CharField(_("other symptoms"), max_length=200, blank=True)
    # Measurements (copied from the Observations above, for the form, classes and lists).
    systolic_bp = models.PositiveSmallIntegerField(_("systolic BP (mmHg)"), null=True, blank=True)
    diastolic_bp = models.PositiveSmallIntegerField(_("diastolic BP (mmHg)"), null=True, blank=True)
    heart_rate = models.PositiveSmallIntegerField(_("heart rate (/min)"), null=True, blank=True)
    temperature = models.DecimalField(
        _("temperature (°C)"), max_digits=3, decimal_places=1, null=True, blank=True
    )
    height = models.DecimalField(
        _("height (cm)"), max_digits=4, decimal_places=1, null=True, blank=True
    )
    weight = models.DecimalField(
        _("weight (kg)"), max_digits=4, decimal_places=1, null=True, blank=True
    )
    bmi = models.DecimalField(_("BMI"), max_digits=3, decimal_places=1, null=True, blank=True)
    waist = models.DecimalField(
        _("waist (cm)"), max_digits=4, decimal_places=1, null=True, blank=True
    )
    fasting_glucose = models.DecimalField(
        _("fasting glucose (mmol/L)"), max_digits=4, decimal_places=1, null=True, blank=True
    )
    random_glucose = models.DecimalField(
        _("random glucose (mmol/L)"), max_digits=4, decimal_places=1, null=True, blank=True
    )
    hba1c = models.DecimalField(
        _("HbA1c (%)"), max_digits=3, decimal_places=1, null=True, blank=True
    )
    foot_pulse = models.CharField(
        _("dorsal foot artery pulse"), max_length=10, choices=FootPulse.choices, blank=True
    )
    # Lifestyle and guidance: {"smoking_per_day": 5, "drinking_per_day": 1, "exercise_per_week":
    # 3, "exercise_minutes": 30, "salt": "medium", "staple_food_g": 300, "psychology": "good",
    # "compliance": "fair"} (the specification's form; see followup.LIFESTYLE).
    lifestyle = models.JSONField(_("lifestyle"), default=dict, blank=True)
    adherence = models.CharField(
        _("medication adherence"), max_length=20, choices=Adherence.choices, blank=True
    )
    adverse_reaction = models.CharField(
        _("adverse drug reaction"),
        max_length=10,
        choices=Severity.choices,
        default=Severity.NONE,
    )
    adverse_reaction_note = models.CharField(_("which reaction"), max_length=200, blank=True)
    hypoglycemia = models.CharField(
        _("hypoglycaemic reactions"), max_length=10, choices=Hypoglycemia.choices, blank=True
    )
    new_complication = models.BooleanField(_("new or worsening complication"), default=False)
    complication_note = models.CharField(_("which complication"), max_length=200, blank=True)
    # Severe mental disorder (危险性评估 0–5 and the state of the patient).
    risk_level = models.PositiveSmallIntegerField(_("risk level (0–5)"), null=True, blank=True)
    psychotic_symptoms = models.CharField(
        _("psychotic symptoms"), max_length=10, choices=Symptoms.choices, blank=True
    )
    insight = models.CharField(_("insight"), max_length=10, choices=Insight.choices, blank=True)
    social_function = models.CharField(
        _("social function"), max_length=10, choices=Level3.choices, blank=True
    )
    physical_disease = models.CharField(
        _("physical disease"), max_length=10, choices=PhysicalDisease.choices, blank=True
    )
    # [{"name": "氨氯地平片", "dose": "5 mg", "frequency": "每日1次"}, …]
    medications = models.JSONField(_("medication"), default=list, blank=True)
    advice = models.TextField(_("guidance given"), blank=True)
    classification = models.CharField(
        _("class of this follow-up"), max_length=20, choices=FollowUpClass.choices
    )
    next_due_on = models.DateField(_("next follow-up"), db_index=True)
    # Codes of followup.TRIGGERS met by this follow-up; urgency "urgent" or "routine".
    referral_triggers = models.JSONField(_("referral triggers"), default=list, blank=True)
    referral_urgency = models.CharField(_("referral"), max_length=10, blank=True)
    referral = models.ForeignKey(
        "referrals.Referral",
        verbose_name=_("upward referral"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="family_doctor_follow_ups",
    )
    note = models.TextField(_("note"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    scope_paths = ("resident__home_village", "institution")

    class Meta:
        verbose_name = _("chronic follow-up")
        verbose_name_plural = _("chronic follow-ups")
        ordering = ["-followed_on", "-pk"]
        indexes = [
            models.Index(
                fields=["resident", "program", "followed_on"], name="fd_followup_resident"
            ),
            models.Index(fields=["followed_on"], name="fd_followup_day"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["resident", "program", "followed_on"], name="familydoctor_followup_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resident} · {self.get_program_display()} {self.followed_on}"

    @property
    def face_to_face(self) -> bool:
        return self.method in FACE_TO_FACE

    @property
    def needs_referral(self) -> bool:
        return bool(self.referral_triggers)

    @property
    def audit_resident_id(self) -> int:
        return self.resident_id

    @property
    def audit_institution(self) -> Institution:
        return self.institution


class PrescriptionStatus(models.TextChoices):
    ISSUED = "issued", _("Issued, waiting for the pharmacy")
    HANDED_OVER = "handed_over", _("Handed to the pharmacy")
    CANCELLED = "cancelled", _("Cancelled")


class LongPrescription(models.Model):
    """长期处方 (FD-05): recorded with a follow-up of a stable patient, at most 12 weeks
    (policy), handed to the pharmacy when that app is installed (signal)."""

    follow_up = models.OneToOneField(
        FollowUp, on_delete=models.CASCADE, related_name="long_prescription"
    )
    resident = models.ForeignKey(
        "residents.Resident", on_delete=models.PROTECT, related_name="long_prescriptions"
    )
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="+")
    prescribed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    issued_on = models.DateField(_("issued on"))
    weeks = models.PositiveSmallIntegerField(_("weeks"))
    # [{"name": …, "dose": …, "frequency": …, "quantity": …}]
    items = models.JSONField(_("medicines"), default=list)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=PrescriptionStatus.choices,
        default=PrescriptionStatus.ISSUED,
    )
    handed_over_at = models.DateTimeField(_("handed over"), null=True, blank=True)
    pharmacy_reference = models.CharField(_("pharmacy reference"), max_length=64, blank=True)

    scope_paths = ("resident__home_village", "institution")

    class Meta:
        verbose_name = _("long prescription")
        verbose_name_plural = _("long prescriptions")
        ordering = ["-issued_on", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(weeks__gte=1) & Q(weeks__lte=52), name="familydoctor_rx_weeks"
            )
        ]

    def __str__(self) -> str:
        return f"{self.resident} · {self.weeks} wk"

    @property
    def ends_on(self) -> dt.date:
        return self.issued_on + dt.timedelta(weeks=self.weeks)

    @property
    def audit_resident_id(self) -> int:
        return self.resident_id

    @property
    def audit_institution(self) -> Institution:
        return self.institution


# --- Health checks ------------------------------------------------------------------------------
class CheckKind(models.TextChoices):
    ELDERLY = "elderly", _("Annual health check 65+")
    CHRONIC = "chronic", _("Annual check of a chronic patient")


class SelfCare(models.TextChoices):
    """老年人生活自理能力评估: total score 0–3, 4–8, 9–18, ≥ 19."""

    INDEPENDENT = "independent", _("Independent")
    MILD = "mild", _("Mildly dependent")
    MODERATE = "moderate", _("Moderately dependent")
    DEPENDENT = "dependent", _("Dependent")


class HealthCheck(models.Model):
    """健康体检: the annual health management of a resident 65+ (老年人健康管理服务规范) or of
    a chronic patient (FD-07, FD-08). The examinations done are linked, not copied: signed
    Walking Hospital reports (ECG, ultrasound) and lab results of the check's days."""

    resident = models.ForeignKey(
        "residents.Resident",
        verbose_name=_("resident"),
        on_delete=models.PROTECT,
        related_name="health_checks",
    )
    contract = models.ForeignKey(
        Contract,
        verbose_name=_("contract"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="health_checks",
    )
    kind = models.CharField(_("kind"), max_length=10, choices=CheckKind.choices)
    checked_on = models.DateField(_("date"))
    institution = models.ForeignKey(
        Institution, verbose_name=_("institution"), on_delete=models.PROTECT, related_name="+"
    )
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("checked by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    visit = models.ForeignKey(
        "telemed.Visit", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    observations = models.ManyToManyField("telemed.Observation", blank=True, related_name="+")
    reports = models.ManyToManyField("telemed.Report", blank=True, related_name="+")
    systolic_bp = models.PositiveSmallIntegerField(_("systolic BP (mmHg)"), null=True, blank=True)
    diastolic_bp = models.PositiveSmallIntegerField(_("diastolic BP (mmHg)"), null=True, blank=True)
    heart_rate = models.PositiveSmallIntegerField(_("heart rate (/min)"), null=True, blank=True)
    weight = models.DecimalField(
        _("weight (kg)"), max_digits=4, decimal_places=1, null=True, blank=True
    )
    bmi = models.DecimalField(_("BMI"), max_digits=3, decimal_places=1, null=True, blank=True)
    waist = models.DecimalField(
        _("waist (cm)"), max_digits=4, decimal_places=1, null=True, blank=True
    )
    fasting_glucose = models.DecimalField(
        _("fasting glucose (mmol/L)"), max_digits=4, decimal_places=1, null=True, blank=True
    )
    self_care_score = models.PositiveSmallIntegerField(
        _("self-care assessment score"), null=True, blank=True
    )
    self_care = models.CharField(
        _("self-care"), max_length=12, choices=SelfCare.choices, blank=True
    )
    # Codes of the examinations done (followup.CHECK_ITEMS), found or confirmed.
    items_done = models.JSONField(_("examinations done"), default=list, blank=True)
    abnormal = models.BooleanField(_("abnormal findings"), default=False)
    findings = models.TextField(_("findings"), blank=True)
    advice = models.TextField(_("health guidance"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    scope_paths = ("resident__home_village", "institution")

    class Meta:
        verbose_name = _("health check")
        verbose_name_plural = _("health checks")
        ordering = ["-checked_on", "-pk"]
        indexes = [
            models.Index(fields=["resident", "checked_on"], name="fd_check_resident"),
            models.Index(fields=["checked_on"], name="fd_check_day"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["resident", "kind", "checked_on"], name="familydoctor_check_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.resident} · {self.get_kind_display()} {self.checked_on}"

    @property
    def audit_resident_id(self) -> int:
        return self.resident_id

    @property
    def audit_institution(self) -> Institution:
        return self.institution
