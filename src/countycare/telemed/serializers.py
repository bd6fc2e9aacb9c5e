"""Serializers of the Walking Hospital API (``telemed.api``).

Output serializers describe what a client gets; input serializers parse types and storage
lengths only. The rules (scope, state machine, vitals ranges, which center offers which
service) are the services' and come back as domain errors naming the field."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from countycare.telemed import reports as report_seal
from countycare.telemed import selectors
from countycare.telemed.models import (
    Attachment,
    CriticalAlert,
    ExamOrder,
    Observation,
    OrderStatus,
    OrderTransition,
    Phrase,
    Priority,
    Report,
    Service,
    SharedCenter,
    Visit,
    VisitSetting,
)
from countycare.telemed.vitals import VITALS

MAX_ID = 2**63 - 1


def _id_field(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


def _name(user) -> str:
    if user is None:
        return ""
    full = getattr(user, "get_full_name", lambda: "")()
    return full or user.get_username()


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
    }
)
class PersonField(serializers.Field):
    """A staff member as ``{"id", "name"}`` (null when nobody)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value) -> dict[str, Any]:
        return {"id": value.pk, "name": _name(value)}


# --- Catalog ----------------------------------------------------------------------------------


class ServiceSerializer(serializers.ModelSerializer):
    modality_label = serializers.CharField(source="get_modality_display", read_only=True)

    class Meta:
        model = Service
        fields = [
            "id", "code", "name", "modality", "modality_label", "fee", "report_template",
        ]  # fmt: skip
        read_only_fields = fields


class SharedCenterSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    institution_name = serializers.CharField(source="institution.name", read_only=True)
    services = serializers.SerializerMethodField()

    class Meta:
        model = SharedCenter
        fields = [
            "id", "kind", "kind_label", "name", "institution", "institution_name",
            "opens_at", "closes_at", "open_weekdays", "services",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(ServiceSerializer(many=True))
    def get_services(self, obj: SharedCenter) -> list[dict[str, Any]]:
        active = [s for s in obj.services.all() if s.is_active]
        return ServiceSerializer(active, many=True).data


class PhraseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Phrase
        fields = ["id", "section", "service", "text", "sort"]
        read_only_fields = fields


# --- Visits and observations ------------------------------------------------------------------


class ObservationSerializer(serializers.ModelSerializer):
    flag_label = serializers.CharField(source="get_flag_display", read_only=True)

    class Meta:
        model = Observation
        fields = [
            "id", "code", "name", "value", "value_text", "unit", "reference_low",
            "reference_high", "flag", "flag_label", "is_critical", "source", "observed_at",
        ]  # fmt: skip
        read_only_fields = fields


class VisitSerializer(serializers.ModelSerializer):
    resident_name = serializers.CharField(source="resident.name", read_only=True)
    institution_name = serializers.CharField(source="institution.name", read_only=True)
    performed_by = PersonField()
    observations = ObservationSerializer(many=True, read_only=True)

    class Meta:
        model = Visit
        fields = [
            "id", "resident", "resident_name", "institution", "institution_name",
            "performed_by", "setting", "visited_at", "complaint", "note", "created_at",
            "observations",
        ]  # fmt: skip
        read_only_fields = fields


class VitalsSerializer(serializers.Serializer):
    """The kit's measurements; each optional. Ranges are checked by the service (an
    impossible value answers 400 naming the field; an abnormal one is flagged)."""

    def get_fields(self):
        fields = super().get_fields()
        for vital in VITALS:
            fields[vital.key] = serializers.FloatField(
                required=False,
                allow_null=True,
                help_text=f"{vital.name} ({vital.unit}), LOINC {vital.code}",
            )
        return fields

    def vitals(self) -> dict[str, Any]:
        return {v.key: self.validated_data[v.key] for v in VITALS if v.key in self.validated_data}


class VisitCreateSerializer(VitalsSerializer):
    resident = _id_field()
    setting = serializers.ChoiceField(choices=VisitSetting.choices, default=VisitSetting.CLINIC)
    visited_at = serializers.DateTimeField(required=False)
    complaint = serializers.CharField(max_length=500, required=False, allow_blank=True)
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True)


# --- Orders -----------------------------------------------------------------------------------


class OrderCreateSerializer(serializers.Serializer):
    resident = _id_field()
    service = serializers.CharField(
        max_length=40, help_text=gettext_lazy("Service code (e.g. ECG12) or id")
    )
    center = _id_field(
        required=False,
        allow_null=True,
        help_text=gettext_lazy("Optional: the center must be the one offering the service"),
    )
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.ROUTINE)
    clinical_question = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    visit = _id_field(required=False, allow_null=True)
    submit = serializers.BooleanField(
        default=True,
        help_text=gettext_lazy(
            "False keeps the order a draft: attach the files, then POST …/submit/."
        ),
    )


class TransitionSerializer(serializers.ModelSerializer):
    # Plain strings (the values of the order's ``status``), so the schema has one status enum.
    from_status = serializers.CharField(read_only=True, help_text=gettext_lazy("Empty: created"))
    to_status = serializers.CharField(read_only=True)
    actor = PersonField()

    class Meta:
        model = OrderTransition
        fields = ["from_status", "to_status", "actor", "at", "reason"]
        read_only_fields = fields


class AttachmentSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = [
            "id", "kind", "kind_label", "original_name", "content_type", "size", "sha256",
            "external_uid", "uploaded_at", "download_url",
        ]  # fmt: skip
        read_only_fields = fields

    def get_download_url(self, obj: Attachment) -> str:
        return reverse("telemed-order-attachment", args=[obj.order_id, obj.pk])


class ReportSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text="preliminary | signed")
    author = PersonField()
    signed_by = PersonField()
    seal_valid = serializers.SerializerMethodField(
        help_text=gettext_lazy("For a signed version: its content still matches its SHA-256")
    )
    pdf_url = serializers.SerializerMethodField()

    class Meta:
        model = Report
        fields = [
            "id", "version", "status", "findings", "findings_text", "impression",
            "is_abnormal", "author", "signed_by", "signed_at", "content_sha256",
            "amendment_reason", "seal_valid", "pdf_url",
        ]  # fmt: skip
        read_only_fields = fields

    def get_seal_valid(self, obj: Report) -> bool | None:
        return report_seal.verify(obj) if obj.signed_at else None

    def get_pdf_url(self, obj: Report) -> str | None:
        if not obj.signed_at:
            return None
        url = reverse("telemed-order-pdf", args=[obj.order_id])
        return f"{url}?version={obj.version}"


class OrderSerializer(serializers.ModelSerializer):
    """A row of a list (the requester's orders, a reader's worklist)."""

    resident_name = serializers.CharField(source="resident.name", read_only=True)
    service_code = serializers.CharField(source="service.code", read_only=True)
    service_name = serializers.CharField(source="service.name", read_only=True)
    center_name = serializers.CharField(source="center.name", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    requesting_institution_name = serializers.CharField(
        source="requesting_institution.name", read_only=True
    )
    requested_by = PersonField()
    claimed_by = PersonField(help_text=gettext_lazy("The reader holding the order"))
    sla_due = serializers.SerializerMethodField(
        help_text=gettext_lazy("When the turnaround target (policy SHC-03) runs out")
    )

    class Meta:
        model = ExamOrder
        fields = [
            "id", "accession_number", "resident", "resident_name", "service", "service_code",
            "service_name", "center", "center_name", "priority", "status", "status_label",
            "status_reason", "clinical_question", "triage_score", "triage_note",
            "requesting_institution", "requesting_institution_name", "requested_by", "visit",
            "created_at", "submitted_at", "claimed_by", "claimed_at", "lease_expires_at",
            "signed_at", "acknowledged_at", "sla_due",
        ]  # fmt: skip
        read_only_fields = fields

    def get_sla_due(self, obj: ExamOrder) -> dt.datetime | None:
        # selectors.sla_due reads the policy for each order; a page of a worklist shares the
        # targets, so they are read once per (center, priority).
        if obj.submitted_at is None:
            return None
        targets = self.context.setdefault("_sla_minutes", {})
        key = (obj.center_id, obj.priority)
        if key not in targets:
            targets[key] = selectors.sla_due(obj) - obj.submitted_at
        return obj.submitted_at + targets[key]


class OrderDetailSerializer(OrderSerializer):
    resident_national_id_masked = serializers.CharField(
        source="resident.national_id_masked", read_only=True
    )
    transitions = TransitionSerializer(many=True, read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)
    report = serializers.SerializerMethodField(
        help_text=gettext_lazy("The signed version in force, else the preliminary draft")
    )
    observations = ObservationSerializer(many=True, read_only=True)

    class Meta(OrderSerializer.Meta):
        fields = [
            *OrderSerializer.Meta.fields,
            "resident_national_id_masked", "acknowledged_by", "transitions", "attachments",
            "observations", "report",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(ReportSerializer(allow_null=True))
    def get_report(self, obj: ExamOrder) -> dict[str, Any] | None:
        report = selectors.current_report(obj)
        return ReportSerializer(report).data if report else None


# --- Order actions ----------------------------------------------------------------------------


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ResubmitSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ReportWriteSerializer(serializers.Serializer):
    """Preliminary save and sign. On sign, the fields sent replace the draft's; those left
    out keep the saved draft's values."""

    findings = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=2000),
        required=False,
        help_text=gettext_lazy("Structured findings: keys of the service's report_template"),
    )
    findings_text = serializers.CharField(max_length=10000, required=False, allow_blank=True)
    impression = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    is_abnormal = serializers.BooleanField(required=False)


class AmendSerializer(ReportWriteSerializer):
    reason = serializers.CharField(max_length=500)
    impression = serializers.CharField(max_length=5000)


class ClaimNextSerializer(serializers.Serializer):
    center = _id_field()


class WorklistFilter(serializers.Serializer):
    center = _id_field()


class OrderFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=OrderStatus.choices, required=False)
    center = _id_field(required=False)
    resident = _id_field(required=False)


class VisitFilter(serializers.Serializer):
    resident = _id_field(required=False)


class ReportVersionFilter(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, max_value=32767, required=False)


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text=gettext_lazy("PDF, JPEG/PNG or DICOM; the type is read from the content")
    )


# --- Critical values --------------------------------------------------------------------------


class CriticalAlertSerializer(serializers.ModelSerializer):
    resident_name = serializers.CharField(source="resident.name", read_only=True)
    institution_name = serializers.CharField(source="institution.name", read_only=True)
    status = serializers.CharField(read_only=True, help_text="open | escalated | acknowledged")
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    notify = PersonField()
    acknowledged_by = PersonField()

    class Meta:
        model = CriticalAlert
        fields = [
            "id", "resident", "resident_name", "order", "observation", "message",
            "value_shown", "notify", "institution", "institution_name", "status",
            "status_label", "raised_at", "escalated_at", "acknowledged_at", "acknowledged_by",
            "action_taken",
        ]  # fmt: skip
        read_only_fields = fields


class AlertAckSerializer(serializers.Serializer):
    action_taken = serializers.CharField(max_length=500, required=False, allow_blank=True)


class AlertFilter(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=[("open", "open"), ("all", "all")],
        default="open",
        help_text=gettext_lazy(
            "open: the alerts to act on (one's own and the area's overdue ones); all: every "
            "alert in scope"
        ),
    )
