"""Serializers of the family-doctor API: they parse types; the rules are the services'."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from countycare.familydoctor.models import (
    Adherence,
    CheckKind,
    ConsentMethod,
    Contract,
    FollowUp,
    HealthCheck,
    LongPrescription,
    Method,
    Program,
    ServicePackage,
    Severity,
    Team,
    TeamMember,
    TerminationReason,
)
from countycare.referrals.models import Urgency

MAX_ID = 2**63 - 1


def _id(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


# --- teams and packages ---------------------------------------------------------------------
class MemberSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="staff.get_full_name", read_only=True)

    class Meta:
        model = TeamMember
        fields = [
            "staff",
            "name",
            "function",
            "is_leader",
            "fee_weight",
            "valid_from",
            "valid_until",
        ]
        read_only_fields = fields


class TeamSerializer(serializers.ModelSerializer):
    institution_name = serializers.CharField(source="institution.name", read_only=True)
    members = MemberSerializer(many=True, read_only=True)

    class Meta:
        model = Team
        fields = ["id", "name", "institution", "institution_name", "villages", "staff_share",
                  "is_active", "members"]  # fmt: skip
        read_only_fields = fields


class PackageSerializer(serializers.ModelSerializer):
    class Meta:
        model = ServicePackage
        fields = ["id", "code", "name", "kind", "fee", "resident_fee", "items",
                  "target_populations", "is_active"]  # fmt: skip
        read_only_fields = fields


# --- contracts ------------------------------------------------------------------------------
class ContractLineSerializer(serializers.Serializer):
    code = serializers.CharField(source="package.code")
    name = serializers.CharField(source="package.name")
    kind = serializers.CharField(source="package.kind")
    fee = serializers.DecimalField(max_digits=8, decimal_places=2)


class ContractSerializer(serializers.ModelSerializer):
    resident_name = serializers.CharField(source="resident.name", read_only=True)
    team_name = serializers.CharField(source="team.name", read_only=True)
    doctor_name = serializers.CharField(source="doctor.get_full_name", read_only=True)
    packages = ContractLineSerializer(source="lines", many=True, read_only=True)

    class Meta:
        model = Contract
        fields = [
            "id", "number", "resident", "resident_name", "team", "team_name", "doctor",
            "doctor_name", "signing_institution", "start_on", "end_on", "planned_end_on",
            "status", "channel", "consent_method", "fee_total", "packages", "renewed_from",
            "termination_reason", "termination_note", "signed_at",
        ]  # fmt: skip
        read_only_fields = fields


class ConsentFields(serializers.Serializer):
    consent_method = serializers.ChoiceField(choices=ConsentMethod.choices)
    consent_file = serializers.FileField(
        required=False, help_text=_("Scan of the signed paper (PDF, JPEG, PNG); multipart.")
    )
    signature = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text=_("The tablet signature as a PNG data URL (data:image/png;base64,…)."),
    )

    def consent(self):
        data = self.validated_data
        if data["consent_method"] == ConsentMethod.TABLET:
            return data.get("signature") or data.get("consent_file")
        return data.get("consent_file")


class ContractCreateSerializer(ConsentFields):
    resident = _id()
    team = _id()
    doctor = _id(required=False)
    packages = serializers.ListField(child=_id(), allow_empty=False, max_length=10)
    start_on = serializers.DateField(required=False)


class ContractRenewSerializer(ConsentFields):
    packages = serializers.ListField(child=_id(), required=False, max_length=10)
    doctor = _id(required=False)


class ContractTerminateSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=TerminationReason.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)
    on = serializers.DateField(required=False)


class ContractFilter(serializers.Serializer):
    resident = _id(required=False)
    team = _id(required=False)
    status = serializers.ChoiceField(choices=Contract._meta.get_field("status").choices,
                                     required=False)  # fmt: skip


# --- follow-ups -----------------------------------------------------------------------------
class LongPrescriptionSerializer(serializers.ModelSerializer):
    class Meta:
        model = LongPrescription
        fields = ["id", "issued_on", "weeks", "items", "status", "handed_over_at"]
        read_only_fields = fields


class FollowUpSerializer(serializers.ModelSerializer):
    resident_name = serializers.CharField(source="resident.name", read_only=True)
    face_to_face = serializers.BooleanField(read_only=True)
    long_prescription = LongPrescriptionSerializer(read_only=True, allow_null=True)
    observations = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = FollowUp
        fields = [
            "id", "resident", "resident_name", "contract", "program", "followed_on", "method",
            "face_to_face", "institution", "performed_by", "visit", "observations", "symptoms",
            "danger_signs", "other_symptoms", "systolic_bp", "diastolic_bp", "heart_rate",
            "temperature", "height", "weight", "bmi", "waist", "fasting_glucose",
            "random_glucose", "hba1c", "foot_pulse", "lifestyle", "adherence",
            "adverse_reaction", "adverse_reaction_note", "hypoglycemia", "new_complication",
            "complication_note", "risk_level", "psychotic_symptoms", "insight",
            "social_function", "physical_disease", "medications", "advice", "note",
            "classification", "next_due_on", "referral_triggers", "referral_urgency",
            "referral", "long_prescription", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class MedicationSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    dose = serializers.CharField(max_length=50, required=False, allow_blank=True)
    frequency = serializers.CharField(max_length=50, required=False, allow_blank=True)
    quantity = serializers.CharField(max_length=50, required=False, allow_blank=True)


class LongPrescriptionInput(serializers.Serializer):
    weeks = serializers.IntegerField(min_value=1, max_value=52)
    items = MedicationSerializer(many=True, required=False)


class FollowUpCreateSerializer(serializers.Serializer):
    resident = _id()
    program = serializers.ChoiceField(choices=Program.choices)
    followed_on = serializers.DateField(required=False)
    method = serializers.ChoiceField(choices=Method.choices, default=Method.CLINIC)
    visit = _id(required=False, help_text=_("The Walking Hospital visit whose measurements count."))
    measurements = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=20),
        required=False,
        help_text=_(
            "systolic_bp, diastolic_bp, heart_rate, temperature, height, weight, bmi, waist, "
            "fasting_glucose, random_glucose, hba1c"
        ),
    )
    symptoms = serializers.ListField(child=serializers.CharField(max_length=40), required=False)
    danger_signs = serializers.ListField(child=serializers.CharField(max_length=40), required=False)
    other_symptoms = serializers.CharField(required=False, allow_blank=True, max_length=200)
    foot_pulse = serializers.CharField(required=False, allow_blank=True, max_length=10)
    lifestyle = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=20), required=False
    )
    adherence = serializers.ChoiceField(choices=Adherence.choices)
    adverse_reaction = serializers.ChoiceField(choices=Severity.choices, default=Severity.NONE)
    adverse_reaction_note = serializers.CharField(required=False, allow_blank=True, max_length=200)
    hypoglycemia = serializers.CharField(required=False, allow_blank=True, max_length=10)
    new_complication = serializers.BooleanField(required=False, default=False)
    complication_note = serializers.CharField(required=False, allow_blank=True, max_length=200)
    risk_level = serializers.IntegerField(required=False, min_value=0, max_value=5)
    psychotic_symptoms = serializers.CharField(required=False, allow_blank=True, max_length=10)
    insight = serializers.CharField(required=False, allow_blank=True, max_length=10)
    social_function = serializers.CharField(required=False, allow_blank=True, max_length=10)
    physical_disease = serializers.CharField(required=False, allow_blank=True, max_length=10)
    medications = MedicationSerializer(many=True, required=False)
    advice = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    long_prescription = LongPrescriptionInput(required=False)


class FollowUpFilter(serializers.Serializer):
    resident = _id(required=False)
    program = serializers.ChoiceField(choices=Program.choices, required=False)


class PrefillFilter(serializers.Serializer):
    resident = _id()
    visit = _id()


class PrefillSerializer(serializers.Serializer):
    visit = serializers.IntegerField()
    followed_on = serializers.DateField()
    measurements = serializers.DictField(
        child=serializers.DecimalField(max_digits=12, decimal_places=4)
    )
    observations = serializers.ListField(child=serializers.IntegerField())


class ReferSerializer(serializers.Serializer):
    department = _id()
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    diagnosis_code = serializers.CharField(required=False, allow_blank=True, max_length=20)
    diagnosis_name = serializers.CharField(required=False, allow_blank=True, max_length=200)


class ReferralCreatedSerializer(serializers.Serializer):
    referral = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.CharField()


# --- health checks --------------------------------------------------------------------------
class HealthCheckSerializer(serializers.ModelSerializer):
    reports = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = HealthCheck
        fields = [
            "id", "resident", "contract", "kind", "checked_on", "institution", "performed_by",
            "visit", "systolic_bp", "diastolic_bp", "heart_rate", "weight", "bmi", "waist",
            "fasting_glucose", "self_care_score", "self_care", "items_done", "reports",
            "abnormal", "findings", "advice", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class HealthCheckCreateSerializer(serializers.Serializer):
    resident = _id()
    kind = serializers.ChoiceField(choices=CheckKind.choices, default=CheckKind.ELDERLY)
    checked_on = serializers.DateField(required=False)
    visit = _id(required=False)
    measurements = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=20), required=False
    )
    self_care_score = serializers.IntegerField(required=False, min_value=0, max_value=100)
    items_done = serializers.ListField(child=serializers.CharField(max_length=20), required=False)
    reports = serializers.ListField(child=_id(), required=False)
    abnormal = serializers.BooleanField(required=False, default=False)
    findings = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    advice = serializers.CharField(required=False, allow_blank=True, max_length=4000)


# --- lists and figures ----------------------------------------------------------------------
class DueFilter(serializers.Serializer):
    team = _id(required=False)
    doctor = _id(required=False)
    program = serializers.ChoiceField(choices=Program.choices, required=False)
    status = serializers.ChoiceField(choices=[("overdue", "overdue"), ("due", "due"),
                                              ("all", "all")], default="all")  # fmt: skip


class DueRowSerializer(serializers.Serializer):
    resident = serializers.IntegerField(source="resident_id")
    resident_name = serializers.CharField(source="resident.name")
    village = serializers.CharField(source="resident.home_village.name")
    program = serializers.CharField(source="tag")
    contract = serializers.IntegerField(source="contract_id")
    doctor = serializers.IntegerField(source="doctor_id")
    last_on = serializers.DateField(allow_null=True)
    last_class = serializers.CharField(allow_null=True)
    due_on = serializers.DateField()
    done_year = serializers.IntegerField()


class CoverageFilter(serializers.Serializer):
    institution = _id(required=False)
    year = serializers.IntegerField(required=False, min_value=2000, max_value=2100)


class GroupSerializer(serializers.Serializer):
    residents = serializers.IntegerField()
    contracted = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)


class CoverageRowSerializer(serializers.Serializer):
    institution = serializers.IntegerField()
    name = serializers.CharField()
    type = serializers.CharField()
    residents = serializers.IntegerField()
    contracted = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)
    key_residents = serializers.IntegerField()
    key_contracted = serializers.IntegerField()
    key_rate = serializers.FloatField(allow_null=True)
    target = serializers.FloatField(allow_null=True)
    key_target = serializers.FloatField(allow_null=True)
    populations = serializers.DictField(child=GroupSerializer())


class CoverageSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    reference_day = serializers.DateField()
    total = CoverageRowSerializer()
    rows = CoverageRowSerializer(many=True)


class FiguresFilter(serializers.Serializer):
    institution = _id(required=False)
    start = serializers.DateField()
    end = serializers.DateField()

    def validate(self, attrs):
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": _("The end must not be before the start.")})
        return attrs


class FiguresSerializer(serializers.Serializer):
    residents = serializers.IntegerField()
    contracted = serializers.IntegerField()
    key_residents = serializers.IntegerField()
    key_contracted = serializers.IntegerField()
    by_population = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField())
    )
