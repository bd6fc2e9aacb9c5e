"""Core endpoints of ``/api/v1/``: token login and the audit trail (read-only).

GOV-04: network and information security — logins are throttled and locked out by
django-axes, and the audit trail can be searched but never written through the API."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.signals import user_logged_in
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, permissions, serializers, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from countycare.core.models import AuditEntry
from countycare.core.scoping import scope_for


def has_perm(code: str) -> type[permissions.BasePermission]:
    """A DRF permission class requiring ``countycare.<code>`` (granted by role assignments)."""

    class HasPerm(permissions.BasePermission):
        message = gettext_lazy("Your role does not allow this action.")

        def has_permission(self, request, view) -> bool:
            user = request.user
            return bool(user and user.is_authenticated and user.has_perm(f"countycare.{code}"))

    HasPerm.__name__ = f"HasPerm_{code}"
    return HasPerm


# --- Token login ----------------------------------------------------------------------------


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True)


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx answer: one message, a code, and the errors by field."""

    detail = serializers.CharField()
    code = serializers.CharField(required=False)
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


@extend_schema(
    auth=[],
    responses={200: TokenSerializer, 400: ErrorSerializer, 429: ErrorSerializer},
    summary=gettext_lazy("Exchange a username and password for an API token"),
)
class ObtainTokenView(ObtainAuthToken):
    """``POST auth/token/``. The serializer passes the request to ``authenticate()``, so
    django-axes counts failures and refuses a locked-out username+IP before checking the
    password (AXES_FAILURE_LIMIT, AXES_COOLOFF_TIME in settings)."""

    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "token"

    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except exceptions.ValidationError:
            # axes flags the (DRF) request when this attempt hit or was refused by the lockout.
            if getattr(request, "axes_locked_out", False):
                return Response(
                    {
                        "detail": _(
                            "Too many failed logins. This account is locked for a while; "
                            "try again later or ask your administrator to unlock it."
                        ),
                        "code": "locked_out",
                    },
                    status=status.HTTP_429_TOO_MANY_REQUESTS,
                )
            raise
        user = serializer.validated_data["user"]
        token, _created = Token.objects.get_or_create(user=user)
        # What login() would send: records last_login and lets axes reset the failure count
        # (AXES_RESET_ON_SUCCESS) for API logins as it does for the login page.
        user_logged_in.send(sender=type(user), request=request._request, user=user)
        return Response({"token": token.key})


# --- Audit trail ----------------------------------------------------------------------------


class AuditEntrySerializer(serializers.ModelSerializer):
    action_label = serializers.CharField(source="get_action_display", read_only=True)

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "at",
            "actor",
            "actor_username",
            "action",
            "action_label",
            "object_type",
            "object_id",
            "object_repr",
            "resident_id",
            "institution_id",
            "institution_name",
            "ip",
            "path",
            "detail",
        ]
        read_only_fields = fields


class AuditFilter(serializers.Serializer):
    user = serializers.IntegerField(min_value=1, required=False)
    action = serializers.ChoiceField(choices=AuditEntry.Action.choices, required=False)
    resident = serializers.IntegerField(min_value=1, required=False)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)

    def validate(self, attrs):
        start, end = attrs.get("date_from"), attrs.get("date_to")
        if start and end and start > end:
            raise serializers.ValidationError(
                {"date_to": [_("The end date must not be before the start date.")]}
            )
        return attrs


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def audit_entries_for(user) -> QuerySet[AuditEntry]:
    """The entries a user with ``view_audit`` may search: a holder whose records scope is a
    subtree (an institution admin) sees the entries of the institutions in that subtree;
    county-wide holders and holders without a records scope (system admins) see all."""
    qs = AuditEntry.objects.all()
    scope = scope_for(user)
    if scope.county_wide or scope.institution_ids is None:
        return qs
    return qs.filter(institution_id__in=scope.institution_ids)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("user", int, description=gettext_lazy("Staff id of the actor")),
            OpenApiParameter("action", enum=AuditEntry.Action.values),
            OpenApiParameter("resident", int, description=gettext_lazy("Resident id")),
            OpenApiParameter(
                "date_from", dt.date, description=gettext_lazy("From this day (inclusive)")
            ),
            OpenApiParameter(
                "date_to", dt.date, description=gettext_lazy("Up to this day (inclusive)")
            ),
        ]
    )
)
class AuditEntryViewSet(viewsets.ReadOnlyModelViewSet):
    """``audit/``: search the append-only audit trail (users with ``view_audit``)."""

    serializer_class = AuditEntrySerializer
    permission_classes = (permissions.IsAuthenticated, has_perm("view_audit"))
    queryset = AuditEntry.objects.none()

    def get_queryset(self) -> QuerySet[AuditEntry]:
        qs = audit_entries_for(self.request.user)
        if self.action != "list":
            return qs
        params = AuditFilter(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        f = params.validated_data
        if "user" in f:
            qs = qs.filter(actor_id=f["user"])
        if "action" in f:
            qs = qs.filter(action=f["action"])
        if "resident" in f:
            qs = qs.filter(resident_id=f["resident"])
        if "date_from" in f:
            qs = qs.filter(at__gte=_day_start(f["date_from"]))
        if "date_to" in f:
            qs = qs.filter(at__lt=_day_start(f["date_to"] + dt.timedelta(days=1)))
        return qs.order_by("-at", "-id")


def register(router) -> None:
    router.register("audit", AuditEntryViewSet, basename="audit-entry")
