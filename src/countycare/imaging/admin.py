"""Django admin: the register of DICOM devices (calling AE titles per institution) and the
association log (read only)."""

from django.contrib import admin

from countycare.imaging.models import Association, DeviceAE


@admin.register(DeviceAE)
class DeviceAEAdmin(admin.ModelAdmin):
    list_display = ("ae_title", "institution", "modality", "description", "is_active")
    list_filter = ("is_active", "modality")
    search_fields = ("ae_title", "institution__name", "description")
    autocomplete_fields = ("institution",)


@admin.register(Association)
class AssociationAdmin(admin.ModelAdmin):
    list_display = ("started_at", "calling_ae", "called_ae", "peer", "accepted", "stored",
                    "duplicates", "failed", "finds", "echoes", "reason")  # fmt: skip
    list_filter = ("accepted", "calling_ae")
    search_fields = ("calling_ae", "peer", "reason")
    date_hierarchy = "started_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
