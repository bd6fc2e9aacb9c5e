"""REST routes of the familydoctor app under ``/api/v1/`` (issue 7; FD-01 … FD-08).

Thin: serializers parse types, ``familydoctor.services`` hold the rules, ``selectors`` and
``scoped()`` decide what a user sees (an out-of-scope id answers 404 like a missing one). Every
POST accepts an ``Idempotency-Key``: a retry from a tablet on a weak network gets the first
answer, not a second contract or follow-up. Reads of a contract, follow-up or health check are
audited.

* ``family-doctor-teams/``, ``service-packages/`` — master data (read).
* ``contracts/`` — list (``resident``, ``team``, ``status``), sign (JSON with a tablet signature
  as a PNG data URL, or multipart with ``consent_file``), detail; ``renew``, ``terminate``.
* ``follow-ups/`` — list (``resident``, ``program``), record, detail; ``prefill/?resident=&visit=``
  (a Walking Hospital visit's measurements), ``{id}/refer/`` (the upward referral its triggers
  suggest, through the referrals app's service); ``follow-ups/due/`` (due and overdue).
* ``health-checks/`` — list, record, detail.
* ``contract-coverage/?institution=&year=`` and ``contract-figures/?institution=&start=&end=`` —
  aggregates (also for the health-commission viewer).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, permissions, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from countycare.core import audit
from countycare.core.api import idempotent, plain_payload, to_json
from countycare.core.errors import DomainError
from countycare.core.scoping import scope_for, scoped
from countycare.familydoctor import coverage, selectors, services
from countycare.familydoctor import policy as fd_policy
from countycare.familydoctor.models import HealthCheck, ServicePackage, Team
from countycare.familydoctor.serializers import (
    MAX_ID,
    ContractCreateSerializer,
    ContractFilter,
    ContractRenewSerializer,
    ContractSerializer,
    ContractTerminateSerializer,
    CoverageFilter,
    CoverageSerializer,
    DueFilter,
    DueRowSerializer,
    FiguresFilter,
    FiguresSerializer,
    FollowUpCreateSerializer,
    FollowUpFilter,
    FollowUpSerializer,
    HealthCheckCreateSerializer,
    HealthCheckSerializer,
    PackageSerializer,
    PrefillFilter,
    PrefillSerializer,
    ReferralCreatedSerializer,
    ReferSerializer,
    TeamSerializer,
)
from countycare.organizations.models import Institution, InstitutionType
from countycare.organizations.roles import Perm
from countycare.organizations.selectors import active_roles, primary_institution
from countycare.residents.models import Resident

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description=gettext_lazy(
        "Optional. A retry with the same key gets the first answer instead of doing it twice; "
        "the same key with a different body answers 409."
    ),
)
WORK_PERMS = (Perm.SIGN_CONTRACT, Perm.FOLLOW_UP, Perm.MANAGE_TEAMS)


class FamilyDoctorUser(permissions.BasePermission):
    message = gettext_lazy("Your role does not take part in family-doctor work.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and (user.is_superuser or any(user.has_perm(f"countycare.{p}") for p in WORK_PERMS))
        )


class AggregateUser(permissions.BasePermission):
    message = gettext_lazy("Your role does not see these figures.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and (
                user.is_superuser
                or user.has_perm(f"countycare.{Perm.VIEW_AGGREGATES}")
                or any(user.has_perm(f"countycare.{p}") for p in WORK_PERMS)
            )
        )


class Mixin:
    permission_classes = [FamilyDoctorUser]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        value = kwargs.get("pk")
        if value is not None and not (str(value).isdigit() and 0 < int(value) <= MAX_ID):
            raise exceptions.NotFound()

    def handle_exception(self, exc):
        if isinstance(exc, DomainError) and exc.code == "not_found":
            exc = exceptions.NotFound(str(exc.message))
        return super().handle_exception(exc)


def _parse(serializer_class, data, **kwargs):
    parsed = serializer_class(data=data, **kwargs)
    parsed.is_valid(raise_exception=True)
    return parsed


def _post(request, operation: str, run) -> Response:
    return idempotent(request, operation=operation, payload=plain_payload(request.data), action=run)


def _root(request, pk: int | None) -> Institution:
    """An institution the user may see figures for: under one where the user holds a role
    (aggregate roles too), or anywhere for county-wide roles."""
    user = request.user
    county_wide = scope_for(user).county_wide
    if pk is None:
        if county_wide:
            found = Institution.objects.filter(type=InstitutionType.COUNTY).order_by("pk").first()
            if found is not None:
                return found
        found = primary_institution(user)
        if found is None:
            raise exceptions.NotFound()
        return found
    found = Institution.objects.filter(pk=pk).first()
    paths = [p for _r, _i, p in active_roles(user)]
    if found is None or not (county_wide or any(found.path.startswith(p) for p in paths)):
        raise exceptions.NotFound()
    return found


# --- master data ----------------------------------------------------------------------------
class TeamViewSet(Mixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = TeamSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator
            return Team.objects.none()
        return selectors.teams_for(self.request.user).prefetch_related("members__staff", "villages")

    @extend_schema(summary=gettext_lazy("Family-doctor teams in your area"))
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


class PackageViewSet(
    Mixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = PackageSerializer
    queryset = ServicePackage.objects.filter(is_active=True)

    @extend_schema(summary=gettext_lazy("Service packages"))
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


# --- contracts ------------------------------------------------------------------------------
class ContractViewSet(Mixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = ContractSerializer
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def get_queryset(self):
        return (
            selectors.contracts_for(self.request.user)
            .select_related("resident", "team", "doctor")
            .prefetch_related("lines__package")
            .order_by("-start_on", "-pk")
        )

    def _detail(self, pk: int) -> dict[str, Any]:
        contract = selectors.contract_detail(self.request.user, pk)
        if contract is None:
            raise exceptions.NotFound(_("No such contract in your area."))
        return to_json(ContractSerializer(contract).data)

    @extend_schema(summary=gettext_lazy("Contracts in your area"), parameters=[ContractFilter])
    def list(self, request, *args, **kwargs):
        f = _parse(ContractFilter, request.query_params).validated_data
        qs = self.get_queryset()
        for name in ("resident", "team", "status"):
            if name in f:
                qs = qs.filter(**{f"{name}_id" if name != "status" else name: f[name]})
        page = self.paginate_queryset(qs)
        if page:
            audit.log(audit.Action.SEARCH, actor=request.user, object_type="familydoctor.contract",
                      detail={"list": "api", "count": len(page)})  # fmt: skip
        return self.get_paginated_response(ContractSerializer(page, many=True).data)

    @extend_schema(summary=gettext_lazy("A contract"))
    def retrieve(self, request, pk=None):
        contract = selectors.contract_detail(request.user, int(pk))
        if contract is None:
            raise exceptions.NotFound(_("No such contract in your area."))
        audit.log(audit.Action.READ, actor=request.user, obj=contract)
        return Response(ContractSerializer(contract).data)

    @extend_schema(
        summary=gettext_lazy("Sign a family-doctor contract"),
        request=ContractCreateSerializer,
        responses={201: ContractSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    def create(self, request, *args, **kwargs):
        parsed = _parse(ContractCreateSerializer, request.data)
        d = parsed.validated_data

        def run():
            contract = services.sign_contract(
                request.user, resident=d["resident"], team=d["team"], doctor=d.get("doctor"),
                packages=d["packages"], consent_method=d["consent_method"],
                consent=parsed.consent(), start_on=d.get("start_on"),
            )  # fmt: skip
            return 201, self._detail(contract.pk)

        return _post(request, "familydoctor.contract", run)

    @extend_schema(
        summary=gettext_lazy("Renew a contract for another year"),
        request=ContractRenewSerializer,
        responses={201: ContractSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    @action(detail=True, methods=["post"])
    def renew(self, request, pk=None):
        parsed = _parse(ContractRenewSerializer, request.data)
        d = parsed.validated_data

        def run():
            contract = services.renew_contract(
                request.user, int(pk), consent_method=d["consent_method"],
                consent=parsed.consent(), packages=d.get("packages"), doctor=d.get("doctor"),
            )  # fmt: skip
            return 201, self._detail(contract.pk)

        return _post(request, f"familydoctor.renew.{pk}", run)

    @extend_schema(
        summary=gettext_lazy("Terminate a contract"),
        request=ContractTerminateSerializer,
        responses={200: ContractSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    @action(detail=True, methods=["post"])
    def terminate(self, request, pk=None):
        d = _parse(ContractTerminateSerializer, request.data).validated_data

        def run():
            services.terminate_contract(
                request.user, int(pk), reason=d["reason"], note=d.get("note", ""), on=d.get("on")
            )
            return 200, self._detail(int(pk))

        return _post(request, f"familydoctor.terminate.{pk}", run)


# --- follow-ups -----------------------------------------------------------------------------
class FollowUpViewSet(Mixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = FollowUpSerializer

    def get_queryset(self):
        return (
            selectors.follow_ups_for(self.request.user)
            .select_related("resident", "long_prescription")
            .prefetch_related("observations")
            .order_by("-followed_on", "-pk")
        )

    def _detail(self, pk: int) -> dict[str, Any]:
        found = selectors.follow_up_detail(self.request.user, pk)
        if found is None:
            raise exceptions.NotFound(_("No such follow-up in your area."))
        return to_json(FollowUpSerializer(found).data)

    @extend_schema(summary=gettext_lazy("Follow-ups in your area"), parameters=[FollowUpFilter])
    def list(self, request, *args, **kwargs):
        f = _parse(FollowUpFilter, request.query_params).validated_data
        qs = self.get_queryset()
        if "resident" in f:
            qs = qs.filter(resident_id=f["resident"])
        if "program" in f:
            qs = qs.filter(program=f["program"])
        page = self.paginate_queryset(qs)
        if page:
            audit.log(audit.Action.SEARCH, actor=request.user, object_type="familydoctor.followup",
                      detail={"list": "api", "count": len(page)})  # fmt: skip
        return self.get_paginated_response(FollowUpSerializer(page, many=True).data)

    @extend_schema(summary=gettext_lazy("A follow-up"))
    def retrieve(self, request, pk=None):
        found = selectors.follow_up_detail(request.user, int(pk))
        if found is None:
            raise exceptions.NotFound(_("No such follow-up in your area."))
        audit.log(audit.Action.READ, actor=request.user, obj=found)
        return Response(FollowUpSerializer(found).data)

    @extend_schema(
        summary=gettext_lazy("Record a chronic follow-up"),
        request=FollowUpCreateSerializer,
        responses={201: FollowUpSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    def create(self, request, *args, **kwargs):
        d = dict(_parse(FollowUpCreateSerializer, request.data).validated_data)

        def run():
            resident = d.pop("resident")
            follow_up = services.record_follow_up(request.user, resident=resident, **d)
            return 201, self._detail(follow_up.pk)

        return _post(request, "familydoctor.follow-up", run)

    @extend_schema(
        summary=gettext_lazy("A Walking Hospital visit's measurements for a follow-up"),
        parameters=[PrefillFilter],
        responses={200: PrefillSerializer},
    )
    @action(detail=False, methods=["get"])
    def prefill(self, request):
        f = _parse(PrefillFilter, request.query_params).validated_data
        resident = scoped(request.user, Resident).filter(pk=f["resident"]).first()
        if resident is None:
            raise exceptions.NotFound()
        try:
            visit, observations = services.visit_observations(request.user, resident, f["visit"])
        except DomainError:
            raise exceptions.NotFound() from None
        audit.log(audit.Action.READ, actor=request.user, obj=resident,
                  detail={"view": "follow_up_prefill", "visit": visit.pk})  # fmt: skip
        body = {
            "visit": visit.pk,
            "followed_on": timezone.localdate(visit.visited_at),
            "measurements": services.measures_of(observations),
            "observations": [o.pk for o in observations],
        }
        return Response(PrefillSerializer(body).data)

    @extend_schema(
        summary=gettext_lazy("Follow-ups due and overdue (FD-08)"),
        parameters=[DueFilter],
        responses={200: DueRowSerializer(many=True)},
    )
    @action(detail=False, methods=["get"])
    def due(self, request):
        f = _parse(DueFilter, request.query_params).validated_data
        team = None
        if "team" in f:
            team = selectors.teams_for(request.user).filter(pk=f["team"]).first()
            if team is None:
                raise exceptions.NotFound()
        doctor = None
        if "doctor" in f:
            from countycare.organizations.models import Staff

            doctor = Staff.objects.filter(pk=f["doctor"]).first()
            if doctor is None:
                raise exceptions.NotFound()
        qs = selectors.due_list(
            request.user, team=team, doctor=doctor, program=f.get("program"), status=f["status"]
        )
        page = self.paginate_queryset(qs)
        audit.log(audit.Action.SEARCH, actor=request.user, object_type="familydoctor.followup",
                  detail={"list": "due", "count": len(page or [])})  # fmt: skip
        return self.get_paginated_response(DueRowSerializer(page, many=True).data)

    @extend_schema(
        summary=gettext_lazy("Refer upward as the follow-up's triggers suggest"),
        request=ReferSerializer,
        responses={201: ReferralCreatedSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    @action(detail=True, methods=["post"])
    def refer(self, request, pk=None):
        d = _parse(ReferSerializer, request.data).validated_data
        if not request.user.has_perm(f"countycare.{Perm.REFER}"):
            raise exceptions.PermissionDenied(_("Your role does not allow referrals."))

        def run():
            referral = services.refer_from(request.user, int(pk), **d)
            return 201, {
                "referral": referral.pk,
                "number": referral.number,
                "status": referral.status,
            }

        return _post(request, f"familydoctor.refer.{pk}", run)


# --- health checks --------------------------------------------------------------------------
class HealthCheckViewSet(Mixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = HealthCheckSerializer

    def get_queryset(self):
        return (
            scoped(self.request.user, HealthCheck)
            .prefetch_related("reports")
            .order_by("-checked_on", "-pk")
        )

    @extend_schema(summary=gettext_lazy("A health check"))
    def retrieve(self, request, pk=None):
        found = self.get_queryset().filter(pk=int(pk)).first()
        if found is None:
            raise exceptions.NotFound()
        audit.log(audit.Action.READ, actor=request.user, obj=found)
        return Response(HealthCheckSerializer(found).data)

    @extend_schema(
        summary=gettext_lazy("Record an annual health check"),
        request=HealthCheckCreateSerializer,
        responses={201: HealthCheckSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    def create(self, request, *args, **kwargs):
        d = dict(_parse(HealthCheckCreateSerializer, request.data).validated_data)

        def run():
            resident = d.pop("resident")
            check = services.record_health_check(request.user, resident=resident, **d)
            return 201, to_json(HealthCheckSerializer(check).data)

        return _post(request, "familydoctor.health-check", run)


# --- aggregates -----------------------------------------------------------------------------
def _coverage_row(node: coverage.Node, target, key_target) -> dict[str, Any]:
    c = node.counts
    return {
        "institution": node.institution.pk,
        "name": node.institution.name,
        "type": node.institution.type,
        "residents": c.residents,
        "contracted": c.contracted,
        "rate": c.rate,
        "key_residents": c.key,
        "key_contracted": c.key_contracted,
        "key_rate": c.key_rate,
        "target": target,
        "key_target": key_target,
        "populations": {
            k: {"residents": n, "contracted": m, "rate": c.group_rate(k)}
            for k, (n, m) in c.groups.items()
        },
    }


class CoverageViewSet(Mixin, viewsets.ViewSet):
    permission_classes = [AggregateUser]

    @extend_schema(
        summary=gettext_lazy("Contract coverage of a subtree and its parts against the targets"),
        parameters=[CoverageFilter],
        responses={200: CoverageSerializer},
    )
    def list(self, request):
        f = _parse(CoverageFilter, request.query_params).validated_data
        root = _root(request, f.get("institution"))
        year = f.get("year") or timezone.localdate().year
        start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
        community = coverage._community(root)
        target = coverage.target_for(fd_policy.COVERAGE_TARGET, year, community)
        key_target = coverage.target_for(fd_policy.KEY_COVERAGE_TARGET, year, community)
        node = coverage.tree(root, start, end)
        body = {
            "year": year,
            "reference_day": coverage.reference_day(start, end),
            "total": _coverage_row(node, target, key_target),
            "rows": [_coverage_row(child, target, key_target) for child in node.children],
        }
        return Response(CoverageSerializer(body).data)


class FiguresViewSet(Mixin, viewsets.ViewSet):
    permission_classes = [AggregateUser]

    @extend_schema(
        summary=gettext_lazy("Contract figures for the indicators (dates inclusive)"),
        parameters=[FiguresFilter],
        responses={200: FiguresSerializer},
    )
    def list(self, request):
        f = _parse(FiguresFilter, request.query_params).validated_data
        root = _root(request, f.get("institution"))
        return Response(FiguresSerializer(selectors.figures(root, f["start"], f["end"])).data)


def register(router: DefaultRouter) -> None:
    """Register this app's viewsets on the one API router."""
    router.register("family-doctor-teams", TeamViewSet, basename="family-doctor-team")
    router.register("service-packages", PackageViewSet, basename="service-package")
    router.register("contracts", ContractViewSet, basename="contract")
    router.register("follow-ups", FollowUpViewSet, basename="follow-up")
    router.register("health-checks", HealthCheckViewSet, basename="health-check")
    router.register("contract-coverage", CoverageViewSet, basename="contract-coverage")
    router.register("contract-figures", FiguresViewSet, basename="contract-figures")
