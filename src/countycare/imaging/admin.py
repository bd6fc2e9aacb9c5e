"""Django admin: the register of DICOM devices (calling AE titles per institution), the
association log (read only) and the receipts (read only, with a retry for failed ones)."""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from countycare.imaging.models import Association, DeviceAE, Receipt, ReceiptState


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


@admin.register(Receipt)
class ReceiptAdmin(admin.ModelAdmin):
    """What the devices sent and how far the indexer got; a failed receipt (its error kept)
    can be sent back to the indexer once the cause is fixed."""

    list_display = ("received_at", "sop_instance_uid", "device", "state", "attempts",
                    "error", "indexed_at")  # fmt: skip
    list_filter = ("state", "device")
    search_fields = ("sop_instance_uid", "study_instance_uid", "error")
    date_hierarchy = "received_at"
    actions = ("retry",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Index the selected failed receipts again"))
    def retry(self, request, queryset):
        count = queryset.filter(state=ReceiptState.FAILED).update(
            state=ReceiptState.PENDING, available_at=timezone.now(), attempts=0, claimed_by=""
        )
        self.message_user(
            request,
            ngettext(
                "%(count)d receipt sent back to the indexer.",
                "%(count)d receipts sent back to the indexer.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )
