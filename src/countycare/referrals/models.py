"""Two-way referral and appointments (issue 6; REF-01 … REF-04, STD-05, KPI-02).

- **Disease catalogs by level** (REF-02, STD-05): which diagnoses (ICD-10 codes of the
  national clinical version with their Chinese names) a village clinic, a township health
  center at each capability level (30 / 50 / 66 / 100 common diseases) and the county
  hospitals treat. Data the community office maintains (CSV/Excel upload, ``catalogs.py``).
- **Departments** of the county hospitals that take referrals and appointments.
- **Referral** (双向转诊): upward (village/township → county department), downward (county →
  township/village, with a :class:`CarePlan`) and out-of-county (with approval). A state
  machine moved only by ``referrals.services``; each move is a :class:`ReferralTransition`.
  Reports and observations travel by reference (result recognition, SHC-01), not as copies.
- **Appointments** (预约诊疗, REF-03/REF-04): clinic sessions of a department split into
  :class:`Slot` rows; a share is reserved for family doctors until a cut-off. One live
  :class:`Appointment` per slot is a database constraint (no double booking).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from countycare.organizations.models import Institution


# --- Disease catalogs -------------------------------------------------------------------------
class CatalogLevel(models.TextChoices):
    """The levels of care a catalog describes, lowest first (STD-05: village clinics 30
    common diseases; township centers 50, 66 at the basic standard, 100 at the recommended
    standard; REF-02: the county hospitals' catalog)."""

    VILLAGE = "village", _("Village clinic (30 common diseases)")
    TOWNSHIP = "township", _("Township health center (50 common diseases)")
    TOWNSHIP_BASIC = "township_basic", _("Township center at the basic standard (66)")
    TOWNSHIP_RECOMMENDED = (
        "township_recommended",
        _("Township center at the recommended standard (100)"),
    )
    COUNTY = "county", _("County hospitals")


# A level treats what its own catalog lists and what the levels below it list.
LEVEL_RANK = {level: rank for rank, level in enumerate(CatalogLevel.values)}


class DiseaseCatalog(models.Model):
    """分级诊疗病种目录 for one level. Replaced as a whole by an upload (catalogs.py)."""

    level = models.CharField(_("level"), max_length=30, choices=CatalogLevel.choices, unique=True)
    source = models.CharField(_("source"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("disease catalog")
        verbose_name_plural = _("disease catalogs")
        ordering = ["level"]

    def __str__(self) -> str:
        return str(self.get_level_display())


class CatalogEntry(models.Model):
    catalog = models.ForeignKey(
        DiseaseCatalog, verbose_name=_("catalog"), on_delete=models.CASCADE, related_name="entries"
    )
    code = models.CharField(_("ICD-10 code"), max_length=20)
    name = models.CharField(_("diagnosis"), max_length=200)
    department = models.CharField(_("department"), max_length=60, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("catalog entry")
        verbose_name_plural = _("catalog entries")
        ordering = ["catalog_id", "code"]
        constraints = [
            models.UniqueConstraint(fields=["catalog", "code"], name="catalog_entry_unique")
        ]
        indexes = [models.Index(fields=["code"], name="catalog_entry_code")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


# --- Departments ------------------------------------------------------------------------------
class Department(models.Model):
    """A clinical department of a hospital that takes referrals and holds clinic sessions."""

    institution = models.ForeignKey(
        Institution,
        verbose_name=_("hospital"),
        on_delete=models.PROTECT,
        related_name="departments",
    )
    name = models.CharField(_("name"), max_length=60)
    takes_referrals = models.BooleanField(_("takes referrals"), default=True)
    beds = models.PositiveIntegerField(_("beds"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["institution_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["institution", "name"], name="department_unique")
        ]

    def __str__(self) -> str:
        return f"{self.institution.short_name or self.institution.name} {self.name}"


# --- Referrals --------------------------------------------------------------------------------
class Direction(models.TextChoices):
    UP = "up", _("Upward")
    DOWN = "down", _("Downward")
    OUT = "out", _("Out of county")


class Urgency(models.TextChoices):
    ROUTINE = "routine", _("Routine")
    URGENT = "urgent", _("Urgent")
    EMERGENCY = "emergency", _("Emergency")


class ReferralStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    ACCEPTED = "accepted", _("Accepted")
    APPROVED = "approved", _("Approved")  # out of county
    DECLINED = "declined", _("Declined")
    ARRIVED = "arrived", _("Arrived")
    DISCHARGED = "discharged", _("Discharged")
    CANCELLED = "cancelled", _("Cancelled")


# States in which a referral still waits for someone (the board's "open").
OPEN_STATES = (
    ReferralStatus.REQUESTED,
    ReferralStatus.ACCEPTED,
    ReferralStatus.APPROVED,
    ReferralStatus.ARRIVED,
)


class AcceptMode(models.TextChoices):
    APPOINTMENT = "appointment", _("Outpatient appointment")
    BED = "bed", _("Hospital bed")
    FOLLOW_UP = "follow_up", _("Follow-up at the grassroots")


class Referral(models.Model):
    """转诊单. Moves only through ``referrals.services`` (each move a ReferralTransition)."""

    number = models.CharField(_("referral number"), max_length=20, unique=True)
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices)
    resident = models.ForeignKey(
        "residents.Resident",
        verbose_name=_("resident"),
        on_delete=models.PROTECT,
        related_name="referrals",
    )
    from_institution = models.ForeignKey(
        Institution,
        verbose_name=_("referring institution"),
        on_delete=models.PROTECT,
        related_name="referrals_sent",
    )
    to_institution = models.ForeignKey(
        Institution,
        verbose_name=_("receiving institution"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="referrals_received",
    )
    to_department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="referrals",
    )
    # Out of county: the hospital outside the county, as written (no institution row).
    destination = models.CharField(_("hospital outside the county"), max_length=200, blank=True)
    urgency = models.CharField(
        _("urgency"), max_length=10, choices=Urgency.choices, default=Urgency.ROUTINE
    )
    reason = models.TextField(_("reason for referral"))
    diagnosis_code = models.CharField(_("ICD-10 code"), max_length=20)
    diagnosis_name = models.CharField(_("diagnosis"), max_length=200)
    # The diagnosis lay outside the referring institution's catalog when it was referred
    # (the platform suggested the referral, REF-02).
    outside_catalog = models.BooleanField(_("outside the catalog"), default=False)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=ReferralStatus.choices,
        default=ReferralStatus.REQUESTED,
    )
    referred_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("referred by"),
        on_delete=models.PROTECT,
        related_name="referrals_made",
    )
    # Where it came from: a Walking Hospital visit or critical value, the stay it ends.
    visit = models.ForeignKey(
        "telemed.Visit", on_delete=models.PROTECT, null=True, blank=True, related_name="referrals"
    )
    critical_alert = models.ForeignKey(
        "telemed.CriticalAlert",
        verbose_name=_("critical value"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="referrals",
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("upward referral of this stay"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
    )
    # Result recognition (SHC-01): the reports and results travel by reference.
    reports = models.ManyToManyField(
        "telemed.Report", verbose_name=_("reports"), blank=True, related_name="referrals"
    )
    observations = models.ManyToManyField(
        "telemed.Observation", verbose_name=_("results"), blank=True, related_name="referrals"
    )
    # The receiving side's answer.
    accept_mode = models.CharField(
        _("accepted with"), max_length=20, choices=AcceptMode.choices, blank=True
    )
    appointment = models.OneToOneField(
        "Appointment",
        verbose_name=_("appointment"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="referral",
    )
    bed = models.CharField(_("ward and bed"), max_length=60, blank=True)
    admission_on = models.DateField(_("admission date"), null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("answered by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    status_reason = models.CharField(_("reason"), max_length=500, blank=True)
    requested_at = models.DateTimeField(_("referred at"), db_index=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    arrived_at = models.DateTimeField(_("arrived at"), null=True, blank=True)
    discharged_at = models.DateTimeField(_("discharged at"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_paths = ("resident__home_village", "from_institution", "to_institution")

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-requested_at", "-pk"]
        indexes = [
            models.Index(fields=["to_institution", "status"], name="referral_inbox"),
            models.Index(fields=["from_institution", "status"], name="referral_outbox"),
            models.Index(fields=["resident", "requested_at"], name="referral_resident"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(direction="out") | Q(to_institution__isnull=False),
                name="referral_in_county_has_receiver",
            ),
            models.CheckConstraint(
                condition=~Q(direction="out") | ~Q(destination=""),
                name="referral_out_has_destination",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.resident}"

    @property
    def destination_name(self) -> str:
        if self.direction == Direction.OUT:
            return self.destination
        dept = f" {self.to_department.name}" if self.to_department_id else ""
        return f"{self.to_institution}{dept}"

    @property
    def status_label(self) -> str:
        return status_label(self.direction, self.status)

    @property
    def audit_resident_id(self) -> int:
        return self.resident_id

    @property
    def audit_institution(self) -> Institution:
        return self.from_institution


def status_label(direction: str, status: str) -> str:
    """A state in the words of the direction: an out-of-county referral waits for approval,
    a downward one is taken over and the patient reports back."""
    if not status:
        return ""
    words = {
        (Direction.OUT, ReferralStatus.REQUESTED): _("Awaiting approval"),
        (Direction.DOWN, ReferralStatus.ACCEPTED): _("Taken over"),
        (Direction.DOWN, ReferralStatus.ARRIVED): _("Reported back"),
    }
    return str(words.get((direction, status), ReferralStatus(status).label))


class ReferralTransition(models.Model):
    """One move of a referral: who, when, from, to, why (architecture.md "State machines")."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=20, choices=ReferralStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=ReferralStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(db_index=True)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("referral transition")
        verbose_name_plural = _("referral transitions")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.referral_id}: {self.from_status} → {self.to_status}"

    @property
    def from_label(self) -> str:
        return status_label(self.referral.direction, self.from_status)

    @property
    def to_label(self) -> str:
        return status_label(self.referral.direction, self.to_status)


class CarePlan(models.Model):
    """The plan a downward referral hands to the grassroots (REF-01: acute/chronic separation):
    follow-up items, medicines, the next review date."""

    referral = models.OneToOneField(Referral, on_delete=models.CASCADE, related_name="care_plan")
    # [{"item": "血压", "frequency": "每周2次"}, …]
    follow_up_items = models.JSONField(_("follow-up items"), default=list, blank=True)
    # [{"name": "氨氯地平片", "dose": "5 mg", "frequency": "每日1次"}, …]
    medicines = models.JSONField(_("medicines"), default=list, blank=True)
    next_review_on = models.DateField(_("next review"), db_index=True)
    notes = models.TextField(_("notes"), blank=True)
    family_doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("family doctor"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="referral_care_plans",
    )

    class Meta:
        verbose_name = _("care plan")
        verbose_name_plural = _("care plans")

    def __str__(self) -> str:
        return f"{self.referral.number} → {self.next_review_on}"


class Notification(models.Model):
    """A hand-over message in the app: to an institution (whoever works there sees it) and,
    where known, to one person; about a referral or, for a booking made without one, an
    appointment (the hospital cancelled it, the session was called off)."""

    referral = models.ForeignKey(
        Referral, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    appointment = models.ForeignKey(
        "Appointment",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    institution = models.ForeignKey(
        Institution, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    message = models.CharField(_("message"), max_length=300)
    created_at = models.DateTimeField(db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    read_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("referral notification")
        verbose_name_plural = _("referral notifications")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["institution", "read_at"], name="referral_notice_inbox")]

    def __str__(self) -> str:
        return self.message


# --- Appointments -----------------------------------------------------------------------------
class ClinicSession(models.Model):
    """A specialist's clinic session (出诊): a department, a doctor, a day and hours, split into
    slots of equal length. The reserved share is copied from the policy when published."""

    department = models.ForeignKey(
        Department, verbose_name=_("department"), on_delete=models.PROTECT, related_name="sessions"
    )
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("doctor"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="clinic_sessions",
    )
    starts_at = models.DateTimeField(_("starts"), db_index=True)
    ends_at = models.DateTimeField(_("ends"))
    slot_minutes = models.PositiveSmallIntegerField(_("minutes per slot"))
    reserved_share = models.DecimalField(
        _("share reserved for family doctors"), max_digits=4, decimal_places=3
    )
    is_cancelled = models.BooleanField(_("cancelled"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )

    class Meta:
        verbose_name = _("clinic session")
        verbose_name_plural = _("clinic sessions")
        ordering = ["starts_at", "department_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="clinic_session_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.department} {self.starts_at:%Y-%m-%d %H:%M}"


class Slot(models.Model):
    """号源: one appointment time. ``reserved`` slots are for family doctors until the
    cut-off (REF-03)."""

    session = models.ForeignKey(ClinicSession, on_delete=models.CASCADE, related_name="slots")
    starts_at = models.DateTimeField(_("time"), db_index=True)
    reserved = models.BooleanField(_("reserved for family doctors"), default=False)

    class Meta:
        verbose_name = _("appointment slot")
        verbose_name_plural = _("appointment slots")
        ordering = ["starts_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["session", "starts_at"], name="slot_unique_time")
        ]

    def __str__(self) -> str:
        return f"{self.session.department} {self.starts_at:%Y-%m-%d %H:%M}"


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", _("Booked")
    ATTENDED = "attended", _("Attended")
    NO_SHOW = "no_show", _("No-show")
    CANCELLED = "cancelled", _("Cancelled")


# An appointment in these states holds its slot; a cancelled one frees it.
HOLDING_STATES = (AppointmentStatus.BOOKED, AppointmentStatus.ATTENDED, AppointmentStatus.NO_SHOW)


class Appointment(models.Model):
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="appointments")
    resident = models.ForeignKey(
        "residents.Resident",
        verbose_name=_("resident"),
        on_delete=models.PROTECT,
        related_name="appointments",
    )
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("booked by"),
        on_delete=models.PROTECT,
        related_name="appointments_booked",
    )
    booking_institution = models.ForeignKey(
        Institution,
        verbose_name=_("booked from"),
        on_delete=models.PROTECT,
        related_name="appointments_booked",
    )
    by_family_doctor = models.BooleanField(_("booked by a family doctor"), default=False)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=AppointmentStatus.choices,
        default=AppointmentStatus.BOOKED,
    )
    booked_at = models.DateTimeField(_("booked at"))
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.CharField(_("reason"), max_length=300, blank=True)

    scope_paths = (
        "resident__home_village",
        "booking_institution",
        "slot__session__department__institution",
    )

    class Meta:
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        ordering = ["slot__starts_at", "pk"]
        constraints = [
            # No double booking: one live appointment per slot, whatever the concurrency.
            models.UniqueConstraint(
                fields=["slot"],
                condition=Q(status__in=["booked", "attended", "no_show"]),
                name="appointment_one_per_slot",
            )
        ]

    def __str__(self) -> str:
        return f"{self.resident} @ {self.slot}"

    @property
    def audit_resident_id(self) -> int:
        return self.resident_id

    @property
    def audit_institution(self) -> Institution:
        return self.booking_institution
