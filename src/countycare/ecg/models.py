"""ECG recordings (issue 10): one per ECG attachment of a Walking Hospital order.

The samples live in file storage as ``Waveform.to_bytes()`` (never as JSON rows); the row holds
what lists and the worklist need: leads, sampling rate, length, the signal quality and the
automatic pre-read (a draft for the reader, never a signed result)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class PreReadStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


def recording_path(instance, filename: str) -> str:
    return f"ecg/{instance.order_id}/{instance.attachment_id}.npz"


class EcgRecording(models.Model):
    attachment = models.OneToOneField(
        "telemed.Attachment",
        verbose_name=_("attachment"),
        on_delete=models.CASCADE,
        related_name="ecg_recording",
    )
    order = models.ForeignKey(
        "telemed.ExamOrder",
        verbose_name=_("exam order"),
        on_delete=models.CASCADE,
        related_name="ecg_recordings",
    )
    leads = models.JSONField(_("leads"), default=list)
    fs = models.FloatField(_("sampling rate (Hz)"))
    n_samples = models.PositiveIntegerField(_("samples per lead"))
    duration_s = models.FloatField(_("duration (s)"))
    source_format = models.CharField(_("source format"), max_length=40, blank=True)
    acquired_at = models.DateTimeField(_("acquired"), null=True, blank=True)
    device = models.CharField(_("device"), max_length=200, blank=True)
    file = models.FileField(_("samples"), upload_to=recording_path, max_length=255)
    # Pre-read (draft): {"ok": bool, "reasons": [...], "leads": {lead: [reason codes]}}.
    quality = models.JSONField(_("signal quality"), default=dict, blank=True)
    heart_rate = models.FloatField(_("heart rate (bpm)"), null=True, blank=True)
    status = models.CharField(
        _("pre-read status"),
        max_length=10,
        choices=PreReadStatus.choices,
        default=PreReadStatus.PENDING,
    )
    triage_score = models.FloatField(_("triage score"), null=True, blank=True)
    priority = models.CharField(_("pre-read priority"), max_length=10, blank=True)
    # measure.Measurements.as_dict(): intervals, axis, beats used, per-lead values, fiducials.
    measurements = models.JSONField(_("measurements"), default=dict, blank=True)
    beats = models.JSONField(_("R peaks (samples)"), default=list, blank=True)
    statements = models.JSONField(_("statements"), default=list, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    analysed_at = models.DateTimeField(_("analysed"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    scope_paths = ("order__resident__home_village", "order__requesting_institution")

    class Meta:
        verbose_name = _("ECG recording")
        verbose_name_plural = _("ECG recordings")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"ECG {self.order_id}/{self.attachment_id} ({len(self.leads)} leads)"

    @property
    def audit_resident_id(self) -> int:
        return self.order.resident_id

    def waveform(self):
        from countycare.ecg.waveform import Waveform

        with self.file.open("rb") as fh:
            return Waveform.from_bytes(fh.read())
