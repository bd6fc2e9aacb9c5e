"""Master data of family-doctor work in Django admin: teams with their members, villages and
fee share (FD-04), service packages. Contracts and follow-ups are resident data and are kept
out of admin (they move only through the services, each move recorded)."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from countycare.core.errors import DomainError
from countycare.familydoctor import services
from countycare.familydoctor.models import ServicePackage, Team, TeamMember


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ["name", "institution", "villages", "staff_share", "is_active", "note"]

    def clean_staff_share(self):
        value = self.cleaned_data.get("staff_share")
        try:
            services.validate_staff_share(value)
        except DomainError as exc:
            raise forms.ValidationError(str(exc.message)) from None
        return value


class MemberInline(admin.TabularInline):
    model = TeamMember
    extra = 1
    autocomplete_fields = ("staff",)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    form = TeamForm
    list_display = ("name", "institution", "staff_share", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "institution__name")
    filter_horizontal = ("villages",)
    inlines = (MemberInline,)
    autocomplete_fields = ("institution",)


@admin.register(ServicePackage)
class ServicePackageAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "fee", "resident_fee", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("code", "name")
