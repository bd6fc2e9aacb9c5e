"""What the indicators app stores: imported periodic statistics (the figures the platform does
not hold as rows: visits, insurance, beds, satisfaction) and the materialised indicator values
per institution and period (architecture.md, "Scale path")."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from countycare.organizations.models import Institution, InstitutionType


class Metric(models.TextChoices):
    """Figures a county imports per institution and month (KPI-01, KPI-02, KPI-04)."""

    OUTPATIENT_VISITS = "outpatient_visits", _("Outpatient and emergency visits")
    TCM_VISITS = "tcm_visits", _("TCM/Mongolian-medicine outpatient and emergency visits")
    INPATIENT_ADMISSIONS = "inpatient_admissions", _("Inpatient admissions")
    OUT_OF_COUNTY_VISITS = (
        "out_of_county_visits",
        _("Visits of the county's residents outside the county"),
    )
    OPEN_BED_DAYS = "open_bed_days", _("Open bed-days")
    OCCUPIED_BED_DAYS = "occupied_bed_days", _("Occupied bed-days")
    INSURANCE_FUND_YUAN = "insurance_fund_yuan", _("Insurance fund paid (yuan)")
    OUT_OF_COUNTY_INSURANCE_FUND_YUAN = (
        "out_of_county_insurance_fund_yuan",
        _("Insurance fund paid outside the county (yuan)"),
    )
    NEW_TECHNIQUES = (
        "new_techniques",
        _("New techniques and projects started with lead-hospital help"),
    )
    SATISFACTION_SURVEYED = "satisfaction_surveyed", _("Residents surveyed on satisfaction")
    SATISFACTION_SATISFIED = "satisfaction_satisfied", _("Residents satisfied with in-county care")
    UPWARD_REFERRALS = "upward_referrals", _("Upward referrals")
    DOWNWARD_REFERRALS = "downward_referrals", _("Downward referrals")


# Metrics that are money (two decimals); the others are whole counts.
MONEY_METRICS = frozenset({Metric.INSURANCE_FUND_YUAN, Metric.OUT_OF_COUNTY_INSURANCE_FUND_YUAN})


class StatisticImport(models.Model):
    """One imported file (CSV or Excel) of periodic figures, all rows or none."""

    file_name = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(max_length=64)
    source = models.CharField(_("source"), max_length=100, blank=True)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("imported by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    imported_at = models.DateTimeField(_("imported at"), auto_now_add=True)

    class Meta:
        verbose_name = _("statistics import")
        verbose_name_plural = _("statistics imports")
        ordering = ["-imported_at", "-pk"]

    def __str__(self) -> str:
        return self.file_name


class ImportedStatistic(models.Model):
    """A figure for one institution, one month and one metric; a later import of the same
    (institution, month, metric) replaces it. Aggregates, never resident rows."""

    institution = models.ForeignKey(
        Institution,
        verbose_name=_("institution"),
        on_delete=models.PROTECT,
        related_name="imported_statistics",
    )
    month = models.DateField(_("month"), help_text=_("first day of the month"))
    # The institution's type when the figure was first imported: an institution changing
    # level (a township center upgraded to a hospital) keeps its earlier figures at the
    # level they were reported at (grassroots or not).
    institution_type = models.CharField(
        _("institution type"), max_length=40, choices=InstitutionType.choices, blank=True
    )
    metric = models.CharField(_("metric"), max_length=40, choices=Metric.choices)
    value = models.DecimalField(_("value"), max_digits=16, decimal_places=2)
    batch = models.ForeignKey(
        StatisticImport,
        verbose_name=_("import"),
        on_delete=models.PROTECT,
        related_name="statistics",
    )

    class Meta:
        verbose_name = _("imported statistic")
        verbose_name_plural = _("imported statistics")
        ordering = ["month", "institution_id", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "month", "metric"], name="imported_statistic_unique"
            )
        ]
        indexes = [models.Index(fields=["metric", "month"])]

    def __str__(self) -> str:
        return f"{self.institution} {self.month:%Y-%m} {self.metric} = {self.value}"


class IndicatorValue(models.Model):
    """An indicator computed for an institution's subtree and a period. Values of closed
    periods are kept; a change to their data marks them stale and a task recomputes them."""

    class Status(models.TextChoices):
        OK = "ok", _("Computed")
        NO_DATA = "no_data", _("No data")
        PENDING = "pending", _("Data source not yet available")
        NOT_APPLICABLE = "not_applicable", _("Not applicable")

    code = models.CharField(_("indicator"), max_length=60)
    institution = models.ForeignKey(
        Institution, on_delete=models.CASCADE, related_name="indicator_values"
    )
    period = models.CharField(_("period"), max_length=10)
    status = models.CharField(max_length=20, choices=Status.choices)
    numerator = models.FloatField(null=True)
    denominator = models.FloatField(null=True)
    value = models.FloatField(null=True)
    target = models.FloatField(null=True)
    target_year = models.PositiveSmallIntegerField(null=True)
    met = models.BooleanField(null=True)
    way = models.PositiveSmallIntegerField(null=True)  # which of the indicator's ways (0, 1 …)
    # catalog.VERSION when computed: a changed definition recomputes the stored values.
    version = models.PositiveSmallIntegerField(default=0)
    computed_at = models.DateTimeField()
    stale = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("indicator value")
        verbose_name_plural = _("indicator values")
        constraints = [
            models.UniqueConstraint(
                fields=["code", "institution", "period"], name="indicator_value_unique"
            )
        ]
        indexes = [
            models.Index(fields=["institution", "period"]),
            models.Index(fields=["stale"], name="indicator_value_stale"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.institution_id} {self.period} = {self.value}"


class EncounterMonth(models.Model):
    """Encounters (clinical app) counted per month, place and residence — the materialised
    base of the visit-based indicators, so a county's year sums a few tens of thousands of
    rows instead of scanning two million encounters. Rebuilt for a month whenever its
    encounters change (``services.refresh_encounter_months``, in the same transaction as an
    import)."""

    month = models.DateField()
    institution = models.ForeignKey(
        Institution, null=True, on_delete=models.CASCADE, related_name="+"
    )
    institution_type = models.CharField(max_length=40, blank=True)
    residence = models.ForeignKey(
        Institution, null=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=20)
    tcm = models.BooleanField()
    encounter_count = models.PositiveIntegerField()
    fund_count = models.PositiveIntegerField()  # encounters with the fund's payment known
    fund_paid = models.DecimalField(max_digits=16, decimal_places=2, null=True)

    class Meta:
        verbose_name = _("encounters per month")
        verbose_name_plural = _("encounters per month")
        indexes = [
            models.Index(fields=["month", "institution"], name="encounter_month_place"),
            models.Index(fields=["month", "residence"], name="encounter_month_residence"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.institution_id} {self.residence_id} {self.kind} = {self.encounter_count}"
