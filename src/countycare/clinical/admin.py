"""The encounter imports in Django admin (who imported which file, how many rows). The
encounters themselves are resident records and stay out of admin (organizations.roles.STAFF_ROLES: master data, never resident rows)."""

from django.contrib import admin

from countycare.clinical.models import EncounterImport


@admin.register(EncounterImport)
class EncounterImportAdmin(admin.ModelAdmin):
    list_display = ("imported_at", "file_name", "source", "rows", "created", "first_date",
                    "last_date", "imported_by")  # fmt: skip
    list_filter = ("source",)
    readonly_fields = [f.name for f in EncounterImport._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
