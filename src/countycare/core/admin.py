from django.contrib import admin

from countycare.core.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the trail can be searched, never edited or deleted."""

    list_display = (
        "at",
        "actor_username",
        "action",
        "object_type",
        "object_repr",
        "institution_name",
        "ip",
    )
    list_filter = ("action", "object_type")
    search_fields = ("actor_username", "object_repr", "object_id", "institution_name")
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.has_perm("countycare.view_audit")
