from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _

from countycare.organizations.models import (
    Equipment,
    Institution,
    PolicyValue,
    RoleAssignment,
    Staff,
)
from countycare.organizations.policy import REGISTRY


class EquipmentInline(admin.TabularInline):
    """The equipment register (STD-04), checked by the facility standards (indicators)."""

    model = Equipment
    extra = 0
    fields = ("kind", "quantity", "model_name", "acquired_on", "in_service", "note")


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "type",
        "code",
        "parent",
        "capability_standard",
        "served_population",
        "is_active",
    )
    list_filter = ("type", "capability_standard", "is_lead_hospital", "is_central", "is_active")
    search_fields = ("name", "short_name", "code", "area_name")
    autocomplete_fields = ("parent",)
    readonly_fields = ("path", "depth")
    ordering = ("path",)
    inlines = (EquipmentInline,)
    fieldsets = (
        (
            None,
            {"fields": ("name", "short_name", "code", "type", "parent", "area_name", "is_active")},
        ),
        (
            _("Role in the medical community"),
            {"fields": ("is_lead_hospital", "is_central", "is_sub_center", "capability_standard")},
        ),
        (
            _("Place and population"),
            {
                "fields": (
                    "latitude",
                    "longitude",
                    "served_population",
                    "agricultural_population",
                    "address",
                    "phone",
                )
            },
        ),
        (_("Tree"), {"fields": ("path", "depth")}),
    )

    def has_delete_permission(self, request, obj=None):
        # Institutions are deactivated, not deleted: records and the audit trail point at them.
        return False


class RoleAssignmentInline(admin.TabularInline):
    model = RoleAssignment
    extra = 0
    autocomplete_fields = ("institution",)
    fields = ("role", "institution", "valid_from", "valid_until", "note")


@admin.register(Staff)
class StaffAdmin(UserAdmin):
    list_display = (
        "username",
        "full_name",
        "employer",
        "qualification",
        "title_level",
        "is_registered_gp",
        "is_active",
    )
    list_filter = (
        "qualification",
        "practice_category",
        "title_level",
        "is_registered_gp",
        "is_active",
        "is_staff",
    )
    search_fields = ("username", "full_name", "phone")
    autocomplete_fields = ("employer",)
    inlines = (RoleAssignmentInline,)
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Person"), {"fields": ("full_name", "phone", "email", "employer")}),
        (
            _("Qualification"),
            {"fields": ("qualification", "practice_category", "title_level", "is_registered_gp")},
        ),
        (_("Access"), {"fields": ("is_active", "is_staff", "is_superuser")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "full_name", "employer", "password1", "password2"),
            },
        ),
    )

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: the audit trail refers to staff


@admin.register(PolicyValue)
class PolicyValueAdmin(admin.ModelAdmin):
    list_display = ("key", "value", "requirement", "community", "note")
    list_filter = ("community",)
    search_fields = ("key", "note")

    @admin.display(description=_("requirement"))
    def requirement(self, obj):
        number = REGISTRY.get(obj.key)
        return number.requirement if number else "?"
