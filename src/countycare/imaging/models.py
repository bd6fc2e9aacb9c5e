"""DICOM from the Walking Hospital's ultrasound kits and the township DR/ultrasound machines
(issue 4; WH-01, WH-02, WH-04, SHC-01/02, SHC-05).

A device is known by its calling AE title (``DeviceAE``, held by an institution); every
association it opens is logged (``Association``). What it stores is indexed as DICOM's own
hierarchy — ``Study`` → ``Series`` → ``Instance`` — with the file in the platform's file
storage. A study is matched to an exam order (telemed.ExamOrder) by accession number, then by
patient and date; an unmatched one waits in the reconciliation list until a person links it to
an order or rejects it. The SOP Instance UID is the natural key: the same instance sent twice
is stored once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from countycare.organizations.models import Institution


class DeviceAE(models.Model):
    """A device allowed to talk to the platform: its calling AE title and where it stands.
    Unknown AE titles are refused at association time."""

    ae_title = models.CharField(
        _("AE title"),
        max_length=16,
        unique=True,
        help_text=_("The device's own (calling) AE title: up to 16 letters, digits, _ or -."),
    )
    institution = models.ForeignKey(
        Institution,
        verbose_name=_("institution"),
        on_delete=models.PROTECT,
        related_name="dicom_devices",
    )
    modality = models.CharField(_("modality"), max_length=16, blank=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    scope_paths = ("institution",)

    class Meta:
        verbose_name = _("DICOM device")
        verbose_name_plural = _("DICOM devices")
        ordering = ["ae_title"]

    def __str__(self) -> str:
        return self.ae_title


class Association(models.Model):
    """One DICOM association (accepted or refused), for the interface log."""

    calling_ae = models.CharField(_("calling AE"), max_length=16)
    called_ae = models.CharField(_("called AE"), max_length=16, blank=True)
    peer = models.CharField(_("peer address"), max_length=64, blank=True)
    device = models.ForeignKey(
        DeviceAE, on_delete=models.SET_NULL, null=True, blank=True, related_name="associations"
    )
    accepted = models.BooleanField(_("accepted"), default=False)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    started_at = models.DateTimeField(_("started"), db_index=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    stored = models.PositiveIntegerField(_("instances stored"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicates"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    finds = models.PositiveIntegerField(_("worklist queries"), default=0)
    echoes = models.PositiveIntegerField(_("echoes"), default=0)

    class Meta:
        verbose_name = _("DICOM association")
        verbose_name_plural = _("DICOM associations")
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.calling_ae} → {self.called_ae} {self.started_at:%Y-%m-%d %H:%M:%S}"


class StudyStatus(models.TextChoices):
    MATCHED = "matched", _("Linked to an order")
    UNMATCHED = "unmatched", _("Waiting for reconciliation")
    REJECTED = "rejected", _("Rejected")


class MatchMethod(models.TextChoices):
    ACCESSION = "accession", _("Accession number")
    PATIENT_DATE = "patient_date", _("Patient and date")
    MANUAL = "manual", _("Linked by hand")


class Study(models.Model):
    """A DICOM study as received. ``patient_*`` keep what the device sent (the reconciliation
    list shows them); the resident is the order's."""

    study_instance_uid = models.CharField(_("Study Instance UID"), max_length=64, unique=True)
    order = models.ForeignKey(
        "telemed.ExamOrder",
        verbose_name=_("exam order"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="studies",
    )
    status = models.CharField(
        _("status"), max_length=20, choices=StudyStatus.choices, default=StudyStatus.UNMATCHED
    )
    match_method = models.CharField(
        _("matched by"), max_length=20, choices=MatchMethod.choices, blank=True
    )
    # Which shared center's readers reconcile it while it has no order (from the modality).
    center_kind = models.CharField(_("center kind"), max_length=20, blank=True)
    device = models.ForeignKey(
        DeviceAE,
        verbose_name=_("device"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="studies",
    )
    institution = models.ForeignKey(
        Institution,
        verbose_name=_("sending institution"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="dicom_studies",
    )
    accession_number = models.CharField(_("accession number"), max_length=16, blank=True)
    patient_id = models.CharField(_("patient ID (device)"), max_length=64, blank=True)
    patient_name = models.CharField(_("patient name (device)"), max_length=200, blank=True)
    patient_birth_date = models.DateField(_("birth date (device)"), null=True, blank=True)
    patient_sex = models.CharField(_("sex (device)"), max_length=16, blank=True)
    study_date = models.DateField(_("study date"), null=True, blank=True)
    study_time = models.TimeField(_("study time"), null=True, blank=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    modalities = models.CharField(_("modalities"), max_length=64, blank=True)
    received_at = models.DateTimeField(_("received"), db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    reconciled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reconciled_at = models.DateTimeField(null=True, blank=True)
    reject_reason = models.CharField(_("reason"), max_length=500, blank=True)

    scope_paths = ("order__resident__home_village", "order__requesting_institution", "institution")

    class Meta:
        verbose_name = _("DICOM study")
        verbose_name_plural = _("DICOM studies")
        ordering = ["-received_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "received_at"], name="imaging_study_status"),
            models.Index(fields=["accession_number"], name="imaging_study_accession"),
        ]

    def __str__(self) -> str:
        return f"{self.accession_number or self.study_instance_uid} {self.description}".strip()

    @property
    def audit_resident_id(self) -> int | None:
        return self.order.resident_id if self.order_id else None

    @property
    def audit_institution(self) -> Institution | None:
        return self.order.requesting_institution if self.order_id else self.institution


class Series(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="series")
    series_instance_uid = models.CharField(_("Series Instance UID"), max_length=64, unique=True)
    modality = models.CharField(_("modality"), max_length=16, blank=True)
    number = models.IntegerField(_("series number"), null=True, blank=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    body_part = models.CharField(_("body part"), max_length=64, blank=True)

    scope_paths = tuple(f"study__{p}" for p in Study.scope_paths)

    class Meta:
        verbose_name = _("DICOM series")
        verbose_name_plural = _("DICOM series")
        ordering = ["study_id", "number", "pk"]

    def __str__(self) -> str:
        return f"{self.modality} {self.number or ''} {self.description}".strip()


class InstanceKind(models.TextChoices):
    IMAGE = "image", _("Image")
    MULTIFRAME = "multiframe", _("Multi-frame image (cine)")
    REPORT = "sr", _("Structured report")
    ECG = "ecg", _("ECG waveform")


class Instance(models.Model):
    """One stored DICOM object (an image, a cine loop, an SR document, an ECG waveform).
    The file is the one the device sent, byte for byte after the file meta."""

    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="instances")
    sop_instance_uid = models.CharField(_("SOP Instance UID"), max_length=64, unique=True)
    sop_class_uid = models.CharField(_("SOP Class UID"), max_length=64)
    transfer_syntax_uid = models.CharField(_("transfer syntax"), max_length=64)
    kind = models.CharField(_("kind"), max_length=20, choices=InstanceKind.choices)
    number = models.IntegerField(_("instance number"), null=True, blank=True)
    frames = models.PositiveIntegerField(_("frames"), default=1)
    rows = models.PositiveIntegerField(default=0)
    columns = models.PositiveIntegerField(default=0)
    photometric = models.CharField(max_length=32, blank=True)
    # Millimetres per pixel [row spacing, column spacing] and where it came from
    # (PixelSpacing, ImagerPixelSpacing, an ultrasound region); empty: uncalibrated.
    pixel_spacing = models.JSONField(default=list, blank=True)
    spacing_source = models.CharField(max_length=40, blank=True)
    frame_time_ms = models.FloatField(null=True, blank=True)
    window = models.JSONField(default=list, blank=True)  # [center, width] from the device
    file = models.FileField(_("file"), upload_to="imaging/", max_length=255)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    sha256 = models.CharField(max_length=64)
    # Device AI findings (SR documents or the image's report fields), as structured rows.
    findings = models.JSONField(_("device findings"), default=dict, blank=True)
    # An ECG waveform is also the order's ECG attachment (the ECG app reads it).
    attachment = models.ForeignKey(
        "telemed.Attachment", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    association = models.ForeignKey(
        Association, on_delete=models.SET_NULL, null=True, blank=True, related_name="instances"
    )
    received_at = models.DateTimeField(_("received"))

    scope_paths = tuple(f"series__study__{p}" for p in Study.scope_paths)

    class Meta:
        verbose_name = _("DICOM instance")
        verbose_name_plural = _("DICOM instances")
        ordering = ["series_id", "number", "pk"]

    def __str__(self) -> str:
        return self.sop_instance_uid

    @property
    def is_image(self) -> bool:
        return self.kind in (InstanceKind.IMAGE, InstanceKind.MULTIFRAME)

    # The ingest sets ``_audit_place`` = (resident id, institution) from the row it read, so
    # the audit entry of a new instance costs no relation loads.
    @property
    def audit_resident_id(self) -> int | None:
        cached = getattr(self, "_audit_place", None)
        return cached[0] if cached else self.series.study.audit_resident_id

    @property
    def audit_institution(self):
        cached = getattr(self, "_audit_place", None)
        if cached:
            return cached[1] if cached[1].pk else None
        return self.series.study.audit_institution


class ReceiptState(models.TextChoices):
    PENDING = "pending", _("Waiting to be indexed")
    INDEXED = "indexed", _("Indexed")
    FAILED = "failed", _("Indexing failed")


class Receipt(models.Model):
    """One object a device sent, as the platform answered it: a C-STORE is answered success
    once the object's file is in file storage and this row is committed (one INSERT). The
    indexer (``imaging.indexer``) then reads the file and writes its Study/Series/Instance
    rows, matched to the order, in batches. The SOP Instance UID is unique here: the same
    instance sent twice is received once, whatever has been indexed yet.

    ``available_at``: when an indexer may take the row — its arrival; while an indexer
    holds it, the end of that indexer's lease (a crashed indexer's rows come back when it
    expires); after a failed attempt, the time of the retry."""

    sop_instance_uid = models.CharField(_("SOP Instance UID"), max_length=64, unique=True)
    sop_class_uid = models.CharField(_("SOP Class UID"), max_length=64)
    study_instance_uid = models.CharField(_("Study Instance UID"), max_length=64)
    file = models.FileField(_("file"), upload_to="imaging/", max_length=255)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    device = models.ForeignKey(
        DeviceAE, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    association = models.ForeignKey(
        Association, on_delete=models.SET_NULL, null=True, blank=True, related_name="receipts"
    )
    received_at = models.DateTimeField(_("received"), db_index=True)
    state = models.CharField(
        _("state"), max_length=16, choices=ReceiptState.choices, default=ReceiptState.PENDING
    )
    available_at = models.DateTimeField(_("available to the indexer at"))
    claimed_by = models.CharField(_("indexer"), max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.CharField(_("last error"), max_length=500, blank=True)
    indexed_at = models.DateTimeField(_("indexed"), null=True, blank=True)
    instance = models.OneToOneField(
        Instance, on_delete=models.SET_NULL, null=True, blank=True, related_name="receipt"
    )

    class Meta:
        verbose_name = _("DICOM receipt")
        verbose_name_plural = _("DICOM receipts")
        ordering = ["-received_at", "-pk"]
        indexes = [
            # The spool: only rows still waiting are in it, walked in arrival order.
            models.Index(
                fields=["id"],
                condition=models.Q(state="pending"),
                name="imaging_receipt_spool",
            ),
        ]

    def __str__(self) -> str:
        return self.sop_instance_uid
