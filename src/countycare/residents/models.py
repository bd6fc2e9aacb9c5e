from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from countycare.core.fields import EncryptedTextField
from countycare.organizations.models import RESIDENCE_TYPES, Institution
from countycare.residents.ethnicity import ETHNICITIES, HAN


class Sex(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class KeyPopulation(models.TextChoices):
    # Derived from the birth date, never stored as tags.
    ELDERLY = "elderly", _("Elderly 65+")
    CHILD = "child", _("Child 0–6")
    # Declared, recorded with a date and a source.
    HYPERTENSION = "hypertension", _("Hypertension")
    TYPE2_DIABETES = "type2_diabetes", _("Type-2 diabetes")
    SEVERE_MENTAL_DISORDER = "severe_mental_disorder", _("Severe mental disorder")
    TUBERCULOSIS = "tuberculosis", _("Tuberculosis")
    DISABLED = "disabled", _("Disabled")
    PREGNANT = "pregnant", _("Pregnant")
    POVERTY_RETURN_MONITORING = "poverty_return_monitoring", _("Poverty-return monitoring")
    LEFT_BEHIND_CHILD = "left_behind_child", _("Left-behind child")


DERIVED_KEY_POPULATIONS = (KeyPopulation.ELDERLY, KeyPopulation.CHILD)
DECLARED_KEY_POPULATIONS = tuple(k for k in KeyPopulation if k not in DERIVED_KEY_POPULATIONS)


class RelationToHead(models.TextChoices):
    SELF = "self", _("Head of household")
    SPOUSE = "spouse", _("Spouse")
    CHILD = "child", _("Child")
    PARENT = "parent", _("Parent")
    GRANDCHILD = "grandchild", _("Grandchild")
    OTHER = "other", _("Other relative")


class Household(models.Model):
    code = models.CharField(_("household number"), max_length=30, unique=True)
    village = models.ForeignKey(
        Institution,
        verbose_name=_("village"),
        on_delete=models.PROTECT,
        related_name="households",
        limit_choices_to={"type__in": RESIDENCE_TYPES},
    )
    address = models.CharField(_("address"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    scope_paths = ("village",)

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")

    def __str__(self) -> str:
        return self.code


class Resident(models.Model):
    """Everyone in the registry. The national ID is encrypted at rest; ``national_id_hash``
    (keyed HMAC) finds it exactly and makes it unique; ``national_id_masked`` is what most
    roles see."""

    national_id = EncryptedTextField(_("national ID number"))
    national_id_hash = models.CharField(max_length=64, unique=True, editable=False)
    national_id_masked = models.CharField(_("national ID number"), max_length=18, editable=False)
    name = models.CharField(_("name"), max_length=50)
    name_pinyin = models.CharField(_("pinyin"), max_length=100, editable=False, default="")
    name_initials = models.CharField(_("initials"), max_length=20, editable=False, default="")
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices)
    birth_date = models.DateField(_("birth date"))
    ethnicity = models.CharField(_("ethnicity"), max_length=2, choices=ETHNICITIES, default=HAN)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    home_village = models.ForeignKey(
        Institution,
        verbose_name=_("home village"),
        on_delete=models.PROTECT,
        related_name="residents",
        limit_choices_to={"type__in": RESIDENCE_TYPES},
    )
    household = models.ForeignKey(
        Household,
        verbose_name=_("household"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
    )
    relation_to_head = models.CharField(
        _("relation to head of household"),
        max_length=20,
        choices=RelationToHead.choices,
        blank=True,
    )
    address = models.CharField(_("address"), max_length=200, blank=True)
    deceased_on = models.DateField(_("date of death"), null=True, blank=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("registered by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    registered_at = models.DateTimeField(_("registered"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    scope_paths = ("home_village",)

    class Meta:
        verbose_name = _("resident")
        verbose_name_plural = _("residents")
        ordering = ["name", "id"]
        indexes = [
            # Prefix search (LIKE 'x%') uses these on PostgreSQL through the pattern opclass;
            # other databases ignore the opclass and get a plain b-tree.
            models.Index(
                fields=["name"], name="resident_name_prefix", opclasses=["varchar_pattern_ops"]
            ),
            models.Index(
                fields=["name_pinyin"],
                name="resident_pinyin_prefix",
                opclasses=["varchar_pattern_ops"],
            ),
            models.Index(
                fields=["name_initials"],
                name="resident_initials_prefix",
                opclasses=["varchar_pattern_ops"],
            ),
            models.Index(
                fields=["phone"], name="resident_phone_prefix", opclasses=["varchar_pattern_ops"]
            ),
            models.Index(fields=["home_village", "name"], name="resident_village_name"),
            models.Index(fields=["birth_date"], name="resident_birth_date"),
        ]

    def __str__(self) -> str:
        return self.name

    # audit.log reads these
    @property
    def audit_resident_id(self) -> int | None:
        return self.pk

    @property
    def audit_institution(self) -> Institution:
        return self.home_village

    def age_on(self, day: dt.date) -> int:
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years

    @property
    def age(self) -> int:
        return self.age_on(timezone.localdate())


class KeyPopulationTagQuerySet(models.QuerySet):
    def current(self, on: dt.date | None = None):
        on = on or timezone.localdate()
        return self.filter(recorded_on__lte=on).filter(
            Q(ended_on__isnull=True) | Q(ended_on__gt=on)
        )


class KeyPopulationTag(models.Model):
    """A declared key-population membership (hypertension, diabetes, …) with its date and
    source; ended, not deleted, when it no longer applies (e.g. after a pregnancy)."""

    resident = models.ForeignKey(
        Resident, verbose_name=_("resident"), on_delete=models.CASCADE, related_name="tags"
    )
    tag = models.CharField(
        _("key population"),
        max_length=40,
        choices=[(k.value, k.label) for k in DECLARED_KEY_POPULATIONS],
    )
    recorded_on = models.DateField(_("recorded on"))
    source = models.CharField(_("source"), max_length=100)
    note = models.CharField(_("note"), max_length=200, blank=True)
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    end_reason = models.CharField(_("reason for ending"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = KeyPopulationTagQuerySet.as_manager()
    scope_paths = ("resident__home_village",)

    class Meta:
        verbose_name = _("key-population tag")
        verbose_name_plural = _("key-population tags")
        indexes = [models.Index(fields=["tag", "ended_on"])]
        constraints = [
            models.UniqueConstraint(
                fields=["resident", "tag"],
                condition=Q(ended_on__isnull=True),
                name="one_open_tag_per_resident",
            )
        ]

    def __str__(self) -> str:
        return f"{self.resident} · {self.get_tag_display()}"

    @property
    def audit_resident_id(self) -> int:
        return self.resident_id

    @property
    def audit_institution(self) -> Institution:
        return self.resident.home_village
