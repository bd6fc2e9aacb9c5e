"""``/api/v1/residents/``: search, register, read, change and tag residents.

Thin by design: serializers parse types, the services in ``residents.services`` hold the
rules and write the audit entries of changes, ``residents.selectors`` scope every read. An
object outside the user's scope answers 404 (the queryset never contains it). Reads are
audited here: one READ entry per detail or timeline request, one SEARCH entry per filtered
list request (GOV-04)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from countycare.core import audit
from countycare.core import national_id as nid
from countycare.core.api import IdempotentCreateMixin, idempotent, plain_payload, to_json
from countycare.core.errors import ValidationError
from countycare.core.scoping import scoped
from countycare.core.timeline import for_resident
from countycare.organizations.roles import Perm
from countycare.organizations.selectors import primary_institution
from countycare.residents import selectors, services
from countycare.residents.ethnicity import ETHNICITIES
from countycare.residents.models import (
    DECLARED_KEY_POPULATIONS,
    Household,
    KeyPopulation,
    KeyPopulationTag,
    RelationToHead,
    Resident,
    Sex,
)

MAX_ID = 2**63 - 1  # ids are 64-bit; anything larger is not an id of ours


def _id_field(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


# --- Output ---------------------------------------------------------------------------------


class KeyPopulationSerializer(serializers.Serializer):
    key = serializers.ChoiceField(choices=KeyPopulation.choices)
    label = serializers.CharField()
    derived = serializers.BooleanField(help_text=gettext_lazy("Computed from the birth date"))
    tag_id = serializers.IntegerField(allow_null=True)
    recorded_on = serializers.DateField(allow_null=True)
    source = serializers.CharField(allow_null=True)


class TagSerializer(serializers.ModelSerializer):
    tag_label = serializers.CharField(source="get_tag_display", read_only=True)

    class Meta:
        model = KeyPopulationTag
        fields = [
            "id",
            "resident",
            "tag",
            "tag_label",
            "recorded_on",
            "source",
            "note",
            "ended_on",
            "end_reason",
            "recorded_by",
            "created_at",
        ]
        read_only_fields = fields


class ResidentListSerializer(serializers.ModelSerializer):
    age = serializers.IntegerField(read_only=True)
    home_village_name = serializers.CharField(source="home_village.name", read_only=True)

    class Meta:
        model = Resident
        fields = [
            "id",
            "name",
            "sex",
            "birth_date",
            "age",
            "national_id_masked",
            "phone",
            "home_village",
            "home_village_name",
            "deceased_on",
        ]
        read_only_fields = fields


class ResidentDetailSerializer(ResidentListSerializer):
    """The full national ID is filled only for roles with ``view_national_id`` (context
    ``show_national_id``); everyone else gets null and the masked number."""

    national_id = serializers.SerializerMethodField()
    ethnicity_label = serializers.CharField(source="get_ethnicity_display", read_only=True)
    key_populations = serializers.SerializerMethodField()

    class Meta(ResidentListSerializer.Meta):
        fields = [
            *ResidentListSerializer.Meta.fields,
            "national_id",
            "ethnicity",
            "ethnicity_label",
            "address",
            "household",
            "relation_to_head",
            "registered_at",
            "updated_at",
            "key_populations",
        ]
        read_only_fields = fields

    def get_national_id(self, obj: Resident) -> str | None:
        return obj.national_id if self.context.get("show_national_id") else None

    @extend_schema_field(KeyPopulationSerializer(many=True))
    def get_key_populations(self, obj: Resident) -> list[dict[str, Any]]:
        rows = []
        for kp in selectors.key_populations_of(obj):
            tag = kp["tag"]
            rows.append(
                {
                    "key": kp["key"],
                    "label": str(kp["label"]),
                    "derived": kp["derived"],
                    "tag_id": tag.pk if tag else None,
                    "recorded_on": tag.recorded_on if tag else None,
                    "source": tag.source if tag else None,
                }
            )
        return KeyPopulationSerializer(rows, many=True).data


class TimelineEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    title = serializers.CharField()
    detail = serializers.CharField()
    url = serializers.CharField()


# --- Input ----------------------------------------------------------------------------------
# Types and storage lengths only; the rules (ID checks, scope of the village, duplicates) are
# the services' and come back as domain errors with the field named.


class TagDeclareSerializer(serializers.Serializer):
    tag = serializers.ChoiceField(
        choices=[(k.value, k.label) for k in DECLARED_KEY_POPULATIONS],
        error_messages={
            "invalid_choice": gettext_lazy(
                "'{input}' is not a key population that can be declared; age groups are "
                "derived from the birth date."
            )
        },
    )
    source = serializers.CharField(max_length=100)
    recorded_on = serializers.DateField(required=False)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True)


class TagEndSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    ended_on = serializers.DateField(required=False)


class ResidentCreateSerializer(serializers.Serializer):
    national_id = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=50)
    home_village = _id_field(help_text=gettext_lazy("Id of a village or community"))
    sex = serializers.ChoiceField(choices=Sex.choices, required=False)
    birth_date = serializers.DateField(required=False)
    ethnicity = serializers.ChoiceField(choices=ETHNICITIES, required=False)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    household = _id_field(required=False, allow_null=True)
    relation_to_head = serializers.ChoiceField(
        choices=RelationToHead.choices, required=False, allow_blank=True
    )
    tags = TagDeclareSerializer(many=True, required=False)


class ResidentUpdateSerializer(serializers.Serializer):
    """PATCH: only the fields sent are changed. The national ID, sex and birth date are not
    editable (they come from the ID); sending them is an error, not silently ignored."""

    name = serializers.CharField(max_length=50, required=False)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    ethnicity = serializers.ChoiceField(choices=ETHNICITIES, required=False)
    home_village = _id_field(required=False)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    household = _id_field(required=False, allow_null=True)
    relation_to_head = serializers.ChoiceField(
        choices=RelationToHead.choices, required=False, allow_blank=True
    )
    deceased_on = serializers.DateField(required=False, allow_null=True)

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: [_("This field cannot be changed here.")] for name in unknown}
            )
        if not attrs:
            raise serializers.ValidationError(_("Send at least one field to change."))
        return attrs


class ResidentFilter(serializers.Serializer):
    q = serializers.CharField(max_length=100, required=False, allow_blank=True)
    village = _id_field(required=False)
    key_population = serializers.ChoiceField(choices=KeyPopulation.choices, required=False)


def _household(user, value: int | None) -> Household | None:
    """Resolve a household id within the user's scope (unknown and out of scope alike)."""
    if value is None:
        return None
    found = scoped(user, Household).filter(pk=value).first()
    if found is None:
        raise ValidationError(
            _("Unknown household. Choose a household of your area."),
            code="unknown_household",
            field="household",
        )
    return found


def _audit_query(raw: str) -> str:
    """What a SEARCH entry keeps of the query: a national ID only masked."""
    query = selectors.classify(raw)
    return nid.mask(query.text) if query.kind == "national_id" else query.text


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description=gettext_lazy(
        "Optional. A retry with the same key gets the first answer instead of a second record."
    ),
)


@extend_schema_view(
    list=extend_schema(
        summary=gettext_lazy("Search residents"),
        parameters=[
            OpenApiParameter(
                "q", str, description=gettext_lazy("Name, pinyin/initials, national ID or phone")
            ),
            OpenApiParameter("village", int, description=gettext_lazy("Home village id")),
            OpenApiParameter("key_population", enum=KeyPopulation.values),
        ],
    ),
    retrieve=extend_schema(summary=gettext_lazy("Read a resident (audited)")),
    create=extend_schema(
        summary=gettext_lazy("Register a resident"),
        parameters=[IDEMPOTENCY_KEY],
        request=ResidentCreateSerializer,
        responses={201: ResidentDetailSerializer},
    ),
    partial_update=extend_schema(
        summary=gettext_lazy("Change a resident's demographics"),
        request=ResidentUpdateSerializer,
        responses={200: ResidentDetailSerializer},
    ),
)
class ResidentViewSet(
    IdempotentCreateMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    idempotency_operation = "residents.create"
    http_method_names = ["get", "post", "patch", "head", "options"]
    queryset = Resident.objects.none()

    def get_queryset(self):
        return selectors.residents_for(self.request.user).select_related("home_village")

    def get_serializer_class(self):
        if self.action == "list":
            return ResidentListSerializer
        return ResidentDetailSerializer

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        user = getattr(self.request, "user", None)
        context["show_national_id"] = bool(
            user and user.has_perm(f"countycare.{Perm.VIEW_NATIONAL_ID}")
        )
        return context

    def list(self, request, *args, **kwargs):
        params = ResidentFilter(data=request.query_params)
        params.is_valid(raise_exception=True)
        f = params.validated_data
        q = f.get("q", "")
        qs = selectors.search_residents(
            request.user,
            q,
            village_id=f.get("village"),
            key_population=f.get("key_population"),
            limit=None,
        )
        if q.strip() or "village" in f or "key_population" in f:
            audit.log(
                audit.Action.SEARCH,
                actor=request.user,
                object_type="residents.resident",
                institution=primary_institution(request.user),
                detail={
                    "q": _audit_query(q),
                    "village": f.get("village"),
                    "key_population": f.get("key_population"),
                },
            )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(ResidentListSerializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        resident = self.get_object()
        data = self.get_serializer(resident).data
        audit.log(
            audit.Action.READ,
            actor=request.user,
            obj=resident,
            detail={"national_id": "full" if data["national_id"] else "masked"},
        )
        return Response(data)

    def create_once(self, request) -> tuple[int, Any]:
        parsed = ResidentCreateSerializer(data=request.data)
        parsed.is_valid(raise_exception=True)
        data = dict(parsed.validated_data)
        data["household"] = _household(request.user, data.get("household"))
        data["tags"] = [dict(t) for t in data.get("tags", [])]
        resident = services.register_resident(actor=request.user, **data)
        # The answer may be stored for replays: it never carries the full national ID, which
        # is kept encrypted at rest and nowhere else (the client sent it anyway).
        body = ResidentDetailSerializer(resident, context={"show_national_id": False}).data
        return status.HTTP_201_CREATED, to_json(body)

    def partial_update(self, request, *args, **kwargs):
        resident = self.get_object()
        parsed = ResidentUpdateSerializer(data=request.data)
        parsed.is_valid(raise_exception=True)
        changes = dict(parsed.validated_data)
        if "household" in changes:
            changes["household"] = _household(request.user, changes["household"])
        resident = services.update_resident(actor=request.user, resident=resident, **changes)
        return Response(self.get_serializer(resident).data)

    @extend_schema(
        summary=gettext_lazy("Declare a key population (hypertension, diabetes, …)"),
        parameters=[IDEMPOTENCY_KEY],
        request=TagDeclareSerializer,
        responses={201: TagSerializer},
    )
    @action(detail=True, methods=["post"], url_path="tags")
    def tags(self, request, pk=None):
        resident = self.get_object()

        def declare() -> tuple[int, Any]:
            parsed = TagDeclareSerializer(data=request.data)
            parsed.is_valid(raise_exception=True)
            tag = services.declare_tag(
                actor=request.user, resident=resident, **parsed.validated_data
            )
            return status.HTTP_201_CREATED, to_json(TagSerializer(tag).data)

        return idempotent(
            request,
            operation="residents.tag",
            payload={"resident": resident.pk, "data": plain_payload(request.data)},
            action=declare,
        )

    @extend_schema(
        summary=gettext_lazy("End a declared key population"),
        parameters=[OpenApiParameter("tag_id", int, OpenApiParameter.PATH)],
        request=TagEndSerializer,
        responses={200: TagSerializer},
    )
    @action(detail=True, methods=["post"], url_path=r"tags/(?P<tag_id>[^/.]+)/end")
    def end_tag(self, request, pk=None, tag_id=None):
        resident = self.get_object()
        tag = get_object_or_404(
            scoped(request.user, KeyPopulationTag).filter(resident=resident), pk=tag_id
        )
        parsed = TagEndSerializer(data=request.data)
        parsed.is_valid(raise_exception=True)
        tag = services.end_tag(actor=request.user, tag=tag, **parsed.validated_data)
        return Response(TagSerializer(tag).data)

    @extend_schema(
        summary=gettext_lazy("The resident's timeline (audited read)"),
        responses={200: TimelineEntrySerializer(many=True)},
    )
    @action(detail=True, methods=["get"])
    def timeline(self, request, pk=None):
        resident = self.get_object()
        entries = for_resident(resident, request.user)
        audit.log(audit.Action.READ, actor=request.user, obj=resident, detail={"view": "timeline"})
        return Response(TimelineEntrySerializer(entries, many=True).data)


def register(router) -> None:
    router.register("residents", ResidentViewSet, basename="resident")
