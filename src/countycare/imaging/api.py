"""``/api/v1/`` routes of the imaging app (issue 4), added by ``countycare.api_urls``.

* ``imaging-studies/`` — the studies the user may see (scoped: a reader's centers', a
  village's own), filter ``order`` (id), ``status`` (matched | unmatched | rejected); detail
  with series and instances (audited read); actions ``link`` (``{"order": accession number
  or id}``) and ``reject`` (``{"reason"}``) for ``reconcile_studies``. POSTs accept an
  ``Idempotency-Key``.
* ``imaging-devices/`` — the register of DICOM devices (calling AE titles per institution),
  for ``manage_interfaces``: list, create, update (deactivate instead of deleting).
"""

from __future__ import annotations

import re

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.routers import DefaultRouter

from countycare.core import audit
from countycare.core.api import idempotent, plain_payload, to_json
from countycare.core.scoping import scoped
from countycare.imaging import services
from countycare.imaging.models import DeviceAE, Instance, Series, Study, StudyStatus
from countycare.organizations.models import Institution
from countycare.organizations.roles import Perm

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description=gettext_lazy("Optional. A retry with the same key gets the first answer."),
)
AE_TITLE = re.compile(r"^[A-Za-z0-9_\-. ]{1,16}$")


class InstanceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Instance
        fields = [
            "id", "sop_instance_uid", "sop_class_uid", "transfer_syntax_uid", "kind", "number",
            "frames", "rows", "columns", "photometric", "pixel_spacing", "spacing_source",
            "frame_time_ms", "size", "received_at", "findings",
        ]  # fmt: skip
        read_only_fields = fields


class SeriesSerializer(serializers.ModelSerializer):
    instances = InstanceSerializer(many=True, read_only=True)

    class Meta:
        model = Series
        fields = ["id", "series_instance_uid", "modality", "number", "description", "body_part",
                  "instances"]  # fmt: skip
        read_only_fields = fields


STATUS_HELP = gettext_lazy("matched | unmatched | rejected")


class StudySerializer(serializers.ModelSerializer):
    device = serializers.SlugRelatedField(slug_field="ae_title", read_only=True)
    # A plain string in the schema: "status" names several choice sets across the API.
    status = serializers.CharField(read_only=True, help_text=STATUS_HELP)
    order_accession_number = serializers.CharField(
        source="order.accession_number", read_only=True, default=None
    )

    class Meta:
        model = Study
        fields = [
            "id", "study_instance_uid", "status", "match_method", "order",
            "order_accession_number", "device", "accession_number", "patient_id",
            "patient_name", "study_date", "modalities", "description", "received_at",
            "reject_reason",
        ]  # fmt: skip
        read_only_fields = fields


class StudyDetailSerializer(StudySerializer):
    series = SeriesSerializer(many=True, read_only=True)

    class Meta(StudySerializer.Meta):
        fields = [*StudySerializer.Meta.fields, "series"]
        read_only_fields = fields


class LinkSerializer(serializers.Serializer):
    order = serializers.CharField(max_length=32, help_text=gettext_lazy("accession number or id"))


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class StudyFilter(serializers.Serializer):
    order = serializers.IntegerField(required=False, min_value=1)
    status = serializers.CharField(required=False, max_length=20, help_text=STATUS_HELP)

    def validate_status(self, value: str) -> str:
        if value not in StudyStatus.values:
            raise serializers.ValidationError(_("Status is matched, unmatched or rejected."))
        return value


class StudyViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self):
        qs = scoped(self.request.user, Study).select_related("device", "order")
        if self.action == "list":
            params = StudyFilter(data=self.request.query_params)
            params.is_valid(raise_exception=True)
            if "order" in params.validated_data:
                qs = qs.filter(order_id=params.validated_data["order"])
            if "status" in params.validated_data:
                qs = qs.filter(status=params.validated_data["status"])
        else:
            qs = qs.prefetch_related("series__instances")
        return qs.order_by("-received_at", "-pk")

    def get_serializer_class(self):
        return StudyDetailSerializer if self.action == "retrieve" else StudySerializer

    @extend_schema(parameters=[StudyFilter])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def retrieve(self, request, *args, **kwargs):
        study = self.get_object()
        audit.log(audit.Action.READ, actor=request.user, obj=study, detail={"view": "api"})
        return super().retrieve(request, *args, **kwargs)

    def _act(self, request, pk, operation, run):
        def action_() -> tuple[int, object]:
            study = run()
            return 200, to_json(StudySerializer(study).data)

        return idempotent(
            request, operation=f"imaging.{operation}:{pk}", payload=plain_payload(request.data),
            action=action_,
        )  # fmt: skip

    @extend_schema(request=LinkSerializer, responses=StudySerializer, parameters=[IDEMPOTENCY_KEY])
    @action(detail=True, methods=["post"])
    def link(self, request, pk=None):
        data = LinkSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._act(
            request, pk, "link",
            lambda: services.link_study(request.user, pk, order=data.validated_data["order"]),
        )  # fmt: skip

    @extend_schema(
        request=RejectSerializer, responses=StudySerializer, parameters=[IDEMPOTENCY_KEY]
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        data = RejectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._act(
            request, pk, "reject",
            lambda: services.reject_study(request.user, pk, reason=data.validated_data["reason"]),
        )  # fmt: skip


class ManagesInterfaces(permissions.BasePermission):
    message = gettext_lazy("Your role does not manage device interfaces.")

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm(f"countycare.{Perm.MANAGE_INTERFACES}")


class DeviceSerializer(serializers.ModelSerializer):
    institution = serializers.PrimaryKeyRelatedField(queryset=Institution.objects.all())

    class Meta:
        model = DeviceAE
        fields = ["id", "ae_title", "institution", "modality", "description", "is_active"]

    def validate_ae_title(self, value: str) -> str:
        value = value.strip()
        if not AE_TITLE.match(value) or value.startswith(" "):
            raise serializers.ValidationError(
                _("An AE title is 1 to 16 letters, digits, spaces, _ - or .")
            )
        return value

    def validate_institution(self, value: Institution) -> Institution:
        user = self.context["request"].user
        if not _institutions(user).filter(pk=value.pk).exists():
            raise serializers.ValidationError(_("Choose an institution in your area."))
        return value


def _institutions(user):
    from countycare.core.scoping import scope_for

    scope = scope_for(user)
    if scope.county_wide or user.has_perm(f"countycare.{Perm.MANAGE_MASTER_DATA}"):
        return Institution.objects.all()
    if scope.institution_ids is None:
        return Institution.objects.none()
    return Institution.objects.filter(pk__in=scope.institution_ids)


class DeviceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [permissions.IsAuthenticated, ManagesInterfaces]
    serializer_class = DeviceSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        # Devices are master data, not records: the county's system admin sees them all.
        user = self.request.user
        qs = (
            DeviceAE.objects.all()
            if user.has_perm(f"countycare.{Perm.MANAGE_MASTER_DATA}")
            else scoped(user, DeviceAE)
        )
        return qs.select_related("institution").order_by("ae_title")

    def perform_create(self, serializer):
        device = serializer.save()
        audit.log("create", actor=self.request.user, obj=device)

    def perform_update(self, serializer):
        device = serializer.save()
        audit.log("update", actor=self.request.user, obj=device)


def register(router: DefaultRouter) -> None:
    """Register this app's viewsets on the one API router."""
    router.register("imaging-studies", StudyViewSet, basename="imaging-study")
    router.register("imaging-devices", DeviceViewSet, basename="imaging-device")
