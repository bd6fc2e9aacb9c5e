"""Outreach (issue 8): circuit service points and their siting, circuit teams and schedules,
circuit visits, dispatched doctors and their attendance (OUT-01 … OUT-12)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from countycare.organizations.models import Institution


class SitingObjective(models.TextChoices):
    MEDIAN = "median", _("Least travel (population-weighted p-median)")
    COVERAGE = "coverage", _("Most residents within a distance (maximal covering)")


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class SitingRun(models.Model):
    """One siting of the circuit service points (OUT-01) with its parameters, the villages it
    was run on (a snapshot, so the map stays true after the tree changes) and its result."""

    community = models.ForeignKey(
        Institution,
        verbose_name=_("medical community"),
        on_delete=models.PROTECT,
        related_name="siting_runs",
    )
    k = models.PositiveIntegerField(_("number of points"))
    objective = models.CharField(
        _("objective"), max_length=20, choices=SitingObjective.choices, default="median"
    )
    max_km = models.FloatField(_("distance limit (km)"), null=True, blank=True)
    time_limit = models.FloatField(_("time limit (s)"), null=True, blank=True)
    keep_current = models.BooleanField(_("keep the current points"), default=False)
    required = models.JSONField(_("required villages"), default=list, blank=True)
    excluded = models.JSONField(_("excluded villages"), default=list, blank=True)
    existing = models.JSONField(_("existing clinics"), default=list, blank=True)
    # Where the villages came from: "" = the institution tree, else the uploaded file's name.
    source = models.CharField(_("villages from"), max_length=200, blank=True)
    matrix_file = models.FileField(
        _("distance/time matrix"), upload_to="outreach/siting/", blank=True, max_length=255
    )
    matrix_unit = models.CharField(_("matrix unit"), max_length=20, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED
    )
    error = models.TextField(_("error"), blank=True)
    villages = models.JSONField(default=list, blank=True)  # [{id,name,lat,lon,population}]
    result = models.JSONField(default=dict, blank=True)  # siting.SitingResult.as_json + extras
    objective_value = models.FloatField(null=True, blank=True)
    gap = models.FloatField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    class Meta:
        verbose_name = _("siting run")
        verbose_name_plural = _("siting runs")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"#{self.pk} k={self.k} {self.objective}"


class ServicePoint(models.Model):
    """A circuit service point (巡诊服务点): a node of the institution tree of type
    ``circuit_service_point`` hosted at a village, served by county teams (OUT-01, OUT-02)."""

    institution = models.OneToOneField(
        Institution,
        verbose_name=_("institution"),
        on_delete=models.PROTECT,
        related_name="service_point",
    )
    village = models.ForeignKey(
        Institution,
        verbose_name=_("host village"),
        on_delete=models.PROTECT,
        related_name="hosted_service_points",
    )
    established_on = models.DateField(_("established on"))
    retired_on = models.DateField(_("retired on"), null=True, blank=True)
    siting_run = models.ForeignKey(
        SitingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="points"
    )

    scope_paths = ("village",)

    class Meta:
        verbose_name = _("circuit service point")
        verbose_name_plural = _("circuit service points")
        ordering = ["institution__path"]

    def __str__(self) -> str:
        return self.institution.name


class TeamKind(models.TextChoices):
    VILLAGE_CIRCUIT = "village_circuit", _("Township circuit to villages (weekly)")
    SERVICE_POINT = "service_point", _("County team to circuit service points")
    ELDERLY_CARE = "elderly_care", _("Health visits to elderly-care institutions")


class MemberFunction(models.TextChoices):
    CLINICAL = "clinical", _("Clinical physician")
    TCM = "tcm", _("TCM physician")
    NURSE = "nurse", _("Nurse")
    PUBLIC_HEALTH = "public_health", _("Public-health staff")
    AUXILIARY = "auxiliary", _("Auxiliary staff")
    SPECIALIST = "specialist", _("Specialist")


class CircuitTeam(models.Model):
    """A circuit team (巡诊/巡回医疗队) based at ``home`` with its members and vehicles; the
    places it serves are listed, or (empty) follow from its kind and home's subtree."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=TeamKind.choices)
    home = models.ForeignKey(
        Institution, verbose_name=_("based at"), on_delete=models.PROTECT, related_name="+"
    )
    vehicles = models.PositiveSmallIntegerField(_("vehicles"), default=1)
    places = models.ManyToManyField(
        Institution, verbose_name=_("places served"), blank=True, related_name="circuit_teams"
    )
    is_active = models.BooleanField(_("active"), default=True)

    scope_paths = ("home",)

    class Meta:
        verbose_name = _("circuit team")
        verbose_name_plural = _("circuit teams")
        ordering = ["home__path", "name"]

    def __str__(self) -> str:
        return self.name


class TeamMember(models.Model):
    team = models.ForeignKey(CircuitTeam, on_delete=models.CASCADE, related_name="members")
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="circuit_memberships"
    )
    function = models.CharField(_("function"), max_length=20, choices=MemberFunction.choices)
    valid_from = models.DateField(_("from"))
    valid_until = models.DateField(_("until"), null=True, blank=True)

    class Meta:
        verbose_name = _("team member")
        verbose_name_plural = _("team members")
        constraints = [
            models.UniqueConstraint(
                fields=["team", "staff", "valid_from"], name="outreach_member_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.staff} · {self.get_function_display()}"


class Absence(models.Model):
    """Leave (every day from ``start`` to ``end``) or a recurring unavailability on some
    weekdays (``weekdays``: 0 = Monday … 6 = Sunday) within those dates."""

    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="absences"
    )
    start = models.DateField(_("from"))
    end = models.DateField(_("until"))
    weekdays = models.JSONField(_("weekdays only"), default=list, blank=True)
    reason = models.CharField(_("reason"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("absence")
        verbose_name_plural = _("absences")
        ordering = ["start"]

    def __str__(self) -> str:
        return f"{self.staff} {self.start}–{self.end}"

    def covers(self, day) -> bool:
        return self.start <= day <= self.end and (
            not self.weekdays or day.weekday() in self.weekdays
        )


class CircuitSchedule(models.Model):
    """A team's generated schedule for a period, with what it could not meet and why."""

    team = models.ForeignKey(CircuitTeam, on_delete=models.CASCADE, related_name="schedules")
    start = models.DateField(_("from"))
    end = models.DateField(_("until"))
    problems = models.JSONField(_("rules not met"), default=list, blank=True)
    drive_km = models.FloatField(_("planned driving (km)"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    scope_paths = ("team__home",)

    class Meta:
        verbose_name = _("circuit schedule")
        verbose_name_plural = _("circuit schedules")
        ordering = ["-start", "team"]

    def __str__(self) -> str:
        return f"{self.team} {self.start}–{self.end}"


class Session(models.TextChoices):
    MORNING = "am", _("Morning")
    AFTERNOON = "pm", _("Afternoon")


class VisitStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    DONE = "done", _("Done")
    MISSED = "missed", _("Missed")
    CANCELLED = "cancelled", _("Cancelled")


class CircuitVisit(models.Model):
    """A planned, then recorded, circuit visit of a team to a place on a day (OUT-02/03/04).
    What happened is recorded on the day: who came, arrival and departure, residents served
    and services given; Walking Hospital visits made there (setting "circuit") link to it."""

    schedule = models.ForeignKey(
        CircuitSchedule, null=True, blank=True, on_delete=models.SET_NULL, related_name="visits"
    )
    team = models.ForeignKey(CircuitTeam, on_delete=models.PROTECT, related_name="visits")
    place = models.ForeignKey(
        Institution, verbose_name=_("place"), on_delete=models.PROTECT, related_name="+"
    )
    rule = models.CharField(_("rule"), max_length=10)  # OUT-02 / OUT-03 / OUT-04
    date = models.DateField(_("date"), db_index=True)
    session = models.CharField(_("session"), max_length=2, choices=Session.choices)
    crew = models.PositiveSmallIntegerField(_("crew"), default=1)
    stop_order = models.PositiveSmallIntegerField(_("stop"), default=1)
    planned_staff = models.JSONField(_("planned crew"), default=list, blank=True)  # staff ids
    status = models.CharField(
        _("status"), max_length=10, choices=VisitStatus.choices, default=VisitStatus.PLANNED
    )
    arrived_at = models.DateTimeField(_("arrived"), null=True, blank=True)
    left_at = models.DateTimeField(_("left"), null=True, blank=True)
    residents_served = models.PositiveIntegerField(_("residents served"), default=0)
    services = models.JSONField(_("services given"), default=list, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    recorded_at = models.DateTimeField(null=True, blank=True)

    scope_paths = ("place", "team__home")

    class Meta:
        verbose_name = _("circuit visit")
        verbose_name_plural = _("circuit visits")
        ordering = ["date", "team", "crew", "stop_order"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "place", "date"], name="outreach_visit_once_a_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.team} → {self.place} {self.date}"

    @property
    def hours(self) -> float:
        if self.arrived_at and self.left_at:
            return max(0.0, (self.left_at - self.arrived_at).total_seconds() / 3600)
        return 0.0


class VisitAttendance(models.Model):
    visit = models.ForeignKey(CircuitVisit, on_delete=models.CASCADE, related_name="attendance")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    function = models.CharField(_("function"), max_length=20, choices=MemberFunction.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["visit", "staff"], name="outreach_attendance_once")
        ]

    def __str__(self) -> str:
        return f"{self.staff} @ {self.visit}"


class DispatchKind(models.TextChoices):
    VILLAGE = "village", _("To a village without a qualified doctor (OUT-05)")
    TOWNSHIP = "township", _("County staff to a township (OUT-06)")
    LEAD_ATTENDING = (
        "lead_attending",
        _("Lead-hospital attending physician to a township (OUT-07/08)"),
    )
    PUBLIC_HEALTH = "public_health", _("CDC public-health physician to a township (OUT-09)")


class Dispatch(models.Model):
    """A dispatched doctor (派驻): who, from which institution, to which, for which dates,
    how many days a week and how many hours a day at least (OUT-05 … OUT-09)."""

    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff member"),
        on_delete=models.PROTECT,
        related_name="dispatches",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=DispatchKind.choices)
    from_institution = models.ForeignKey(
        Institution, verbose_name=_("from"), on_delete=models.PROTECT, related_name="+"
    )
    to_institution = models.ForeignKey(
        Institution, verbose_name=_("to"), on_delete=models.PROTECT, related_name="+"
    )
    start = models.DateField(_("from date"))
    end = models.DateField(_("until date"))
    days_per_week = models.PositiveSmallIntegerField(_("days a week"), default=5)
    min_hours_per_day = models.FloatField(_("hours a day, minimum"), default=4)
    note = models.CharField(_("note"), max_length=200, blank=True)
    # Ended before its planned end: ``end`` is the last day, ``planned_end`` what was planned.
    planned_end = models.DateField(_("planned end"), null=True, blank=True)
    end_reason = models.CharField(_("reason for ending early"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    scope_paths = ("to_institution", "from_institution")

    class Meta:
        verbose_name = _("dispatch")
        verbose_name_plural = _("dispatches")
        ordering = ["-start", "pk"]
        indexes = [models.Index(fields=["staff", "start"])]

    def __str__(self) -> str:
        return f"{self.staff} → {self.to_institution} {self.start}–{self.end}"


class DispatchCheckIn(models.Model):
    """A dispatched day: arrival and departure at the receiving institution."""

    dispatch = models.ForeignKey(Dispatch, on_delete=models.CASCADE, related_name="check_ins")
    date = models.DateField(_("date"))
    arrived_at = models.DateTimeField(_("arrived"))
    left_at = models.DateTimeField(_("left"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    scope_paths = ("dispatch__to_institution", "dispatch__from_institution")

    class Meta:
        verbose_name = _("dispatch check-in")
        verbose_name_plural = _("dispatch check-ins")
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["dispatch", "date"], name="outreach_checkin_once")
        ]

    def __str__(self) -> str:
        return f"{self.dispatch.staff} {self.date}"

    @property
    def hours(self) -> float:
        if self.left_at:
            return max(0.0, (self.left_at - self.arrived_at).total_seconds() / 3600)
        return 0.0


class CircuitEncounter(models.Model):
    """A Walking Hospital visit (with its vitals and exam orders) made on a circuit visit:
    linked when it is created, by the examining team member, the day and the village."""

    circuit_visit = models.ForeignKey(
        CircuitVisit, on_delete=models.CASCADE, related_name="encounters"
    )
    visit = models.OneToOneField(
        "telemed.Visit", on_delete=models.CASCADE, related_name="circuit_encounter"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    scope_paths = ("visit__resident__home_village", "circuit_visit__place")

    class Meta:
        verbose_name = _("circuit encounter")
        verbose_name_plural = _("circuit encounters")
        ordering = ["visit__visited_at", "pk"]

    def __str__(self) -> str:
        return f"{self.circuit_visit} · {self.visit_id}"
