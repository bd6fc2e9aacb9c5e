"""``/api/v1/me/`` (who is logged in, with roles and permissions) and
``/api/v1/institutions/``: the institution tree, read-only. Institutions are master data,
not resident data, so every authenticated user may read them (no scoping)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from countycare.organizations.models import Institution, InstitutionType
from countycare.organizations.roles import Perm

PERMISSION_CODES = sorted(v for k, v in vars(Perm).items() if k.isupper())

# --- Who am I -------------------------------------------------------------------------------


class RoleSerializer(serializers.Serializer):
    role = serializers.CharField()
    role_label = serializers.CharField()
    institution_id = serializers.IntegerField()
    institution_name = serializers.CharField()
    institution_type = serializers.CharField()
    valid_from = serializers.DateField()
    valid_until = serializers.DateField(allow_null=True)


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    full_name = serializers.CharField()
    is_superuser = serializers.BooleanField()
    roles = RoleSerializer(many=True)
    permissions = serializers.ListField(
        child=serializers.CharField(), help_text=_("Codes checked as countycare.<code>")
    )


class MeView(APIView):
    """``GET me/``: the logged-in user, the roles in force today and the permissions they
    give (a superuser holds them all)."""

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        user = request.user
        roles = (
            user.roles.active()
            .filter(institution__is_active=True)
            .select_related("institution")
            .order_by("institution__path", "role")
        )
        data = {
            "id": user.pk,
            "username": user.get_username(),
            "full_name": user.get_full_name(),
            "is_superuser": user.is_superuser,
            "roles": [
                {
                    "role": ra.role,
                    "role_label": ra.get_role_display(),
                    "institution_id": ra.institution_id,
                    "institution_name": ra.institution.name,
                    "institution_type": ra.institution.type,
                    "valid_from": ra.valid_from,
                    "valid_until": ra.valid_until,
                }
                for ra in roles
            ],
            "permissions": [c for c in PERMISSION_CODES if user.has_perm(f"countycare.{c}")],
        }
        return Response(MeSerializer(data).data)


# --- Institutions ---------------------------------------------------------------------------


class InstitutionSerializer(serializers.ModelSerializer):
    type_label = serializers.CharField(source="get_type_display", read_only=True)

    class Meta:
        model = Institution
        fields = [
            "id",
            "code",
            "name",
            "short_name",
            "area_name",
            "type",
            "type_label",
            "parent",
            "depth",
            "is_lead_hospital",
            "is_central",
            "is_sub_center",
            "capability_standard",
            "latitude",
            "longitude",
            "served_population",
            "agricultural_population",
            "address",
            "phone",
            "is_active",
        ]
        read_only_fields = fields


class InstitutionFilter(serializers.Serializer):
    """Query parameters of the institution list, parsed like a request body (400 on junk)."""

    type = serializers.ChoiceField(choices=InstitutionType.choices, required=False)
    parent = serializers.IntegerField(
        min_value=1, required=False, help_text=_("Direct children of this institution.")
    )


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("type", enum=InstitutionType.values, description=_("Type")),
            OpenApiParameter("parent", int, description=_("Direct children of this id")),
        ]
    )
)
class InstitutionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = InstitutionSerializer
    queryset = Institution.objects.all()

    def get_queryset(self) -> QuerySet[Institution]:
        qs = Institution.objects.order_by("path")
        if self.action != "list":
            return qs
        params = InstitutionFilter(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        if "type" in params.validated_data:
            qs = qs.filter(type=params.validated_data["type"])
        if "parent" in params.validated_data:
            qs = qs.filter(parent_id=params.validated_data["parent"])
        return qs


def register(router) -> None:
    router.register("institutions", InstitutionViewSet, basename="institution")
