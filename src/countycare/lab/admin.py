"""The dead-letter list in Django admin (issue 5): every HL7 message as received, filtered by
status; a dead letter can be replayed once its cause is fixed (e.g. a medical record number
registered below). Messages are records: nothing here edits one."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from countycare.lab import ingest
from countycare.lab.models import (
    Analyzer,
    CodeMapping,
    Hl7Message,
    LabResult,
    MessageStatus,
    ReferenceRange,
    ResidentIdentifier,
)


@admin.register(Hl7Message)
class Hl7MessageAdmin(admin.ModelAdmin):
    list_display = ("received_at", "sender", "control_id", "message_type", "status", "ack_code",
                    "observation_count", "reason")  # fmt: skip
    list_filter = ("status", "ack_code", "message_type")
    search_fields = ("control_id", "sender")
    date_hierarchy = "received_at"
    actions = ["replay"]
    readonly_fields = [f.name for f in Hl7Message._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Process the selected messages again"), permissions=["change"])
    def replay(self, request, queryset):
        done = failed = 0
        for pk in queryset.exclude(status=MessageStatus.ACCEPTED).values_list("pk", flat=True):
            row = ingest.replay(pk, actor=request.user)
            if row.status == MessageStatus.ACCEPTED:
                done += 1
            else:
                failed += 1
        self.message_user(
            request,
            _("%(done)d accepted; %(failed)d still not accepted.")
            % {"done": done, "failed": failed},
            messages.SUCCESS if not failed else messages.WARNING,
        )


@admin.register(Analyzer)
class AnalyzerAdmin(admin.ModelAdmin):
    """Analyzers and lab systems, registered on their first message: name them and say where
    they stand."""

    list_display = ("sender", "name", "institution", "first_seen")
    search_fields = ("sender", "name")
    raw_id_fields = ("institution",)
    readonly_fields = ("first_seen",)


@admin.register(ResidentIdentifier)
class ResidentIdentifierAdmin(admin.ModelAdmin):
    list_display = ("value", "authority", "resident")
    search_fields = ("value", "authority")
    raw_id_fields = ("resident",)


@admin.register(ReferenceRange)
class ReferenceRangeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "sex", "age_min", "age_max", "low", "high", "unit",
                    "source")  # fmt: skip
    list_filter = ("sex", "source")
    search_fields = ("code", "name")


@admin.register(CodeMapping)
class CodeMappingAdmin(admin.ModelAdmin):
    """The analyzer code table: add a row, then replay the dead letters it explains."""

    list_display = ("sender", "local_code", "loinc", "name", "unit", "ignore")
    list_filter = ("ignore",)
    search_fields = ("sender", "local_code", "loinc", "name")


@admin.register(LabResult)
class LabResultAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "sender", "collected_at", "received_at", "reported_at",
                    "range_source")  # fmt: skip
    list_filter = ("range_source", "sender")
    search_fields = ("code", "sender")
    date_hierarchy = "collected_at"
    readonly_fields = [f.name for f in LabResult._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
