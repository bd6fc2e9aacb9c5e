"""Serializers of the referrals API: types in and out, no rules (those are in services)."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from countycare.referrals.models import (
    AcceptMode,
    Appointment,
    CarePlan,
    ClinicSession,
    Department,
    Direction,
    Notification,
    Referral,
    ReferralStatus,
    ReferralTransition,
    Slot,
    Urgency,
)

MAX_ID = 2**63 - 1


def _id(**kw):
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kw)


class DepartmentSerializer(serializers.ModelSerializer):
    institution_name = serializers.CharField(source="institution.name", read_only=True)

    class Meta:
        model = Department
        fields = ["id", "institution", "institution_name", "name", "takes_referrals", "beds"]


class ReferralTransitionSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.get_full_name", default="", read_only=True)

    class Meta:
        model = ReferralTransition
        fields = ["from_status", "to_status", "actor", "at", "reason"]


class CarePlanSerializer(serializers.ModelSerializer):
    class Meta:
        model = CarePlan
        fields = ["follow_up_items", "medicines", "next_review_on", "notes", "family_doctor"]


class SlotSerializer(serializers.ModelSerializer):
    department = serializers.IntegerField(source="session.department_id", read_only=True)
    doctor = serializers.CharField(source="session.doctor.get_full_name", default="")

    class Meta:
        model = Slot
        fields = ["id", "session", "department", "doctor", "starts_at", "reserved"]


class AppointmentSerializer(serializers.ModelSerializer):
    slot = SlotSerializer(read_only=True)
    resident_name = serializers.CharField(source="resident.name", read_only=True)
    department = serializers.CharField(source="slot.session.department", read_only=True)

    class Meta:
        model = Appointment
        fields = [
            "id", "slot", "department", "resident", "resident_name", "booked_by",
            "booking_institution", "by_family_doctor", "status", "booked_at",
            "status_changed_at", "status_reason",
        ]  # fmt: skip


class ReferralSerializer(serializers.ModelSerializer):
    resident_name = serializers.CharField(source="resident.name", read_only=True)
    from_institution_name = serializers.CharField(source="from_institution.name", read_only=True)
    to_institution_name = serializers.CharField(
        source="to_institution.name", default="", read_only=True
    )
    department_name = serializers.CharField(source="to_department.name", default="", read_only=True)
    referred_by_name = serializers.CharField(source="referred_by.get_full_name", read_only=True)

    class Meta:
        model = Referral
        fields = [
            "id", "number", "direction", "status", "urgency", "resident", "resident_name",
            "from_institution", "from_institution_name", "to_institution", "to_institution_name",
            "to_department", "department_name", "destination", "diagnosis_code",
            "diagnosis_name", "outside_catalog", "reason", "referred_by", "referred_by_name",
            "requested_at", "answered_at", "arrived_at", "discharged_at", "status_reason",
        ]  # fmt: skip


class ReferralDetailSerializer(ReferralSerializer):
    transitions = ReferralTransitionSerializer(many=True, read_only=True)
    care_plan = CarePlanSerializer(read_only=True, default=None)
    appointment = AppointmentSerializer(read_only=True, default=None)
    reports = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    observations = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    due_at = serializers.SerializerMethodField()
    overdue = serializers.SerializerMethodField()

    class Meta(ReferralSerializer.Meta):
        fields = [
            *ReferralSerializer.Meta.fields,
            "accept_mode", "bed", "admission_on", "handled_by", "visit", "critical_alert",
            "parent", "reports", "observations", "transitions", "care_plan", "appointment",
            "due_at", "overdue",
        ]  # fmt: skip

    def get_due_at(self, obj) -> str | None:
        from countycare.referrals.selectors import due_at

        due = due_at(obj)
        return due.isoformat() if due else None

    def get_overdue(self, obj) -> bool:
        from countycare.referrals.selectors import is_overdue

        return is_overdue(obj)


class CarePlanInSerializer(serializers.Serializer):
    follow_up_items = serializers.ListField(child=serializers.JSONField(), required=False)
    medicines = serializers.ListField(child=serializers.JSONField(), required=False)
    next_review_on = serializers.DateField(required=False, allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    family_doctor = _id(required=False, allow_null=True)


class ReferralCreateSerializer(serializers.Serializer):
    direction = serializers.ChoiceField(choices=Direction.choices)
    resident = _id(required=False)
    department = _id(required=False, help_text=_("Upward: the county department"))
    to_institution = _id(required=False)
    destination = serializers.CharField(required=False, allow_blank=True, max_length=200)
    urgency = serializers.ChoiceField(choices=Urgency.choices, default=Urgency.ROUTINE)
    reason = serializers.CharField(max_length=2000)
    diagnosis_code = serializers.CharField(required=False, allow_blank=True, max_length=20)
    diagnosis_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    visit = _id(required=False)
    critical_alert = _id(required=False)
    parent = _id(required=False)
    reports = serializers.ListField(child=_id(), required=False)
    observations = serializers.ListField(child=_id(), required=False)
    care_plan = CarePlanInSerializer(required=False)

    def validate(self, attrs):
        direction = attrs["direction"]
        need = {
            Direction.UP: ("resident", "department", "diagnosis_code"),
            Direction.DOWN: ("to_institution", "care_plan"),
            Direction.OUT: ("resident", "destination", "diagnosis_code"),
        }[direction]
        missing = {f: [_("This field is required.")] for f in need if not attrs.get(f)}
        if direction == Direction.DOWN and not (attrs.get("resident") or attrs.get("parent")):
            missing["resident"] = [_("Name the resident or the upward referral (parent).")]
        if missing:
            raise serializers.ValidationError(missing)
        return attrs


class AcceptSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=AcceptMode.choices, required=False, allow_blank=True)
    slot = _id(required=False)
    bed = serializers.CharField(required=False, allow_blank=True, max_length=60)
    admission_on = serializers.DateField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class RescheduleSerializer(serializers.Serializer):
    slot = _id()
    reason = serializers.CharField(max_length=300)


class ReferralReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class ReferralOptionalReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class TimeSerializer(serializers.Serializer):
    at = serializers.DateTimeField(required=False)


class DischargeSerializer(serializers.Serializer):
    at = serializers.DateTimeField(required=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)
    down = serializers.DictField(required=False, help_text=_("to_institution, reason, care_plan"))


class ReferralFilter(serializers.Serializer):
    direction = serializers.ChoiceField(choices=Direction.choices, required=False)
    status = serializers.ChoiceField(choices=ReferralStatus.choices, required=False)
    resident = _id(required=False)
    side = serializers.ChoiceField(choices=[("in", "in"), ("out", "out")], required=False)


class SuggestFilter(serializers.Serializer):
    code = serializers.CharField(max_length=30)
    institution = _id(required=False)


class FiguresFilter(serializers.Serializer):
    institution = _id(required=False)
    start = serializers.DateField()
    end = serializers.DateField()

    def validate(self, attrs):
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": [_("The end is before the start.")]})
        return attrs


class BoardFilter(serializers.Serializer):
    institution = _id(required=False)


class SessionSerializer(serializers.ModelSerializer):
    slots = SlotSerializer(many=True, read_only=True)

    class Meta:
        model = ClinicSession
        fields = [
            "id", "department", "doctor", "starts_at", "ends_at", "slot_minutes",
            "reserved_share", "is_cancelled", "slots",
        ]  # fmt: skip


class SessionCreateSerializer(serializers.Serializer):
    department = _id()
    doctor = _id(required=False, allow_null=True)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    slot_minutes = serializers.IntegerField(min_value=1, max_value=1440)
    reserved_share = serializers.FloatField(required=False, min_value=0, max_value=1)


class SlotFilter(serializers.Serializer):
    department = _id()
    start = serializers.DateTimeField(required=False)
    days = serializers.IntegerField(required=False, min_value=1, max_value=60, default=14)

    def validate_start(self, value):
        return value or timezone.now()


class AppointmentCreateSerializer(serializers.Serializer):
    slot = _id()
    resident = _id()


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "referral", "appointment", "message", "created_at", "read_at"]


class NotificationReadSerializer(serializers.Serializer):
    ids = serializers.ListField(child=_id(), max_length=500)
