"""``/api/v1/`` routes of the Walking Hospital (issue 3; WH-02, WH-03, WH-04, WH-07, SHC-01).

Thin by design: serializers parse types, ``telemed.services`` / ``attachments`` /
``critical`` hold the rules and write the audit entries of changes, ``telemed.selectors`` and
``core.scoping`` decide what a user sees. An object outside the user's scope answers 404,
exactly like one that does not exist. Reads of orders, attachments and reports are audited
here (one READ entry per request), like resident reads.

Routes:

* ``centers/`` (+ ``{id}/phrases/``): the shared centers with their service catalogs.
* ``visits/`` (+ ``{id}/vitals/``): Walking Hospital visits with what the kit measured.
* ``exam-orders/``: orders; actions ``submit``, ``cancel``, ``resubmit``, ``claim``,
  ``release``, ``return``, ``report`` (preliminary save), ``sign``, ``amend``,
  ``acknowledge``; ``attachments/`` (upload, list, ``{attachment_id}/`` download),
  ``reports/`` (versions), ``pdf/`` (the signed report as PDF).
* ``worklist/?center=`` and ``worklist/claim-next/``: a reader's queue.
* ``critical-alerts/`` (+ ``{id}/acknowledge/``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from countycare.core import audit
from countycare.core.api import IdempotentCreateMixin, to_json
from countycare.core.errors import Conflict, DomainError, PermissionDenied, ValidationError
from countycare.core.scoping import scoped
from countycare.organizations.roles import Perm
from countycare.telemed import attachments as attachment_files
from countycare.telemed import critical, reports, selectors, services
from countycare.telemed.models import (
    Attachment,
    CriticalAlert,
    ExamOrder,
    OrderStatus,
    OrderTransition,
    Report,
    ReportStatus,
    Service,
    SharedCenter,
    Visit,
)
from countycare.telemed.serializers import (
    MAX_ID,
    AlertAckSerializer,
    AlertFilter,
    AmendSerializer,
    AttachmentSerializer,
    AttachmentUploadSerializer,
    ClaimNextSerializer,
    CriticalAlertSerializer,
    ObservationSerializer,
    OrderCreateSerializer,
    OrderDetailSerializer,
    OrderFilter,
    OrderSerializer,
    PhraseSerializer,
    ReasonSerializer,
    ReportSerializer,
    ReportVersionFilter,
    ReportWriteSerializer,
    ResubmitSerializer,
    SharedCenterSerializer,
    VisitCreateSerializer,
    VisitFilter,
    VisitSerializer,
    VitalsSerializer,
    WorklistFilter,
)

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description=gettext_lazy(
        "Optional. A retry with the same key gets the first answer instead of a second "
        "record; the same key with a different body answers 409."
    ),
)
log = logging.getLogger(__name__)
CLINICAL_PERMS = (Perm.RECORD_VISIT, Perm.REQUEST_EXAM, Perm.READ_EXAM)


class ClinicalUser(permissions.BasePermission):
    """The Walking Hospital's catalog is for those who examine, request or read."""

    message = gettext_lazy("Your role does not use the Walking Hospital.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and (user.is_superuser or any(user.has_perm(f"countycare.{p}") for p in CLINICAL_PERMS))
        )


class BinaryRenderer(BaseRenderer):
    """Lets a client ask for a file (``Accept: application/pdf``, ``image/*`` …); the views
    answer with a FileResponse. Error answers are still JSON."""

    media_type = "*/*"
    format = "binary"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        response = (renderer_context or {}).get("response")
        if response is not None:  # an error answer: say that it is JSON
            response["Content-Type"] = "application/json"
        return json.dumps(data, ensure_ascii=False).encode()


class TelemedViewMixin:
    """The services answer "not found" for what lies outside the actor's scope (a 403-class
    domain error, code ``not_found``); the API answers 404 for both, so an out-of-scope id
    is indistinguishable from a non-existent one."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # An id in the path that is not one of ours (not a number, beyond 64 bits) is simply
        # not found, before any query sees it.
        for name in ("pk", "attachment_id"):
            value = kwargs.get(name)
            if value is not None and not (str(value).isdigit() and 0 < int(value) <= MAX_ID):
                raise exceptions.NotFound()

    def handle_exception(self, exc):
        if isinstance(exc, DomainError) and exc.code == "not_found":
            exc = exceptions.NotFound(str(exc.message))
        return super().handle_exception(exc)


def _parse(serializer_class, data):
    parsed = serializer_class(data=data)
    parsed.is_valid(raise_exception=True)
    return parsed


# --- Catalog ----------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary=gettext_lazy("Shared centers and their service catalogs")),
    retrieve=extend_schema(summary=gettext_lazy("A shared center and its service catalog")),
)
class SharedCenterViewSet(TelemedViewMixin, viewsets.ReadOnlyModelViewSet):
    permission_classes = [ClinicalUser]
    serializer_class = SharedCenterSerializer
    pagination_class = None
    queryset = SharedCenter.objects.none()

    def get_queryset(self):
        return (
            SharedCenter.objects.filter(is_active=True)
            .select_related("institution")
            .prefetch_related(Prefetch("services", queryset=Service.objects.order_by("code")))
            .order_by("institution_id", "kind")
        )

    @extend_schema(
        summary=gettext_lazy("The center's phrase library"),
        parameters=[OpenApiParameter("service", int, description=gettext_lazy("Service id"))],
        responses={200: PhraseSerializer(many=True)},
    )
    @action(detail=True, methods=["get"])
    def phrases(self, request, pk=None):
        center = self.get_object()
        qs = center.phrases.all()
        service = request.query_params.get("service")
        if service:
            if not service.isdigit():
                raise ValidationError(_("Not a service id."), code="invalid", field="service")
            qs = qs.filter(service_id__in=[int(service)]) | qs.filter(service__isnull=True)
        return Response(PhraseSerializer(qs.order_by("section", "sort", "pk"), many=True).data)


# --- Visits -----------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary=gettext_lazy("Walking Hospital visits in your area"),
        parameters=[OpenApiParameter("resident", int, description=gettext_lazy("Resident id"))],
    ),
    retrieve=extend_schema(summary=gettext_lazy("A visit with its observations (audited)")),
    create=extend_schema(
        summary=gettext_lazy("Open a visit with the kit's measurements (WH-02)"),
        description=gettext_lazy(
            "Impossible vitals answer 400 naming each field (nothing is written); abnormal "
            "ones are flagged; critical ones raise an alert."
        ),
        parameters=[IDEMPOTENCY_KEY],
        request=VisitCreateSerializer,
        responses={201: VisitSerializer},
    ),
)
class VisitViewSet(
    TelemedViewMixin,
    IdempotentCreateMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    idempotency_operation = "telemed.visit.create"
    serializer_class = VisitSerializer
    queryset = Visit.objects.none()

    def get_queryset(self):
        return (
            scoped(self.request.user, Visit)
            .select_related("resident", "institution", "performed_by")
            .prefetch_related("observations")
        )

    def list(self, request, *args, **kwargs):
        f = _parse(VisitFilter, request.query_params).validated_data
        qs = self.get_queryset()
        if "resident" in f:
            qs = qs.filter(resident_id=f["resident"])
        page = self.paginate_queryset(qs.order_by("-visited_at", "-pk"))
        return self.get_paginated_response(VisitSerializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        visit = self.get_object()
        audit.log(audit.Action.READ, actor=request.user, obj=visit)
        return Response(VisitSerializer(visit).data)

    def create_once(self, request) -> tuple[int, Any]:
        parsed = _parse(VisitCreateSerializer, request.data)
        data = parsed.validated_data
        visit = services.open_visit(
            request.user,
            resident=data["resident"],
            setting=data["setting"],
            visited_at=data.get("visited_at"),
            complaint=data.get("complaint", ""),
            note=data.get("note", ""),
            vitals_data=parsed.vitals(),
        )
        visit = self.get_queryset().get(pk=visit.pk)
        return status.HTTP_201_CREATED, to_json(VisitSerializer(visit).data)

    @extend_schema(
        summary=gettext_lazy("Add measurements to a visit"),
        request=VitalsSerializer,
        responses={201: ObservationSerializer(many=True)},
    )
    @action(detail=True, methods=["post"])
    def vitals(self, request, pk=None):
        visit = self.get_object()
        parsed = _parse(VitalsSerializer, request.data)
        values = parsed.vitals()
        if not any(v is not None for v in values.values()):
            raise ValidationError(
                _("Send at least one measurement."), code="required", field="non_field_errors"
            )
        rows = services.add_vitals(request.user, visit.pk, values)
        return Response(ObservationSerializer(rows, many=True).data, status=201)


# --- Orders -----------------------------------------------------------------------------------

ORDER_CREATE_DESCRIPTION = gettext_lazy(
    "Send an exam order to the center that offers the service (WH-03). With `submit: true` "
    "(the default) it goes to the center's worklist at once.\n\n"
    "**Orders with files** — so that a dropped upload never leaves an order without its "
    "exam: (1) create the order with `submit: false` (a draft, invisible to readers), "
    "(2) upload each file to `…/attachments/` (a retried upload of the same bytes answers "
    "200 with the first attachment), (3) `POST …/submit/`. A draft whose upload failed can "
    "be retried or cancelled; it never reaches a reader."
)


def _orders(user):
    return scoped(user, ExamOrder).select_related(
        "resident", "service", "center", "claimed_by", "requested_by",
        "requesting_institution", "acknowledged_by",
    )  # fmt: skip


def _orders_with_detail(qs):
    return qs.prefetch_related(
        Prefetch("transitions", queryset=OrderTransition.objects.select_related("actor")),
        "attachments",
        "observations",
    )


def _order_detail(user, order_id: int) -> dict[str, Any]:
    """The detail of an order just moved by a service (still in the actor's scope)."""
    order = _orders_with_detail(_orders(user)).filter(pk=order_id).first()
    if order is None:  # pragma: no cover — an action never moves an order out of scope
        raise exceptions.NotFound()
    return OrderDetailSerializer(order).data


def _action_schema(summary, request=None, description=None):
    return extend_schema(
        summary=summary,
        description=description,
        request=request,
        responses={200: OrderDetailSerializer},
    )


@extend_schema_view(
    list=extend_schema(
        summary=gettext_lazy("Exam orders in your area (requested by you or for your center)"),
        parameters=[
            OpenApiParameter("status", str, enum=OrderStatus.values),
            OpenApiParameter("center", int, description=gettext_lazy("Shared center id")),
            OpenApiParameter("resident", int, description=gettext_lazy("Resident id")),
        ],
    ),
    retrieve=extend_schema(
        summary=gettext_lazy(
            "An order with its transitions, attachments, current report and SLA (audited)"
        )
    ),
    create=extend_schema(
        summary=gettext_lazy("Create an exam order"),
        description=ORDER_CREATE_DESCRIPTION,
        parameters=[IDEMPOTENCY_KEY],
        request=OrderCreateSerializer,
        responses={201: OrderDetailSerializer},
    ),
)
class ExamOrderViewSet(
    TelemedViewMixin,
    IdempotentCreateMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    idempotency_operation = "telemed.order.create"
    queryset = ExamOrder.objects.none()
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def get_serializer_class(self):
        return OrderSerializer if self.action == "list" else OrderDetailSerializer

    def get_queryset(self):
        return _orders(self.request.user)

    def _detail_queryset(self):
        return _orders_with_detail(self.get_queryset())

    def _detail(self, order_id: int) -> dict[str, Any]:
        return _order_detail(self.request.user, order_id)

    def list(self, request, *args, **kwargs):
        f = _parse(OrderFilter, request.query_params).validated_data
        qs = selectors.requested_orders(request.user, status=f.get("status"))
        if "center" in f:
            qs = qs.filter(center_id=f["center"])
        if "resident" in f:
            qs = qs.filter(resident_id=f["resident"])
        qs = qs.select_related("requested_by")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(OrderSerializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        order = self._get_order(self._detail_queryset())
        audit.log(audit.Action.READ, actor=request.user, obj=order)
        return Response(OrderDetailSerializer(order).data)

    def _get_order(self, qs=None) -> ExamOrder:
        pk = self.kwargs.get("pk", "")
        if not str(pk).isdigit():
            raise exceptions.NotFound()
        order = (qs if qs is not None else self.get_queryset()).filter(pk=int(pk)).first()
        if order is None:
            raise exceptions.NotFound(_("No such exam order in your area."))
        return order

    def create_once(self, request) -> tuple[int, Any]:
        data = _parse(OrderCreateSerializer, request.data).validated_data
        order = services.create_order(
            request.user,
            resident=data["resident"],
            service=data["service"],
            center=data.get("center"),
            priority=data["priority"],
            clinical_question=data.get("clinical_question", ""),
            visit=data.get("visit"),
            submit=data["submit"],
        )
        return status.HTTP_201_CREATED, to_json(self._detail(order.pk))

    # --- the requester's moves ---
    @_action_schema(gettext_lazy("Submit a draft order to the center's worklist"), request=None)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        order = services.submit(request.user, pk)
        return Response(self._detail(order.pk))

    @_action_schema(gettext_lazy("Cancel an order (with a reason)"), request=ReasonSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        reason = _parse(ReasonSerializer, request.data).validated_data["reason"]
        order = services.cancel(request.user, pk, reason=reason)
        return Response(self._detail(order.pk))

    @_action_schema(
        gettext_lazy("Resubmit a returned order (e.g. after re-acquiring the exam)"),
        request=ResubmitSerializer,
    )
    @action(detail=True, methods=["post"])
    def resubmit(self, request, pk=None):
        note = _parse(ResubmitSerializer, request.data).validated_data["note"]
        order = services.resubmit(request.user, pk, note=note)
        return Response(self._detail(order.pk))

    @_action_schema(gettext_lazy("Acknowledge the signed report (the requester)"), request=None)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        order = services.acknowledge(request.user, pk)
        return Response(self._detail(order.pk))

    # --- the reader's moves ---
    @_action_schema(
        gettext_lazy("Claim this order (an exclusive lease; claiming it again renews it)"),
        request=None,
    )
    @action(detail=True, methods=["post"])
    def claim(self, request, pk=None):
        order = services.claim(request.user, pk)
        return Response(self._detail(order.pk))

    @_action_schema(gettext_lazy("Give a held order back to the queue"), request=ReasonSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        reason = _parse(ReasonSerializer, request.data).validated_data["reason"]
        order = services.release(request.user, pk, reason=reason)
        return Response(self._detail(order.pk))

    @_action_schema(
        gettext_lazy("Return the order to the requester (e.g. poor quality — re-acquire)"),
        request=ReasonSerializer,
    )
    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_order(self, request, pk=None):
        reason = _parse(ReasonSerializer, request.data).validated_data["reason"]
        order = services.return_order(request.user, pk, reason=reason)
        return Response(self._detail(order.pk))

    @extend_schema(
        summary=gettext_lazy("Save the report as preliminary"),
        request=ReportWriteSerializer,
        responses={200: ReportSerializer},
    )
    @action(detail=True, methods=["post"])
    def report(self, request, pk=None):
        data = _parse(ReportWriteSerializer, request.data).validated_data
        report = services.save_report(
            request.user,
            pk,
            findings=data.get("findings"),
            findings_text=data.get("findings_text", ""),
            impression=data.get("impression", ""),
            is_abnormal=data.get("is_abnormal", False),
        )
        return Response(ReportSerializer(report).data)

    @extend_schema(
        summary=gettext_lazy("Sign the report (SHA-256 sealed; immutable afterwards)"),
        description=gettext_lazy(
            "Fields sent replace the saved draft's; those left out keep the draft's values. "
            "Only the reader holding the order can sign (409 otherwise)."
        ),
        request=ReportWriteSerializer,
        responses={200: ReportSerializer},
    )
    @action(detail=True, methods=["post"])
    def sign(self, request, pk=None):
        data = _parse(ReportWriteSerializer, request.data).validated_data
        report = services.sign_report(
            request.user,
            pk,
            findings=data.get("findings"),
            findings_text=data.get("findings_text"),
            impression=data.get("impression"),
            is_abnormal=data.get("is_abnormal"),
        )
        return Response(ReportSerializer(report).data)

    @extend_schema(
        summary=gettext_lazy("Amend a signed report (a new signed version with a reason)"),
        request=AmendSerializer,
        responses={200: ReportSerializer},
    )
    @action(detail=True, methods=["post"])
    def amend(self, request, pk=None):
        data = _parse(AmendSerializer, request.data).validated_data
        report = services.amend_report(
            request.user,
            pk,
            reason=data["reason"],
            findings=data.get("findings"),
            findings_text=data.get("findings_text", ""),
            impression=data["impression"],
            is_abnormal=data.get("is_abnormal", False),
        )
        return Response(ReportSerializer(report).data)

    # --- reports, attachments, PDF ---
    @extend_schema(
        summary=gettext_lazy("All report versions of the order, newest first (audited)"),
        responses={200: ReportSerializer(many=True)},
    )
    @action(detail=True, methods=["get"])
    def reports(self, request, pk=None):
        order = self._get_order()
        versions = (
            scoped(request.user, Report)
            .filter(order=order)
            .select_related("order__service", "author", "signed_by")
        )
        audit.log(audit.Action.READ, actor=request.user, obj=order, detail={"view": "reports"})
        return Response(ReportSerializer(versions.order_by("-version"), many=True).data)

    @extend_schema(
        summary=gettext_lazy("The order's attachments"),
        responses={200: AttachmentSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], parser_classes=[MultiPartParser, FormParser])
    def attachments(self, request, pk=None):
        order = self._get_order()
        rows = scoped(request.user, Attachment).filter(order=order)
        return Response(AttachmentSerializer(rows, many=True).data)

    @extend_schema(
        summary=gettext_lazy("Upload an attachment (PDF, JPEG/PNG, DICOM) — multipart `file`"),
        description=gettext_lazy(
            "The type is read from the content, not the name. 201 when stored, 200 when the "
            "same bytes were already attached (a retried upload). Wrong type, damaged file or "
            "over the size limit (policy telemed_attachment_max_mb): 400 naming `file`. "
            "Files can be added while the order is a draft, submitted or returned."
        ),
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer, 200: AttachmentSerializer},
    )
    @attachments.mapping.post
    def upload_attachment(self, request, pk=None):
        upload = _parse(AttachmentUploadSerializer, request.data).validated_data["file"]
        att, created = attachment_files.add_attachment(
            request.user, pk, upload, name=getattr(upload, "name", "")
        )
        return Response(
            AttachmentSerializer(att).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        summary=gettext_lazy("Download an attachment (audited)"),
        parameters=[OpenApiParameter("attachment_id", int, OpenApiParameter.PATH)],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"attachments/(?P<attachment_id>[0-9]+)",
        url_name="attachment",
        renderer_classes=[JSONRenderer, BinaryRenderer],
    )
    def attachment(self, request, pk=None, attachment_id=None):
        from django.http import FileResponse

        order = self._get_order()
        att = (
            scoped(request.user, Attachment)
            .filter(order=order, pk=int(attachment_id))
            .select_related("order")
            .first()
        )
        if att is None:
            raise exceptions.NotFound(_("No such attachment in your area."))
        try:
            handle = att.file.open("rb")
        except OSError:
            log.exception("attachment %s is missing from storage", att.pk)
            raise exceptions.NotFound(_("The file is missing from storage.")) from None
        audit.log(audit.Action.READ, actor=request.user, obj=att, detail={"view": "download"})
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=att.original_name or f"{att.sha256[:12]}.{att.kind}",
            content_type=att.content_type or "application/octet-stream",
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response

    @extend_schema(
        summary=gettext_lazy("The signed report as PDF (the paper the village doctor hands over)"),
        parameters=[
            OpenApiParameter(
                "version",
                int,
                description=gettext_lazy("A signed version; default: the one in force"),
            )
        ],
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            409: OpenApiResponse(description=gettext_lazy("No signed report yet")),
        },
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, BinaryRenderer])
    def pdf(self, request, pk=None):
        order = self._get_order()
        version = _parse(ReportVersionFilter, request.query_params).validated_data.get("version")
        signed = scoped(request.user, Report).filter(order=order, status=ReportStatus.SIGNED)
        if version is not None:
            signed = signed.filter(version=version)
        report = signed.select_related("order").order_by("-version").first()
        if report is None:
            raise Conflict(_("This order has no signed report yet."), code="not_signed")
        audit.log(audit.Action.READ, actor=request.user, obj=report, detail={"view": "pdf"})
        return reports.pdf_response(report)


# --- Worklist ---------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary=gettext_lazy("A center's worklist in reading order (priority, triage, waiting)"),
        description=gettext_lazy(
            "Queued orders and those being read (with who holds them and the lease), each "
            "with its SLA due time. Only the center's readers."
        ),
        parameters=[
            OpenApiParameter(
                "center", int, required=True, description=gettext_lazy("Shared center id")
            )
        ],
    )
)
class WorklistViewSet(TelemedViewMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = OrderSerializer
    queryset = ExamOrder.objects.none()

    def list(self, request, *args, **kwargs):
        center_id = _parse(WorklistFilter, request.query_params).validated_data["center"]
        center = selectors.reader_centers(request.user).filter(pk=center_id).first()
        if center is None:
            raise PermissionDenied(_("You are not a reader of this center."), code="not_a_reader")
        qs = selectors.worklist(request.user, center).select_related("center")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(OrderSerializer(page, many=True).data)

    @extend_schema(
        summary=gettext_lazy("Claim the next order of a center's worklist"),
        request=ClaimNextSerializer,
        responses={
            200: OrderDetailSerializer,
            204: OpenApiResponse(description=gettext_lazy("The queue is empty")),
        },
    )
    @action(detail=False, methods=["post"], url_path="claim-next", url_name="claim-next")
    def claim_next(self, request):
        center = _parse(ClaimNextSerializer, request.data).validated_data["center"]
        order = services.claim_next(request.user, center)
        if order is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(_order_detail(request.user, order.pk))


# --- Critical values --------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary=gettext_lazy("Critical-value alerts"),
        parameters=[OpenApiParameter("state", str, enum=["open", "all"])],
    ),
    retrieve=extend_schema(summary=gettext_lazy("A critical-value alert")),
)
class CriticalAlertViewSet(TelemedViewMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = CriticalAlertSerializer
    queryset = CriticalAlert.objects.none()

    def get_queryset(self):
        return scoped(self.request.user, CriticalAlert).select_related(
            "resident", "institution", "notify", "acknowledged_by"
        )

    def list(self, request, *args, **kwargs):
        state = _parse(AlertFilter, request.query_params).validated_data["state"]
        if state == "open":
            qs = selectors.open_alerts(request.user).select_related("acknowledged_by")
        else:
            qs = self.get_queryset().order_by("-raised_at", "-pk")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(CriticalAlertSerializer(page, many=True).data)

    @extend_schema(
        summary=gettext_lazy("Acknowledge a critical value, saying what was done"),
        request=AlertAckSerializer,
        responses={200: CriticalAlertSerializer},
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        action_taken = _parse(AlertAckSerializer, request.data).validated_data.get(
            "action_taken", ""
        )
        if not str(pk).isdigit():
            raise exceptions.NotFound()
        alert = critical.acknowledge(request.user, int(pk), action_taken=action_taken)
        return Response(CriticalAlertSerializer(alert).data)


def register(router) -> None:
    router.register("centers", SharedCenterViewSet, basename="telemed-center")
    router.register("visits", VisitViewSet, basename="telemed-visit")
    router.register("exam-orders", ExamOrderViewSet, basename="telemed-order")
    router.register("worklist", WorklistViewSet, basename="telemed-worklist")
    router.register("critical-alerts", CriticalAlertViewSet, basename="telemed-alert")
