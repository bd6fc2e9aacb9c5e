"""The Walking Hospital: examine locally, diagnose centrally (seed 000; WH-, SHC- rules).

Shared centers at the lead hospital offer services (a catalog with fee and cost). At the
village a doctor opens a visit for a resident, records what the diagnostic kit measured
(observations) and sends an exam order with its attachments to a center. Readers claim
orders from the center's worklist, write and sign a report; the requester acknowledges it.
Critical values raise alerts that must be acknowledged. Every order transition is stored.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from countycare.organizations.models import Institution


class CenterKind(models.TextChoices):
    ECG = "ecg", _("Remote ECG center")
    ULTRASOUND = "ultrasound", _("Remote ultrasound center")
    IMAGING = "imaging", _("Imaging center")
    LAB = "lab", _("Lab center")
    OUTPATIENT = "outpatient", _("Remote outpatient center")
    PATHOLOGY = "pathology", _("Pathology center")


class SharedCenter(models.Model):
    """资源共享中心 (SHC-01, SHC-02): a center at the lead hospital that reads what the
    grassroots examine. Configured as data."""

    institution = models.ForeignKey(
        Institution,
        verbose_name=_("hospital"),
        on_delete=models.PROTECT,
        related_name="shared_centers",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=CenterKind.choices)
    name = models.CharField(_("name"), max_length=100)
    readers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("readers"),
        blank=True,
        related_name="reading_centers",
    )
    opens_at = models.TimeField(_("opens at"), null=True, blank=True)
    closes_at = models.TimeField(_("closes at"), null=True, blank=True)
    open_weekdays = models.CharField(
        _("open weekdays"),
        max_length=7,
        default="1234567",
        help_text=_("ISO weekdays the center reads, 1 = Monday … 7 = Sunday"),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("shared center")
        verbose_name_plural = _("shared centers")
        ordering = ["institution_id", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["institution", "kind"], name="shared_center_unique")
        ]

    def __str__(self) -> str:
        return self.name

    def is_open_at(self, local_dt) -> bool:
        """Open hours (None: round the clock)."""
        if str(local_dt.isoweekday()) not in self.open_weekdays:
            return False
        if self.opens_at is None or self.closes_at is None:
            return True
        t = local_dt.time()
        if self.opens_at <= self.closes_at:
            return self.opens_at <= t < self.closes_at
        return t >= self.opens_at or t < self.closes_at  # overnight


class Modality(models.TextChoices):
    ECG = "ecg", _("ECG")
    ULTRASOUND = "ultrasound", _("Ultrasound")
    DR = "dr", _("Digital radiography")
    LAB = "lab", _("Lab test")
    CONSULTATION = "consultation", _("Remote consultation")
    PATHOLOGY = "pathology", _("Pathology")


class Service(models.Model):
    """An item of a center's service catalog, with fee and cost for performance pay (WH-05)."""

    center = models.ForeignKey(
        SharedCenter, verbose_name=_("center"), on_delete=models.PROTECT, related_name="services"
    )
    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    modality = models.CharField(_("modality"), max_length=20, choices=Modality.choices)
    fee = models.DecimalField(_("fee (yuan)"), max_digits=10, decimal_places=2, default=Decimal(0))
    cost = models.DecimalField(
        _("cost (yuan)"), max_digits=10, decimal_places=2, default=Decimal(0)
    )
    # The report template: the structured findings a reader fills, e.g.
    # [{"key": "rhythm", "label": "节律"}, {"key": "rate", "label": "心率", "unit": "bpm"}].
    report_template = models.JSONField(_("report template"), default=list, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["center_id", "code"]

    def __str__(self) -> str:
        return self.name

    @property
    def balance(self) -> Decimal:
        return self.fee - self.cost


class Phrase(models.Model):
    """The phrase library readers insert into findings and impressions."""

    class Section(models.TextChoices):
        FINDINGS = "findings", _("Findings")
        IMPRESSION = "impression", _("Impression")

    center = models.ForeignKey(
        SharedCenter, verbose_name=_("center"), on_delete=models.CASCADE, related_name="phrases"
    )
    service = models.ForeignKey(
        Service,
        verbose_name=_("service"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="phrases",
    )
    section = models.CharField(_("section"), max_length=20, choices=Section.choices)
    text = models.CharField(_("text"), max_length=500)
    sort = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("phrase")
        verbose_name_plural = _("phrases")
        ordering = ["sort", "pk"]

    def __str__(self) -> str:
        return self.text


class VisitSetting(models.TextChoices):
    CLINIC = "clinic", _("At the village clinic")
    HOME = "home", _("At the resident's home")
    CIRCUIT = "circuit", _("At a circuit visit")
    TOWNSHIP = "township", _("At the township health center")


class Visit(models.Model):
    """A Walking Hospital visit: a village doctor examines a resident where the resident
    lives (WH-02) and records what the diagnostic kit measured."""

    resident = models.ForeignKey(
        "residents.Resident",
        verbose_name=_("resident"),
        on_delete=models.PROTECT,
        related_name="visits",
    )
    institution = models.ForeignKey(
        Institution,
        verbose_name=_("examining institution"),
        on_delete=models.PROTECT,
        related_name="visits",
    )
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("examined by"),
        on_delete=models.PROTECT,
        related_name="visits",
    )
    setting = models.CharField(
        _("where"), max_length=20, choices=VisitSetting.choices, default=VisitSetting.CLINIC
    )
    visited_at = models.DateTimeField(_("time"), db_index=True)
    complaint = models.CharField(_("chief complaint"), max_length=500, blank=True)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    scope_paths = ("resident__home_village", "institution")

    class Meta:
        verbose_name = _("Walking Hospital visit")
        verbose_name_plural = _("Walking Hospital visits")
        ordering = ["-visited_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.resident} · {self.visited_at:%Y-%m-%d %H:%M}"

    @property
    def audit_resident_id(self) -> int:
        return self.resident_id

    @property
    def audit_institution(self) -> Institution:
        return self.institution


class Flag(models.TextChoices):
    NORMAL = "N", _("Normal")
    LOW = "L", _("Low")
    HIGH = "H", _("High")
    CRITICAL_LOW = "LL", _("Critically low")
    CRITICAL_HIGH = "HH", _("Critically high")
    ABNORMAL = "A", _("Abnormal")


class ObservationSource(models.TextChoices):
    MANUAL = "manual", _("Entered by hand")
    DEVICE = "device", _("From a device")
    HL7 = "hl7", _("HL7 message")
    PRE_READ = "pre_read", _("Automatic pre-read")


class Observation(models.Model):
    """One measured value: a vital sign from the kit, a lab value, a pre-read finding.
    ``code`` is LOINC where one exists (vitals: see telemed.vitals)."""

    resident = models.ForeignKey(
        "residents.Resident",
        verbose_name=_("resident"),
        on_delete=models.PROTECT,
        related_name="observations",
    )
    visit = models.ForeignKey(
        Visit,
        verbose_name=_("visit"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="observations",
    )
    order = models.ForeignKey(
        "ExamOrder",
        verbose_name=_("exam order"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="observations",
    )
    code = models.CharField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=100)
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=4, null=True, blank=True)
    value_text = models.CharField(_("text value"), max_length=200, blank=True)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    reference_low = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    reference_high = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    flag = models.CharField(
        _("flag"), max_length=2, choices=Flag.choices, default=Flag.NORMAL, blank=True
    )
    is_critical = models.BooleanField(_("critical value"), default=False)
    source = models.CharField(
        _("source"),
        max_length=20,
        choices=ObservationSource.choices,
        default=ObservationSource.MANUAL,
    )
    observed_at = models.DateTimeField(_("observed at"), db_index=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    institution = models.ForeignKey(
        Institution,
        verbose_name=_("institution"),
        on_delete=models.PROTECT,
        related_name="observations",
    )

    scope_paths = ("resident__home_village", "institution")

    class Meta:
        verbose_name = _("observation")
        verbose_name_plural = _("observations")
        ordering = ["-observed_at", "pk"]
        indexes = [models.Index(fields=["resident", "code", "observed_at"])]

    def __str__(self) -> str:
        shown = self.value_text or (f"{self.value.normalize():f}" if self.value is not None else "")
        return f"{self.name} {shown} {self.unit}".strip()

    @property
    def audit_resident_id(self) -> int:
        return self.resident_id

    @property
    def audit_institution(self) -> Institution:
        return self.institution


class Priority(models.TextChoices):
    STAT = "stat", _("Stat")
    URGENT = "urgent", _("Urgent")
    ROUTINE = "routine", _("Routine")


PRIORITY_RANK = {Priority.STAT: 1, Priority.URGENT: 2, Priority.ROUTINE: 3}


class OrderStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    CLAIMED = "claimed", _("Being read")
    PRELIMINARY = "preliminary", _("Preliminary report")
    SIGNED = "signed", _("Signed")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    RETURNED = "returned", _("Returned")
    CANCELLED = "cancelled", _("Cancelled")


# States in which a reader holds the order under a lease.
HELD_STATES = (OrderStatus.CLAIMED, OrderStatus.PRELIMINARY)
# States a reader's worklist shows.
QUEUE_STATES = (OrderStatus.SUBMITTED, *HELD_STATES)


class ExamOrder(models.Model):
    """检查申请 — a request for a remote reading (FHIR ServiceRequest). Moves through
    :data:`OrderStatus` only by ``telemed.services`` (each move stored as an OrderTransition)."""

    accession_number = models.CharField(_("accession number"), max_length=32, unique=True)
    resident = models.ForeignKey(
        "residents.Resident",
        verbose_name=_("resident"),
        on_delete=models.PROTECT,
        related_name="exam_orders",
    )
    visit = models.ForeignKey(
        Visit,
        verbose_name=_("visit"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
    )
    service = models.ForeignKey(
        Service, verbose_name=_("service"), on_delete=models.PROTECT, related_name="orders"
    )
    center = models.ForeignKey(
        SharedCenter, verbose_name=_("center"), on_delete=models.PROTECT, related_name="orders"
    )
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.ROUTINE
    )
    priority_rank = models.PositiveSmallIntegerField(default=3, editable=False)
    clinical_question = models.TextField(_("clinical question"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.PROTECT,
        related_name="requested_orders",
    )
    requesting_institution = models.ForeignKey(
        Institution,
        verbose_name=_("requesting institution"),
        on_delete=models.PROTECT,
        related_name="requested_orders",
    )
    status = models.CharField(
        _("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.DRAFT
    )
    # Filled by a pre-read (the ECG app); higher is read sooner within a priority.
    triage_score = models.FloatField(_("triage score"), default=0)
    triage_note = models.CharField(_("triage note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reader"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="claimed_orders",
    )
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)
    lease_expires_at = models.DateTimeField(_("lease expires"), null=True, blank=True)
    signed_at = models.DateTimeField(_("signed"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acknowledged by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    status_reason = models.CharField(_("reason"), max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_paths = ("resident__home_village", "requesting_institution")

    class Meta:
        verbose_name = _("exam order")
        verbose_name_plural = _("exam orders")
        ordering = ["-created_at", "-pk"]
        indexes = [
            # claim_next: a center's queue in reading order, to the last key (pk), so finding
            # the next order reads one index entry and sorts nothing. Partial: orders being
            # read are not in it, so the walk does not step over them (it did: 4,000 held
            # orders cost 9 ms per claim).
            models.Index(
                fields=["center", "priority_rank", "-triage_score", "submitted_at", "id"],
                condition=Q(status="submitted"),
                name="exam_order_worklist",
            ),
            # The worklist page: a center's queued and held orders in reading order (the page
            # lists three statuses, which the index above cannot return in order).
            models.Index(
                fields=["center", "priority_rank", "-triage_score", "submitted_at", "id"],
                condition=Q(status__in=[s.value for s in QUEUE_STATES]),
                name="exam_order_queue",
            ),
            models.Index(fields=["resident", "created_at"], name="exam_order_resident"),
            # Leases running out: only orders being read (few), for claim_next and the sweeper.
            models.Index(
                fields=["lease_expires_at"],
                condition=Q(status__in=[s.value for s in HELD_STATES]),
                name="exam_order_lease",
            ),
            models.Index(fields=["signed_at"], name="exam_order_signed"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status__in=[s.value for s in HELD_STATES])
                | Q(claimed_by__isnull=False, lease_expires_at__isnull=False),
                name="exam_order_held_has_reader",
            )
        ]

    def __str__(self) -> str:
        return f"{self.accession_number} {self.service}"

    def save(self, *args, **kwargs):
        self.priority_rank = PRIORITY_RANK.get(self.priority, 3)
        if "update_fields" in kwargs and kwargs["update_fields"] is not None:
            fields = set(kwargs["update_fields"])
            if "priority" in fields:
                fields.add("priority_rank")
            kwargs["update_fields"] = fields
        super().save(*args, **kwargs)

    @property
    def audit_resident_id(self) -> int:
        return self.resident_id

    @property
    def audit_institution(self) -> Institution:
        return self.requesting_institution


class OrderTransition(models.Model):
    """One move of an order: who, when, from, to, why (architecture.md "State machines")."""

    order = models.ForeignKey(ExamOrder, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=20, choices=OrderStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=OrderStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    at = models.DateTimeField(db_index=True)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("order transition")
        verbose_name_plural = _("order transitions")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status} → {self.to_status}"


class AttachmentKind(models.TextChoices):
    PDF = "pdf", _("PDF document")
    JPEG = "jpeg", _("JPEG image")
    PNG = "png", _("PNG image")
    DICOM = "dicom", _("DICOM file")
    ECG = "ecg", _("ECG recording")
    OTHER = "other", _("Other")


def attachment_path(instance, filename: str) -> str:
    return f"telemed/{instance.order_id or 'visit-' + str(instance.visit_id)}/{instance.sha256}"


class Attachment(models.Model):
    """The exam itself as a file: a PDF, an image, a DICOM object, an ECG recording. Files go
    through Django storages (filesystem by default, S3-compatible in production)."""

    order = models.ForeignKey(
        ExamOrder,
        verbose_name=_("exam order"),
        on_delete=models.CASCADE,
        related_name="attachments",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=AttachmentKind.choices)
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=255)
    original_name = models.CharField(_("file name"), max_length=255, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    sha256 = models.CharField(max_length=64)
    # Identity of the object where the format has one (DICOM SOP Instance UID).
    external_uid = models.CharField(max_length=128, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)

    scope_paths = ("order__resident__home_village", "order__requesting_institution")

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["uploaded_at", "pk"]
        constraints = [
            # The same bytes attached twice to one order are stored once (retries).
            models.UniqueConstraint(fields=["order", "sha256"], name="attachment_unique_content")
        ]

    def __str__(self) -> str:
        return self.original_name or self.sha256[:12]

    @property
    def audit_resident_id(self) -> int:
        return self.order.resident_id

    @property
    def audit_institution(self) -> Institution:
        return self.order.requesting_institution


class SignedReportImmutable(Exception):
    """A signed report was about to change: amend it (a new version) instead."""

    def __init__(self, report) -> None:
        super().__init__(f"report {report.pk} is signed and cannot change; amend it instead")


class ReportStatus(models.TextChoices):
    PRELIMINARY = "preliminary", _("Preliminary")
    SIGNED = "signed", _("Signed")


class Report(models.Model):
    """报告 (FHIR DiagnosticReport). A signed version is immutable; an amendment is a new
    version with a reason. ``content_sha256`` is the SHA-256 of the canonical content
    (telemed.reports.canonical_content) at signing."""

    order = models.ForeignKey(
        ExamOrder, verbose_name=_("exam order"), on_delete=models.PROTECT, related_name="reports"
    )
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    status = models.CharField(
        _("status"), max_length=20, choices=ReportStatus.choices, default=ReportStatus.PRELIMINARY
    )
    findings = models.JSONField(_("findings"), default=dict, blank=True)
    findings_text = models.TextField(_("findings"), blank=True)
    impression = models.TextField(_("impression"), blank=True)
    is_abnormal = models.BooleanField(_("abnormal"), default=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("signed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="signed_reports",
    )
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True)
    content_sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    amendment_reason = models.CharField(_("reason for amendment"), max_length=500, blank=True)
    pdf = models.FileField(_("PDF"), upload_to="telemed/reports/", blank=True, max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_paths = ("order__resident__home_village", "order__requesting_institution")

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["order_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["order", "version"], name="report_unique_version")
        ]

    def __str__(self) -> str:
        return f"{self.order.accession_number} v{self.version}"

    def save(self, *args, **kwargs):
        if self.pk:
            stored = Report.objects.filter(pk=self.pk).values_list("status", flat=True).first()
            if stored == ReportStatus.SIGNED:
                raise SignedReportImmutable(self)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.status == ReportStatus.SIGNED:
            raise SignedReportImmutable(self)
        return super().delete(*args, **kwargs)

    @property
    def audit_resident_id(self) -> int:
        return self.order.resident_id

    @property
    def audit_institution(self) -> Institution:
        return self.order.requesting_institution


class CriticalRule(models.Model):
    """A configurable critical-value criterion: ``code`` below ``low`` or above ``high``
    (inclusive bounds as ``low_inclusive`` / ``high_inclusive`` say), or, for a finding
    without a number (a pre-read's "ventricular fibrillation"), any observation of the code."""

    code = models.CharField(_("code"), max_length=40, db_index=True)
    name = models.CharField(_("name"), max_length=100)
    low = models.DecimalField(_("below"), max_digits=12, decimal_places=4, null=True, blank=True)
    high = models.DecimalField(_("above"), max_digits=12, decimal_places=4, null=True, blank=True)
    low_inclusive = models.BooleanField(default=False)
    high_inclusive = models.BooleanField(default=True)
    match_any = models.BooleanField(
        _("any observation is critical"),
        default=False,
        help_text=_("For findings without a number, such as a critical ECG finding."),
    )
    message = models.CharField(_("message"), max_length=200)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("critical-value rule")
        verbose_name_plural = _("critical-value rules")
        ordering = ["code", "pk"]

    def __str__(self) -> str:
        return self.message


class AlertStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ESCALATED = "escalated", _("Escalated")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")


class CriticalAlert(models.Model):
    """危急值: raised for the requesting doctor and their township; must be acknowledged;
    escalates when it is not in time."""

    resident = models.ForeignKey(
        "residents.Resident", on_delete=models.PROTECT, related_name="critical_alerts"
    )
    observation = models.ForeignKey(
        Observation, on_delete=models.PROTECT, null=True, blank=True, related_name="alerts"
    )
    order = models.ForeignKey(
        ExamOrder, on_delete=models.PROTECT, null=True, blank=True, related_name="alerts"
    )
    rule = models.ForeignKey(CriticalRule, on_delete=models.PROTECT, null=True, blank=True)
    message = models.CharField(_("message"), max_length=300)
    value_shown = models.CharField(_("value"), max_length=100, blank=True)
    notify = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("doctor to notify"),
        on_delete=models.PROTECT,
        related_name="critical_alerts",
    )
    institution = models.ForeignKey(
        Institution,
        verbose_name=_("institution"),
        on_delete=models.PROTECT,
        related_name="critical_alerts",
    )
    township = models.ForeignKey(
        Institution, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=20, choices=AlertStatus.choices, default=AlertStatus.OPEN
    )
    raised_at = models.DateTimeField(_("raised"), db_index=True)
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action_taken = models.CharField(_("action taken"), max_length=500, blank=True)

    scope_paths = ("resident__home_village", "institution")

    class Meta:
        verbose_name = _("critical-value alert")
        verbose_name_plural = _("critical-value alerts")
        ordering = ["-raised_at", "-pk"]
        indexes = [models.Index(fields=["status", "raised_at"], name="critical_alert_open")]

    def __str__(self) -> str:
        return self.message

    @property
    def audit_resident_id(self) -> int:
        return self.resident_id

    @property
    def audit_institution(self) -> Institution:
        return self.institution


class PayRole(models.TextChoices):
    EXAMINER = "examiner", _("Examining staff")
    READER = "reader", _("Reader")
    EXAMINING_INSTITUTION = "examining_institution", _("Examining institution")
    READING_INSTITUTION = "reading_institution", _("Reading hospital")


class PerformanceCredit(models.Model):
    """WH-05: a signed service's balance (fee − cost) split by the policy shares, written
    once when the first version is signed. Monthly statements aggregate these rows."""

    order = models.ForeignKey(ExamOrder, on_delete=models.PROTECT, related_name="credits")
    role = models.CharField(max_length=30, choices=PayRole.choices)
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="+")
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    fee = models.DecimalField(max_digits=10, decimal_places=2)
    cost = models.DecimalField(max_digits=10, decimal_places=2)
    share = models.DecimalField(max_digits=5, decimal_places=4)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    month = models.DateField(db_index=True)  # first day of the month of signing
    created_at = models.DateTimeField(auto_now_add=True)

    scope_paths = ("institution",)

    class Meta:
        verbose_name = _("performance credit")
        verbose_name_plural = _("performance credits")
        constraints = [
            models.UniqueConstraint(fields=["order", "role"], name="performance_credit_unique")
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.get_role_display()} {self.amount}"
