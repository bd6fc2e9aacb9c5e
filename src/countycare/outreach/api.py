"""REST routes of the outreach app, added to ``/api/v1/`` by ``countycare.api_urls``:

- ``outreach/siting-runs/`` — list, create (solve; ``Idempotency-Key``), retrieve (OUT-01);
- ``outreach/circuit-visits/`` — list (``?from=&to=``), retrieve, ``record`` (on the day);
- ``outreach/dispatches/`` — list, create (validated per rule), retrieve, ``check-in``;
- ``outreach/compliance/?year=`` — findings of the user's area (OUT-02 … OUT-09).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from countycare.core.api import IdempotentCreateMixin, idempotent, plain_payload, to_json
from countycare.organizations.models import Institution, Staff
from countycare.organizations.selectors import visible_institutions
from countycare.outreach import compliance, selectors, services, siting_services
from countycare.outreach.models import (
    CircuitVisit,
    Dispatch,
    DispatchCheckIn,
    DispatchKind,
    SitingObjective,
    SitingRun,
)


class SitingRunSerializer(serializers.ModelSerializer):
    chosen = serializers.SerializerMethodField()
    assignment = serializers.SerializerMethodField()

    class Meta:
        model = SitingRun
        fields = ["id", "k", "objective", "max_km", "time_limit", "keep_current", "required",
                  "excluded", "status", "error", "objective_value", "gap", "seconds", "chosen",
                  "assignment", "created_at", "applied_at"]  # fmt: skip

    def get_chosen(self, run) -> list[str]:
        return (run.result or {}).get("chosen", [])

    def get_assignment(self, run) -> dict[str, str]:
        return (run.result or {}).get("assignment", {})


class SitingRunCreateSerializer(serializers.Serializer):
    k = serializers.IntegerField(min_value=1)
    objective = serializers.ChoiceField(choices=SitingObjective.choices, default="median")
    max_km = serializers.FloatField(required=False, allow_null=True, min_value=0.01)
    required = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    excluded = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    keep_current = serializers.BooleanField(required=False, default=False)
    time_limit = serializers.FloatField(required=False, default=60, min_value=1, max_value=600)


class _PlanPermission(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated) and selectors.can_plan(
            request.user
        )


class SitingRunViewSet(
    IdempotentCreateMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Siting runs of the circuit service points (OUT-01)."""

    idempotency_operation = "outreach.siting_run.create"
    serializer_class = SitingRunSerializer
    permission_classes = [_PlanPermission]
    queryset = SitingRun.objects.none()

    def get_queryset(self):
        return selectors.siting_runs(self.request.user)

    def create_once(self, request) -> tuple[int, Any]:
        parsed = SitingRunCreateSerializer(data=request.data)
        parsed.is_valid(raise_exception=True)
        run = siting_services.start_run(actor=request.user, **parsed.validated_data)
        run.refresh_from_db()
        return status.HTTP_201_CREATED, to_json(SitingRunSerializer(run).data)


class CircuitVisitSerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="team.name")
    place_name = serializers.CharField(source="place.name")
    attendees = serializers.SerializerMethodField()

    class Meta:
        model = CircuitVisit
        fields = ["id", "team", "place", "place_name", "rule", "date", "session", "crew",
                  "stop_order", "status", "arrived_at", "left_at", "residents_served",
                  "services", "note", "attendees"]  # fmt: skip

    def get_attendees(self, visit) -> list[int]:
        return [a.staff_id for a in visit.attendance.all()]


class VisitRecordSerializer(serializers.Serializer):
    arrived_at = serializers.DateTimeField()
    left_at = serializers.DateTimeField()
    attendees = serializers.ListField(child=serializers.IntegerField(), allow_empty=False)
    residents_served = serializers.IntegerField(min_value=0, default=0)
    services = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class CircuitVisitViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Circuit visits the user may see (their teams' and those in their area)."""

    serializer_class = CircuitVisitSerializer
    queryset = CircuitVisit.objects.none()

    def get_queryset(self):
        qs = selectors.visits(self.request.user).prefetch_related("attendance")
        params = self.request.query_params
        for key, lookup in (("from", "date__gte"), ("to", "date__lte")):
            if params.get(key):
                try:
                    qs = qs.filter(**{lookup: dt.date.fromisoformat(params[key])})
                except ValueError as exc:
                    raise serializers.ValidationError({key: ["YYYY-MM-DD"]}) from exc
        return qs.order_by("date", "team", "crew", "stop_order")

    @action(detail=True, methods=["post"])
    def record(self, request, pk=None):
        """Record the visit on the day (idempotent: the same record again is the same)."""
        visit = self.get_object()

        def run() -> tuple[int, Any]:
            parsed = VisitRecordSerializer(data=request.data)
            parsed.is_valid(raise_exception=True)
            done = services.record_visit(actor=request.user, visit=visit, **parsed.validated_data)
            done = self.get_queryset().get(pk=done.pk)
            return status.HTTP_200_OK, to_json(CircuitVisitSerializer(done).data)

        return idempotent(request, operation=f"outreach.visit.record.{visit.pk}",
                          payload=plain_payload(request.data), action=run)  # fmt: skip


class DispatchSerializer(serializers.ModelSerializer):
    staff_name = serializers.CharField(source="staff.__str__", read_only=True)

    class Meta:
        model = Dispatch
        fields = ["id", "staff", "staff_name", "kind", "from_institution", "to_institution",
                  "start", "end", "days_per_week", "min_hours_per_day", "note"]  # fmt: skip


class DispatchCreateSerializer(serializers.Serializer):
    staff = serializers.PrimaryKeyRelatedField(queryset=Staff.objects.filter(is_active=True))
    kind = serializers.ChoiceField(choices=DispatchKind.choices)
    from_institution = serializers.PrimaryKeyRelatedField(queryset=Institution.objects.all())
    to_institution = serializers.PrimaryKeyRelatedField(queryset=Institution.objects.all())
    start = serializers.DateField()
    end = serializers.DateField()
    days_per_week = serializers.IntegerField(required=False, min_value=1, max_value=7)
    min_hours_per_day = serializers.FloatField(required=False, min_value=0.5, max_value=24)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class CheckInSerializer(serializers.ModelSerializer):
    class Meta:
        model = DispatchCheckIn
        fields = ["id", "dispatch", "date", "arrived_at", "left_at"]
        read_only_fields = ["dispatch"]


class DispatchViewSet(
    IdempotentCreateMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Dispatched doctors (OUT-05 … OUT-09) and their attendance."""

    idempotency_operation = "outreach.dispatch.create"
    serializer_class = DispatchSerializer
    queryset = Dispatch.objects.none()

    def get_queryset(self):
        return selectors.dispatches(self.request.user).order_by("-start", "pk")

    def create_once(self, request) -> tuple[int, Any]:
        parsed = DispatchCreateSerializer(data=request.data)
        parsed.is_valid(raise_exception=True)
        data = dict(parsed.validated_data)
        visible = visible_institutions(request.user)
        for field in ("from_institution", "to_institution"):
            if not request.user.is_superuser and not visible.filter(pk=data[field].pk).exists():
                raise serializers.ValidationError({field: ["not in your area"]})
        created = services.create_dispatch(actor=request.user, **data)
        return status.HTTP_201_CREATED, to_json(DispatchSerializer(created).data)

    @action(detail=True, methods=["post"], url_path="check-in")
    def check_in(self, request, pk=None):
        """Check in a day on site (the same day again updates it)."""
        item = self.get_object()

        def run() -> tuple[int, Any]:
            parsed = CheckInSerializer(data=request.data)
            parsed.is_valid(raise_exception=True)
            row = services.check_in(actor=request.user, dispatch=item, **parsed.validated_data)
            return status.HTTP_200_OK, to_json(CheckInSerializer(row).data)

        return idempotent(request, operation=f"outreach.dispatch.check_in.{item.pk}",
                          payload=plain_payload(request.data), action=run)  # fmt: skip


class ComplianceViewSet(viewsets.ViewSet):
    """Breaches and warnings of the user's area for a year (``?year=``)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("year", int, description="Calendar year (default: this year)")
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def list(self, request):
        if not selectors.can_view_reports(request.user):
            raise PermissionDenied()
        raw = request.query_params.get("year", "")
        year = int(raw) if raw.isdigit() else timezone.localdate().year
        root = selectors.area_root(request.user)
        findings = compliance.all_findings(root, year)
        return Response(
            {
                "year": year,
                "findings": [
                    {"rule": f.rule, "level": f.level, "subject": f.subject, "message": f.message}
                    for f in findings
                ],
            }
        )


def register(router: DefaultRouter) -> None:
    """Register this app's viewsets on the one API router."""
    router.register("outreach/siting-runs", SitingRunViewSet, basename="outreach-siting-run")
    router.register("outreach/circuit-visits", CircuitVisitViewSet, basename="outreach-visit")
    router.register("outreach/dispatches", DispatchViewSet, basename="outreach-dispatch")
    router.register("outreach/compliance", ComplianceViewSet, basename="outreach-compliance")
