"""Encounters (就诊记录): one outpatient, emergency or inpatient visit of a person at an
institution, inside the county or outside it, as the hospital information systems (HIS) and
the insurance settlement data (医保结算) record it. They are the source of the visit-based
indicators (KPI-01 in-county and grassroots visit rates, KPI-02 grassroots share of
outpatient visits and of the insurance fund, KPI-04 TCM share).

Two facts are kept as they were on the day of the encounter, because the registry and the
institution tree only know the present: ``residence`` (the village or community the patient
lived in — a resident who moves mid-year keeps his earlier visits where he lived then) and
``institution_type`` (the level of the institution — a township center upgraded to a hospital
keeps its earlier visits as grassroots visits)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from countycare.organizations.models import Institution, InstitutionType


class EncounterKind(models.TextChoices):
    OUTPATIENT = "outpatient", _("Outpatient")
    EMERGENCY = "emergency", _("Emergency")
    INPATIENT = "inpatient", _("Inpatient")


# Outpatient and emergency visits (门急诊人次).
OUTPATIENT_KINDS = (EncounterKind.OUTPATIENT, EncounterKind.EMERGENCY)


class EncounterImport(models.Model):
    """One imported file of encounters (all rows or none)."""

    file_name = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(max_length=64)
    source = models.CharField(
        _("source system"),
        max_length=40,
        help_text=_("the system the file comes from, e.g. H01-HIS or 医保结算"),
    )
    rows = models.PositiveIntegerField(_("rows"), default=0)
    created = models.PositiveIntegerField(_("new encounters"), default=0)
    first_date = models.DateField(_("first date"), null=True)
    last_date = models.DateField(_("last date"), null=True)
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
        verbose_name = _("encounter import")
        verbose_name_plural = _("encounter imports")
        ordering = ["-imported_at", "-pk"]

    def __str__(self) -> str:
        return self.file_name


class Encounter(models.Model):
    """A visit or a stay. ``(source, number)`` is the sending system's own key (就诊流水号,
    settlement number): importing the same record again updates it, never doubles it.
    ``institution`` is empty for a visit outside the county (``provider`` names where)."""

    source = models.CharField(_("source system"), max_length=40)
    number = models.CharField(_("encounter number"), max_length=64)
    kind = models.CharField(_("kind"), max_length=20, choices=EncounterKind.choices)
    date = models.DateField(_("date"), help_text=_("visit day; admission day for a stay"))
    institution = models.ForeignKey(
        Institution,
        verbose_name=_("institution"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="encounters",
        db_index=False,  # the (…, date) index below leads with it
    )
    institution_type = models.CharField(
        _("institution type on the day"),
        max_length=40,
        choices=InstitutionType.choices,
        blank=True,
    )
    provider = models.CharField(_("institution outside the county"), max_length=100, blank=True)
    resident = models.ForeignKey(
        "residents.Resident",
        verbose_name=_("resident"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="encounters",
        db_index=False,  # the (…, date) index below leads with it
    )
    residence = models.ForeignKey(
        Institution,
        verbose_name=_("residence on the day"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="encounters_of_residents",
        db_index=False,  # the (residence, date) index leads with it
    )
    tcm = models.BooleanField(_("TCM/Mongolian-medicine service"), default=False)
    total_cost = models.DecimalField(
        _("total cost (yuan)"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    fund_paid = models.DecimalField(
        _("insurance fund paid (yuan)"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    batch = models.ForeignKey(
        EncounterImport,
        verbose_name=_("import"),
        on_delete=models.PROTECT,
        related_name="encounters",
        db_index=False,  # imports are never deleted; an index would only slow the import
    )

    # core.scoping: where the visit happened, where the patient lived then, where he lives now.
    scope_paths = ("institution", "residence", "resident__home_village")

    class Meta:
        verbose_name = _("encounter")
        verbose_name_plural = _("encounters")
        ordering = ["-date", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["source", "number"], name="encounter_source_number")
        ]
        indexes = [
            # Indicators: one period of one subtree, by where it happened or who it was.
            models.Index(fields=["institution", "date"], name="encounter_institution_date"),
            models.Index(fields=["residence", "date"], name="encounter_residence_date"),
            models.Index(fields=["date"], name="encounter_date"),
            models.Index(fields=["resident", "date"], name="encounter_resident_date"),
        ]

    def __str__(self) -> str:
        where = self.institution.name if self.institution_id else (self.provider or "—")
        return f"{self.date:%Y-%m-%d} {self.get_kind_display()} · {where}"

    @property
    def in_county(self) -> bool:
        return self.institution_id is not None

    @property
    def audit_resident_id(self) -> int | None:
        return self.resident_id

    @property
    def audit_institution(self) -> Institution | None:
        return self.institution
