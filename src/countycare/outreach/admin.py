from django.contrib import admin

from countycare.outreach.models import (
    Absence,
    CircuitSchedule,
    CircuitTeam,
    CircuitVisit,
    Dispatch,
    DispatchCheckIn,
    ServicePoint,
    SitingRun,
    TeamMember,
)


class TeamMemberInline(admin.TabularInline):
    model = TeamMember
    extra = 1
    autocomplete_fields = ["staff"]


@admin.register(CircuitTeam)
class CircuitTeamAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "home", "vehicles", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "home__name"]
    filter_horizontal = ["places"]
    inlines = [TeamMemberInline]


@admin.register(Absence)
class AbsenceAdmin(admin.ModelAdmin):
    list_display = ["staff", "start", "end", "weekdays", "reason"]
    autocomplete_fields = ["staff"]


@admin.register(ServicePoint)
class ServicePointAdmin(admin.ModelAdmin):
    list_display = ["institution", "village", "established_on", "retired_on"]
    list_filter = ["retired_on"]


@admin.register(SitingRun)
class SitingRunAdmin(admin.ModelAdmin):
    list_display = ["pk", "created_at", "objective", "k", "status", "objective_value", "gap"]
    readonly_fields = ["villages", "result"]


@admin.register(CircuitSchedule)
class CircuitScheduleAdmin(admin.ModelAdmin):
    list_display = ["team", "start", "end", "drive_km", "created_at"]


@admin.register(CircuitVisit)
class CircuitVisitAdmin(admin.ModelAdmin):
    list_display = ["date", "session", "team", "place", "rule", "status"]
    list_filter = ["status", "rule"]
    date_hierarchy = "date"


@admin.register(Dispatch)
class DispatchAdmin(admin.ModelAdmin):
    list_display = ["staff", "kind", "from_institution", "to_institution", "start", "end"]
    list_filter = ["kind"]


@admin.register(DispatchCheckIn)
class DispatchCheckInAdmin(admin.ModelAdmin):
    list_display = ["dispatch", "date", "arrived_at", "left_at"]
    date_hierarchy = "date"
