from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from countycare.organizations.roles import Role


class InstitutionType(models.TextChoices):
    COUNTY = "county", _("County")
    MEDICAL_COMMUNITY = "medical_community", _("Medical community")
    GENERAL_HOSPITAL = "general_hospital", _("County general hospital")
    MONGOLIAN_MEDICINE_HOSPITAL = "mongolian_medicine_hospital", _("Mongolian-medicine hospital")
    TCM_HOSPITAL = "tcm_hospital", _("TCM hospital")
    MCH_HOSPITAL = "mch_hospital", _("Maternal and child health hospital")
    CDC = "cdc", _("CDC")
    TOWNSHIP_HEALTH_CENTER = "township_health_center", _("Township health center")
    COMMUNITY_HEALTH_CENTER = "community_health_center", _("Community health center")
    COMMUNITY_HEALTH_STATION = "community_health_station", _("Community health station")
    VILLAGE_CLINIC = "village_clinic", _("Village clinic")
    VILLAGE = "village", _("Village without a clinic")
    CIRCUIT_SERVICE_POINT = "circuit_service_point", _("Circuit service point")
    ELDERLY_CARE_INSTITUTION = "elderly_care_institution", _("Elderly-care institution")


# Where a resident can live: the node that stands for a village or an urban community.
RESIDENCE_TYPES = (
    InstitutionType.VILLAGE_CLINIC,
    InstitutionType.VILLAGE,
    InstitutionType.COMMUNITY_HEALTH_STATION,
    InstitutionType.COMMUNITY_HEALTH_CENTER,
)
GRASSROOTS_TYPES = (
    InstitutionType.TOWNSHIP_HEALTH_CENTER,
    InstitutionType.COMMUNITY_HEALTH_CENTER,
    InstitutionType.COMMUNITY_HEALTH_STATION,
    InstitutionType.VILLAGE_CLINIC,
)
COUNTY_HOSPITAL_TYPES = (
    InstitutionType.GENERAL_HOSPITAL,
    InstitutionType.MONGOLIAN_MEDICINE_HOSPITAL,
    InstitutionType.TCM_HOSPITAL,
    InstitutionType.MCH_HOSPITAL,
)


class CapabilityStandard(models.TextChoices):
    """优质服务基层行: the capability standard an institution targets (STD-01, STD-05)."""

    NONE = "", _("Not applicable")
    BASIC = "basic", _("Basic standard")
    RECOMMENDED = "recommended", _("Recommended standard")
    VILLAGE = "village", _("Village clinic standard")


class InstitutionQuerySet(models.QuerySet):
    def subtree(self, institution: Institution) -> InstitutionQuerySet:
        return self.filter(path__startswith=institution.path)

    def residences(self) -> InstitutionQuerySet:
        return self.filter(type__in=RESIDENCE_TYPES)

    def active(self) -> InstitutionQuerySet:
        return self.filter(is_active=True)


class Institution(models.Model):
    """A node of the institution tree: county → medical community → hospitals, township
    health centers → village clinics, circuit service points, elderly-care institutions.

    ``path`` is a materialised path of ids (``/1/2/17/``) so a subtree is one indexed prefix
    query, which scoping uses for every row of resident and clinical data."""

    code = models.CharField(_("official code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    short_name = models.CharField(_("short name"), max_length=40, blank=True)
    area_name = models.CharField(
        _("place served"), max_length=60, blank=True, help_text=_("e.g. 札萨克镇, 某某嘎查")
    )
    type = models.CharField(_("type"), max_length=40, choices=InstitutionType.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    path = models.CharField(max_length=255, editable=False, db_index=True, default="")
    depth = models.PositiveSmallIntegerField(editable=False, default=0)
    is_lead_hospital = models.BooleanField(_("lead hospital"), default=False)
    is_central = models.BooleanField(_("central township health center"), default=False)
    is_sub_center = models.BooleanField(_("county sub-center"), default=False)
    capability_standard = models.CharField(
        _("capability standard"),
        max_length=20,
        choices=CapabilityStandard.choices,
        default=CapabilityStandard.NONE,
        blank=True,
    )
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    served_population = models.PositiveIntegerField(_("served population"), default=0)
    agricultural_population = models.PositiveIntegerField(
        _("agricultural/pastoral population"), default=0
    )
    address = models.CharField(_("address"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    objects = InstitutionQuerySet.as_manager()

    class Meta:
        verbose_name = _("institution")
        verbose_name_plural = _("institutions")
        ordering = ["path"]
        indexes = [models.Index(fields=["type"])]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        with transaction.atomic():
            old_path = self.path
            super().save(*args, **kwargs)
            new_path = f"{self.parent.path if self.parent_id else '/'}{self.pk}/"
            if new_path != old_path:
                self.path = new_path
                self.depth = new_path.count("/") - 2
                type(self).objects.filter(pk=self.pk).update(path=self.path, depth=self.depth)
                if old_path:
                    # Moved: rewrite the descendants' paths (institution trees are small).
                    for child in (
                        type(self).objects.filter(path__startswith=old_path).exclude(pk=self.pk)
                    ):
                        child.path = new_path + child.path[len(old_path) :]
                        child.depth = child.path.count("/") - 2
                        type(self).objects.filter(pk=child.pk).update(
                            path=child.path, depth=child.depth
                        )

    def ancestors(self) -> InstitutionQuerySet:
        ids = [int(p) for p in self.path.strip("/").split("/") if p]
        return Institution.objects.filter(pk__in=ids).order_by("depth")

    def contains(self, other: Institution) -> bool:
        return other.path.startswith(self.path)

    @property
    def township(self) -> Institution | None:
        """The township health center (or community center) this node belongs to."""
        for node in self.ancestors().reverse():
            if node.type in (
                InstitutionType.TOWNSHIP_HEALTH_CENTER,
                InstitutionType.COMMUNITY_HEALTH_CENTER,
            ):
                return node
        return None


class Qualification(models.TextChoices):
    NONE = "", _("None")
    VILLAGE_DOCTOR_CERTIFICATE = "village_doctor_certificate", _("Village doctor certificate")
    LICENSED_ASSISTANT_PHYSICIAN = "licensed_assistant_physician", _("Licensed assistant physician")
    LICENSED_PHYSICIAN = "licensed_physician", _("Licensed physician")
    NURSE = "nurse", _("Registered nurse")
    PHARMACIST = "pharmacist", _("Pharmacist")
    TECHNICIAN = "technician", _("Medical technician")
    PUBLIC_HEALTH_PHYSICIAN = "public_health_physician", _("Public-health physician")


class PracticeCategory(models.TextChoices):
    NONE = "", _("None")
    CLINICAL = "clinical", _("Clinical")
    TCM = "tcm", _("Traditional Chinese medicine")
    MONGOLIAN_MEDICINE = "mongolian_medicine", _("Mongolian medicine")
    PUBLIC_HEALTH = "public_health", _("Public health")
    DENTAL = "dental", _("Dental")
    NURSING = "nursing", _("Nursing")
    PHARMACY = "pharmacy", _("Pharmacy")
    MEDICAL_TECHNOLOGY = "medical_technology", _("Medical technology")


class TitleLevel(models.TextChoices):
    NONE = "", _("None")
    JUNIOR = "junior", _("Junior")
    INTERMEDIATE = "intermediate", _("Intermediate")
    ASSOCIATE_SENIOR = "associate_senior", _("Associate senior")
    SENIOR = "senior", _("Senior")


class Staff(AbstractUser):
    """A person who logs in: doctor, nurse, reader, pharmacist, officer, administrator."""

    full_name = models.CharField(_("full name"), max_length=50, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    qualification = models.CharField(
        _("qualification"), max_length=40, choices=Qualification.choices, blank=True, default=""
    )
    practice_category = models.CharField(
        _("practice category"),
        max_length=40,
        choices=PracticeCategory.choices,
        blank=True,
        default="",
    )
    title_level = models.CharField(
        _("title level"), max_length=20, choices=TitleLevel.choices, blank=True, default=""
    )
    is_registered_gp = models.BooleanField(_("registered GP"), default=False)
    employer = models.ForeignKey(
        Institution,
        verbose_name=_("employing institution"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="employees",
    )

    objects = UserManager()

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")

    def __str__(self) -> str:
        return self.full_name or self.username

    def get_full_name(self) -> str:
        return self.full_name or super().get_full_name() or self.username


class RoleAssignmentQuerySet(models.QuerySet):
    def active(self, on: dt.date | None = None) -> RoleAssignmentQuerySet:
        on = on or timezone.localdate()
        return self.filter(valid_from__lte=on).filter(
            Q(valid_until__isnull=True) | Q(valid_until__gte=on)
        )


class RoleAssignment(models.Model):
    """A staff member holds a role at an institution for a period; a person may hold several
    (a county physician dispatched to a township holds a role at both)."""

    staff = models.ForeignKey(
        Staff, verbose_name=_("staff member"), on_delete=models.CASCADE, related_name="roles"
    )
    institution = models.ForeignKey(
        Institution,
        verbose_name=_("institution"),
        on_delete=models.PROTECT,
        related_name="role_assignments",
    )
    role = models.CharField(_("role"), max_length=40, choices=Role.choices)
    valid_from = models.DateField(_("valid from"), default=dt.date(2000, 1, 1))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    objects = RoleAssignmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        indexes = [models.Index(fields=["staff", "role"])]
        constraints = [
            models.UniqueConstraint(
                fields=["staff", "institution", "role", "valid_from"],
                name="role_assignment_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.staff} · {self.get_role_display()} @ {self.institution}"


class PolicyValue(models.Model):
    """A county's own value for a policy number (organizations.policy declares each one with
    its default from the seeds and its requirement ID)."""

    community = models.ForeignKey(
        Institution,
        verbose_name=_("medical community"),
        on_delete=models.CASCADE,
        limit_choices_to={"type": InstitutionType.MEDICAL_COMMUNITY},
        related_name="policy_values",
    )
    key = models.CharField(_("policy key"), max_length=80)
    value = models.JSONField(_("value"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("policy value")
        verbose_name_plural = _("policy values")
        constraints = [
            models.UniqueConstraint(fields=["community", "key"], name="policy_value_unique")
        ]

    def __str__(self) -> str:
        return f"{self.key} = {self.value}"


class EquipmentKind(models.TextChoices):
    """Equipment the facility standards name (STD-04, 002 §3(一)2) and the Walking Hospital
    devices (WH-01)."""

    DR = "dr", _("DR (digital radiography)")
    X_RAY = "x_ray", _("X-ray machine")
    COLOR_ULTRASOUND = "color_ultrasound", _("Color ultrasound")
    B_ULTRASOUND = "b_ultrasound", _("B-mode ultrasound")
    AUTO_BIOCHEMISTRY_ANALYZER = "auto_biochemistry_analyzer", _("Automatic biochemistry analyzer")
    BIOCHEMISTRY_ANALYZER = "biochemistry_analyzer", _("Biochemistry analyzer")
    ECG_MACHINE = "ecg_machine", _("ECG machine")
    URINE_ANALYZER = "urine_analyzer", _("Urine analyzer")
    BLOOD_CELL_COUNTER = "blood_cell_counter", _("Blood cell counter")
    SIMPLE_VENTILATOR = "simple_ventilator", _("Simple ventilator")
    AIR_DISINFECTOR = "air_disinfector", _("Air disinfector")
    SPIROMETER = "spirometer", _("Spirometer")
    AMBULANCE = "ambulance", _("Ambulance")
    DIAGNOSTIC_KIT = "diagnostic_kit", _("Diagnostic kit (Walking Hospital)")
    ULTRASOUND_AI_ASSIST = "ultrasound_ai_assist", _("Ultrasound AI assist")
    BP_MONITOR = "bp_monitor", _("Blood pressure monitor")
    GLUCOSE_METER = "glucose_meter", _("Blood glucose meter")
    TCM_EQUIPMENT = "tcm_equipment", _("TCM/Mongolian-medicine treatment equipment")


class Equipment(models.Model):
    """An item of an institution's equipment register, checked against the facility
    standards (STD-04). Out-of-service items are kept, marked, and do not count."""

    institution = models.ForeignKey(
        Institution,
        verbose_name=_("institution"),
        on_delete=models.PROTECT,
        related_name="equipment",
    )
    kind = models.CharField(_("kind"), max_length=40, choices=EquipmentKind.choices)
    quantity = models.PositiveSmallIntegerField(_("quantity"), default=1)
    model_name = models.CharField(_("make and model"), max_length=100, blank=True)
    acquired_on = models.DateField(_("acquired on"), null=True, blank=True)
    in_service = models.BooleanField(_("in service"), default=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("equipment")
        verbose_name_plural = _("equipment")
        ordering = ["institution_id", "kind"]
        indexes = [models.Index(fields=["institution", "kind"])]

    def __str__(self) -> str:
        return f"{self.institution} · {self.get_kind_display()}"
