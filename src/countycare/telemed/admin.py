"""Master data of the Walking Hospital in Django admin (the community office configures the
shared centers, their readers and catalogs, phrases and critical-value rules as data). Orders,
reports and alerts are clinical records: they are not edited here."""

from django.contrib import admin

from countycare.telemed.models import CriticalRule, Phrase, Service, SharedCenter


class ServiceInline(admin.TabularInline):
    model = Service
    extra = 0
    fields = ("code", "name", "modality", "fee", "cost", "is_active")


@admin.register(SharedCenter)
class SharedCenterAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "institution", "opens_at", "closes_at", "open_weekdays",
                    "is_active")  # fmt: skip
    list_filter = ("kind", "is_active")
    search_fields = ("name",)
    autocomplete_fields = ("institution", "readers")
    inlines = [ServiceInline]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "center", "modality", "fee", "cost", "is_active")
    list_filter = ("center", "modality", "is_active")
    search_fields = ("code", "name")


@admin.register(Phrase)
class PhraseAdmin(admin.ModelAdmin):
    list_display = ("text", "center", "service", "section", "sort")
    list_filter = ("center", "section")
    search_fields = ("text",)


@admin.register(CriticalRule)
class CriticalRuleAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "low", "high", "match_any", "message", "is_active")
    list_filter = ("is_active", "match_any")
    search_fields = ("code", "name", "message")

    def has_delete_permission(self, request, obj=None):
        # Alerts point at their rule; a rule is deactivated, not deleted.
        return False
