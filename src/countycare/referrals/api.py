"""``/api/v1/`` routes of two-way referral and appointments (issue 6; REF-01 … REF-04).

Thin like telemed's: serializers parse types, ``referrals.services`` / ``appointments`` /
``catalogs`` hold the rules, ``selectors`` and ``scoped()`` decide what a user sees (an
out-of-scope id answers 404 like a missing one). Every POST accepts an ``Idempotency-Key``:
a retry from a tablet on a weak network gets the first answer, not a second referral or
booking. Reads of a referral are audited.

* ``referrals/`` — list (``direction``, ``status``, ``side=in|out``, ``resident``), create
  (``direction``: ``up`` | ``down`` | ``out``), detail; actions ``accept``, ``decline``,
  ``cancel``, ``arrive``, ``discharge`` (optionally with ``down``), ``approve``,
  ``reschedule``;
  ``suggest/?code=`` (is it in my catalog? REF-02), ``board/`` (per institution),
  ``figures/?institution=&start=&end=`` (indicator counts, VIEW_AGGREGATES).
* ``referral-departments/``, ``disease-catalogs/`` (+ ``upload/``, multipart ``file``).
* ``clinic-sessions/`` (publish, MANAGE_SCHEDULES; ``cancel``), ``appointment-slots/?department=``,
  ``appointments/`` (book; ``cancel``, ``no-show``, ``attended``).
* ``referral-notifications/`` (+ ``read/``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from countycare.core import audit
from countycare.core.api import idempotent, plain_payload, to_json
from countycare.core.errors import DomainError, PermissionDenied, ValidationError
from countycare.organizations.models import Institution
from countycare.organizations.roles import Perm
from countycare.organizations.selectors import active_roles, primary_institution
from countycare.referrals import appointments, catalogs, selectors, services
from countycare.referrals.models import CatalogEntry, CatalogLevel, ClinicSession, Direction
from countycare.referrals.serializers import (
    MAX_ID,
    AcceptSerializer,
    AppointmentCreateSerializer,
    AppointmentSerializer,
    BoardFilter,
    DepartmentSerializer,
    DischargeSerializer,
    FiguresFilter,
    NotificationReadSerializer,
    NotificationSerializer,
    ReferralCreateSerializer,
    ReferralDetailSerializer,
    ReferralFilter,
    ReferralOptionalReasonSerializer,
    ReferralReasonSerializer,
    ReferralSerializer,
    RescheduleSerializer,
    SessionCreateSerializer,
    SessionSerializer,
    SlotFilter,
    SlotSerializer,
    SuggestFilter,
    TimeSerializer,
)

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description=gettext_lazy(
        "Optional. A retry with the same key gets the first answer instead of doing it twice; "
        "the same key with a different body answers 409."
    ),
)
REFERRAL_PERMS = (Perm.REFER, Perm.RECEIVE_REFERRAL, Perm.MANAGE_SCHEDULES)


class ReferralUser(permissions.BasePermission):
    message = gettext_lazy("Your role does not take part in referrals.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and (
                user.is_superuser
                or any(user.has_perm(f"countycare.{p}") for p in REFERRAL_PERMS)
                or user.has_perm(f"countycare.{Perm.MANAGE_MASTER_DATA}")
            )
        )


class AggregateOrReferralUser(ReferralUser):
    """The referral figures are also for aggregate roles (the health commission)."""

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) or bool(
            request.user.is_authenticated
            and request.user.has_perm(f"countycare.{Perm.VIEW_AGGREGATES}")
        )


class Mixin:
    permission_classes = [ReferralUser]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        value = kwargs.get("pk")
        if value is not None and not (str(value).isdigit() and 0 < int(value) <= MAX_ID):
            raise exceptions.NotFound()

    def handle_exception(self, exc):
        if isinstance(exc, DomainError) and exc.code == "not_found":
            exc = exceptions.NotFound(str(exc.message))
        return super().handle_exception(exc)


def _parse(serializer_class, data):
    parsed = serializer_class(data=data)
    parsed.is_valid(raise_exception=True)
    return parsed.validated_data


def _post(request, operation: str, run) -> Response:
    """An idempotent POST: ``run()`` returns (status, body)."""
    return idempotent(request, operation=operation, payload=plain_payload(request.data), action=run)


def _institution(request, pk: int | None) -> Institution:
    """The institution a board or figures are asked for: one the user works at (or within
    the user's scope; the whole county for county-wide roles)."""
    from countycare.organizations.selectors import visible_institutions

    user = request.user
    if pk is None:
        found = primary_institution(user)
        if found is None:
            raise ValidationError(_("Name the institution."), field="institution")
        return found
    found = Institution.objects.filter(pk=pk).first()
    if found is None:
        raise exceptions.NotFound()
    allowed = visible_institutions(user).filter(pk=pk).exists() or any(
        found.path.startswith(path) for _r, _i, path in active_roles(user)
    )
    if not allowed:
        raise exceptions.NotFound()
    return found


# --- referrals --------------------------------------------------------------------------------
class ReferralViewSet(Mixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = ReferralSerializer
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    permission_classes = [AggregateOrReferralUser]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # Aggregate roles reach the figures only, never referral rows.
        if self.action != "figures" and not ReferralUser().has_permission(request, self):
            raise exceptions.PermissionDenied(ReferralUser.message)

    def get_queryset(self):
        return selectors.referrals_for(self.request.user)

    def _detail(self, pk: int) -> dict[str, Any]:
        referral = selectors.referral_detail(self.request.user, pk)
        if referral is None:
            raise exceptions.NotFound(_("No such referral in your area."))
        return to_json(ReferralDetailSerializer(referral).data)

    @extend_schema(
        summary=gettext_lazy("Referrals in your area"),
        parameters=[ReferralFilter],
    )
    def list(self, request, *args, **kwargs):
        f = _parse(ReferralFilter, request.query_params)
        qs = self.get_queryset()
        for name in ("direction", "status"):
            if name in f:
                qs = qs.filter(**{name: f[name]})
        if "resident" in f:
            qs = qs.filter(resident_id=f["resident"])
        if "side" in f:
            home = primary_institution(request.user)
            if home is not None:
                subtree = Institution.objects.subtree(home).values("pk")
                key = "to_institution__in" if f["side"] == "in" else "from_institution__in"
                qs = qs.filter(**{key: subtree})
        page = self.paginate_queryset(qs.order_by("-requested_at", "-pk"))
        return self.get_paginated_response(ReferralSerializer(page, many=True).data)

    @extend_schema(summary=gettext_lazy("A referral with its moves, plan and appointment"))
    def retrieve(self, request, pk=None):
        referral = selectors.referral_detail(request.user, int(pk))
        if referral is None:
            raise exceptions.NotFound(_("No such referral in your area."))
        audit.log(audit.Action.READ, actor=request.user, obj=referral)
        return Response(ReferralDetailSerializer(referral).data)

    @extend_schema(
        summary=gettext_lazy("Refer a resident up, down or out of the county"),
        parameters=[IDEMPOTENCY_KEY],
        request=ReferralCreateSerializer,
        responses={201: ReferralDetailSerializer},
    )
    def create(self, request, *args, **kwargs):
        def run():
            data = _parse(ReferralCreateSerializer, request.data)
            user, direction = request.user, data["direction"]
            common = {
                "reason": data["reason"],
                "diagnosis_code": data.get("diagnosis_code", ""),
                "diagnosis_name": data.get("diagnosis_name", ""),
            }
            if direction == Direction.UP:
                referral = services.refer_up(
                    user,
                    resident=data["resident"],
                    department=data["department"],
                    to_institution=data.get("to_institution"),
                    urgency=data["urgency"],
                    visit=data.get("visit"),
                    critical_alert=data.get("critical_alert"),
                    reports=data.get("reports", ()),
                    observations=data.get("observations", ()),
                    **common,
                )
            elif direction == Direction.DOWN:
                referral = services.refer_down(
                    user,
                    resident=data.get("resident"),
                    to_institution=data["to_institution"],
                    parent=data.get("parent"),
                    care_plan=dict(data["care_plan"]),
                    **common,
                )
            else:
                referral = services.refer_out(
                    user,
                    resident=data["resident"],
                    destination=data["destination"],
                    urgency=data["urgency"],
                    reports=data.get("reports", ()),
                    observations=data.get("observations", ()),
                    **common,
                )
            return status.HTTP_201_CREATED, self._detail(referral.pk)

        return _post(request, "referrals.create", run)

    def _move(self, request, pk, name: str, serializer, call):
        def run():
            data = _parse(serializer, request.data) if serializer else {}
            referral = call(data)
            return status.HTTP_200_OK, self._detail(referral.pk)

        return _post(request, f"referrals.{name}.{pk}", run)

    @extend_schema(
        summary=gettext_lazy("Accept: an appointment (slot) or a bed; downward: take over"),
        parameters=[IDEMPOTENCY_KEY],
        request=AcceptSerializer,
        responses={200: ReferralDetailSerializer},
    )
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._move(
            request, pk, "accept", AcceptSerializer,
            lambda d: services.accept(
                request.user, pk, mode=d.get("mode", ""), slot=d.get("slot"),
                bed=d.get("bed", ""), admission_on=d.get("admission_on"),
                reason=d.get("reason", ""),
            ),
        )  # fmt: skip

    @extend_schema(
        summary=gettext_lazy("Decline with a reason"),
        parameters=[IDEMPOTENCY_KEY],
        request=ReferralReasonSerializer,
        responses={200: ReferralDetailSerializer},
    )
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        return self._move(
            request, pk, "decline", ReferralReasonSerializer,
            lambda d: services.decline(request.user, pk, reason=d["reason"]),
        )  # fmt: skip

    @extend_schema(
        summary=gettext_lazy("Withdraw (the referring side), with a reason"),
        parameters=[IDEMPOTENCY_KEY],
        request=ReferralReasonSerializer,
        responses={200: ReferralDetailSerializer},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._move(
            request, pk, "cancel", ReferralReasonSerializer,
            lambda d: services.cancel(request.user, pk, reason=d["reason"]),
        )  # fmt: skip

    @extend_schema(
        summary=gettext_lazy("The patient arrived"),
        parameters=[IDEMPOTENCY_KEY],
        request=TimeSerializer,
        responses={200: ReferralDetailSerializer},
    )
    @action(detail=True, methods=["post"])
    def arrive(self, request, pk=None):
        return self._move(
            request, pk, "arrive", TimeSerializer,
            lambda d: services.arrive(request.user, pk, at=d.get("at")),
        )  # fmt: skip

    @extend_schema(
        summary=gettext_lazy("Discharge; with `down` refer the patient down with a care plan"),
        parameters=[IDEMPOTENCY_KEY],
        request=DischargeSerializer,
        responses={200: ReferralDetailSerializer},
    )
    @action(detail=True, methods=["post"])
    def discharge(self, request, pk=None):
        return self._move(
            request, pk, "discharge", DischargeSerializer,
            lambda d: services.discharge(
                request.user, pk, at=d.get("at"), note=d.get("note", ""), down=d.get("down")
            )[0],
        )  # fmt: skip

    @extend_schema(
        summary=gettext_lazy("Another appointment time for an accepted upward referral"),
        parameters=[IDEMPOTENCY_KEY],
        request=RescheduleSerializer,
        responses={200: ReferralDetailSerializer},
    )
    @action(detail=True, methods=["post"])
    def reschedule(self, request, pk=None):
        return self._move(
            request, pk, "reschedule", RescheduleSerializer,
            lambda d: services.reschedule(request.user, pk, slot=d["slot"], reason=d["reason"]),
        )  # fmt: skip

    @extend_schema(
        summary=gettext_lazy("Approve an out-of-county referral"),
        parameters=[IDEMPOTENCY_KEY],
        request=ReferralOptionalReasonSerializer,
        responses={200: ReferralDetailSerializer},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._move(
            request, pk, "approve", ReferralOptionalReasonSerializer,
            lambda d: services.approve(request.user, pk, reason=d.get("reason", "")),
        )  # fmt: skip

    @extend_schema(
        summary=gettext_lazy("Is this diagnosis in my institution's catalog? (REF-02)"),
        parameters=[SuggestFilter],
    )
    @action(detail=False, methods=["get"])
    def suggest(self, request):
        f = _parse(SuggestFilter, request.query_params)
        institution = _institution(request, f.get("institution"))
        return Response(services.suggestion(institution, f["code"]))

    @extend_schema(
        summary=gettext_lazy("The referral board of an institution: open, waiting, overdue"),
        parameters=[BoardFilter],
    )
    @action(detail=False, methods=["get"])
    def board(self, request):
        f = _parse(BoardFilter, request.query_params)
        institution = _institution(request, f.get("institution"))
        data = selectors.board(request.user, institution)
        return Response(
            {
                "institution": institution.pk,
                "overdue": data["overdue"],
                "counts": [
                    {"side": side, "status": st, "n": n} for (side, st), n in data["counts"].items()
                ],
                "rows": [
                    {
                        **ReferralSerializer(row.referral).data,
                        "side": row.side,
                        "waiting_minutes": int(row.waiting.total_seconds() // 60),
                        "due_at": row.due.isoformat() if row.due else None,
                        "overdue": row.overdue,
                    }
                    for row in data["rows"]
                ],
            }
        )

    @extend_schema(
        summary=gettext_lazy("Referral figures of a subtree and period (KPI-01, KPI-02)"),
        parameters=[FiguresFilter],
    )
    @action(detail=False, methods=["get"])
    def figures(self, request):
        if not request.user.has_perm(f"countycare.{Perm.VIEW_AGGREGATES}"):
            raise PermissionDenied(_("Your role does not see aggregates."))
        f = _parse(FiguresFilter, request.query_params)
        institution = _institution(request, f.get("institution"))
        return Response(selectors.figures(institution, f["start"], f["end"]))


# --- catalogs and departments -----------------------------------------------------------------
class DepartmentViewSet(Mixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = DepartmentSerializer
    pagination_class = None

    def get_queryset(self):
        return selectors.departments()


class CatalogViewSet(Mixin, viewsets.ViewSet):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary=gettext_lazy("Disease catalogs by level with their entries"),
        responses={200: OpenApiTypes.OBJECT},
    )
    def list(self, request):
        counts = dict(
            CatalogEntry.objects.values_list("catalog__level")
            .annotate(n=Count("pk"))
            .values_list("catalog__level", "n")
        )
        level = request.query_params.get("level")
        out = []
        for value, label in CatalogLevel.choices:
            item: dict[str, Any] = {
                "level": value,
                "label": str(label),
                "entries": counts.get(value, 0),
            }
            if level == value:
                item["items"] = list(
                    CatalogEntry.objects.filter(catalog__level=value)
                    .order_by("code")
                    .values("code", "name", "department", "note")
                )
            out.append(item)
        return Response(out)

    @extend_schema(
        summary=gettext_lazy("Upload a catalog file (CSV or .xlsx): all rows or nothing"),
        description=gettext_lazy(
            "Columns level (级别), code (ICD-10编码), name (疾病名称), optional department "
            "(科室) and note (备注). The levels the file lists are replaced. Any bad row: 400 "
            "with `rows` naming each row and field, and nothing changes."
        ),
        parameters=[IDEMPOTENCY_KEY],
        request={"multipart/form-data": OpenApiTypes.OBJECT},
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=False, methods=["post"])
    def upload(self, request):
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationError(_("Choose a file."), code="required", field="file")
        content = upload.read(catalogs.MAX_UPLOAD_BYTES + 1)

        def run():
            result = catalogs.import_catalog(request.user, content, upload.name)
            return status.HTTP_200_OK, {"counts": result.counts, "warnings": result.warnings}

        import hashlib

        return idempotent(
            request,
            operation="referrals.catalog.upload",
            payload={"sha256": hashlib.sha256(content).hexdigest()},
            action=run,
        )


# --- appointments -----------------------------------------------------------------------------
class SessionViewSet(Mixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = SessionSerializer

    def get_queryset(self):
        qs = ClinicSession.objects.select_related("department").prefetch_related("slots")
        dept = self.request.query_params.get("department")
        if dept and dept.isdigit():
            qs = qs.filter(department_id=int(dept))
        return qs.order_by("starts_at")

    @extend_schema(
        summary=gettext_lazy("Publish a clinic session and its slots (REF-03 reserved share)"),
        parameters=[IDEMPOTENCY_KEY],
        request=SessionCreateSerializer,
        responses={201: SessionSerializer},
    )
    def create(self, request, *args, **kwargs):
        def run():
            d = _parse(SessionCreateSerializer, request.data)
            session = appointments.publish_session(
                request.user, department=d["department"], doctor=d.get("doctor"),
                starts_at=d["starts_at"], ends_at=d["ends_at"], slot_minutes=d["slot_minutes"],
                reserved_share=d.get("reserved_share"),
            )  # fmt: skip
            return status.HTTP_201_CREATED, to_json(SessionSerializer(session).data)

        return _post(request, "referrals.session.create", run)

    @extend_schema(
        summary=gettext_lazy("Call a session off: bookings without a referral are cancelled"),
        parameters=[IDEMPOTENCY_KEY],
        request=ReferralReasonSerializer,
        responses={200: SessionSerializer},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        def run():
            reason = _parse(ReferralReasonSerializer, request.data)["reason"]
            session = appointments.cancel_session(request.user, pk, reason=reason)
            return status.HTTP_200_OK, to_json(SessionSerializer(session).data)

        return _post(request, f"referrals.session.cancel.{pk}", run)


class SlotViewSet(Mixin, viewsets.ViewSet):
    @extend_schema(
        summary=gettext_lazy("Free slots of a department"),
        parameters=[SlotFilter],
        responses={200: SlotSerializer(many=True)},
    )
    def list(self, request):
        f = _parse(SlotFilter, request.query_params)
        rows = selectors.free_slots(f["department"], start=f.get("start"), days=f["days"])
        return Response(SlotSerializer(rows, many=True).data)


class AppointmentViewSet(Mixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = AppointmentSerializer

    def get_queryset(self):
        qs = selectors.appointments_for(self.request.user)
        st = self.request.query_params.get("status")
        if st:
            qs = qs.filter(status=st)
        return qs.order_by("slot__starts_at", "pk")

    @extend_schema(
        summary=gettext_lazy("Book a slot on a resident's behalf"),
        parameters=[IDEMPOTENCY_KEY],
        request=AppointmentCreateSerializer,
        responses={201: AppointmentSerializer},
    )
    def create(self, request, *args, **kwargs):
        def run():
            d = _parse(AppointmentCreateSerializer, request.data)
            appointment = appointments.book(request.user, slot=d["slot"], resident=d["resident"])
            return status.HTTP_201_CREATED, to_json(AppointmentSerializer(appointment).data)

        return _post(request, "referrals.appointment.create", run)

    def _act(self, request, pk, name, call):
        def run():
            return status.HTTP_200_OK, to_json(AppointmentSerializer(call()).data)

        return _post(request, f"referrals.appointment.{name}.{pk}", run)

    @extend_schema(
        summary=gettext_lazy("Cancel an appointment (the slot is free again)"),
        parameters=[IDEMPOTENCY_KEY],
        request=ReferralReasonSerializer,
        responses={200: AppointmentSerializer},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        reason = _parse(ReferralReasonSerializer, request.data)["reason"]
        return self._act(
            request, pk, "cancel", lambda: appointments.cancel(request.user, pk, reason=reason)
        )

    @extend_schema(
        summary=gettext_lazy("Mark a no-show"),
        parameters=[IDEMPOTENCY_KEY],
        request=None,
        responses={200: AppointmentSerializer},
    )
    @action(detail=True, methods=["post"], url_path="no-show")
    def no_show(self, request, pk=None):
        return self._act(
            request, pk, "no_show", lambda: appointments.mark_no_show(request.user, pk)
        )

    @extend_schema(
        summary=gettext_lazy("Mark attended"),
        parameters=[IDEMPOTENCY_KEY],
        request=None,
        responses={200: AppointmentSerializer},
    )
    @action(detail=True, methods=["post"])
    def attended(self, request, pk=None):
        return self._act(
            request, pk, "attended", lambda: appointments.mark_attended(request.user, pk)
        )


class NotificationViewSet(Mixin, viewsets.ViewSet):
    @extend_schema(
        summary=gettext_lazy("Unread hand-over notifications"),
        responses={200: NotificationSerializer(many=True)},
    )
    def list(self, request):
        rows = selectors.unread_notifications(request.user)[:200]
        return Response(NotificationSerializer(rows, many=True).data)

    @extend_schema(
        summary=gettext_lazy("Mark notifications read"),
        request=NotificationReadSerializer,
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=False, methods=["post"])
    def read(self, request):
        ids = _parse(NotificationReadSerializer, request.data)["ids"]
        return Response({"read": services.mark_read(request.user, ids)})


def register(router) -> None:
    """Register this app's viewsets on the one API router."""
    router.register("referrals", ReferralViewSet, basename="referral")
    router.register("referral-departments", DepartmentViewSet, basename="referral-department")
    router.register("disease-catalogs", CatalogViewSet, basename="disease-catalog")
    router.register("clinic-sessions", SessionViewSet, basename="clinic-session")
    router.register("appointment-slots", SlotViewSet, basename="appointment-slot")
    router.register("appointments", AppointmentViewSet, basename="appointment")
    router.register("referral-notifications", NotificationViewSet, basename="referral-notification")
