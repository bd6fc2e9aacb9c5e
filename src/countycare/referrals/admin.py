"""Referral master data in Django admin (the community office): the county hospitals'
departments that take referrals and their beds; the disease catalogs to read (they change
only by an upload, all or nothing, on /referrals/catalogs/). Referrals, appointments and
sessions are records that move through the services and the pages, not edited here."""

from django.contrib import admin

from countycare.referrals.models import CatalogEntry, Department, DiseaseCatalog


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("name", "institution", "takes_referrals", "beds", "is_active")
    list_filter = ("takes_referrals", "is_active", "institution")
    search_fields = ("name", "institution__name")


class CatalogEntryInline(admin.TabularInline):
    model = CatalogEntry
    fields = ("code", "name", "department", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(DiseaseCatalog)
class DiseaseCatalogAdmin(admin.ModelAdmin):
    list_display = ("level", "source", "updated_at", "updated_by")
    readonly_fields = ("level", "source", "updated_at", "updated_by")
    inlines = [CatalogEntryInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
