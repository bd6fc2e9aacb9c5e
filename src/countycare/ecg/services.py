"""ECG ingest and pre-read (issue 10).

``ingest(attachment)`` parses an ECG attachment (``formats.read``), stores its samples as
``Waveform.to_bytes()`` in file storage with an ``EcgRecording`` row, and schedules the
pre-read (``tasks.preread``, Celery; eager in the embedded default). ``run_preread`` then:

- poor signal quality → the order goes straight back to the village doctor
  (``telemed.services.auto_return``) with the reason in Chinese, e.g.
  "心电图信号质量差：V3导联脱落，请重新采集";
- otherwise → the worklist triage score (``telemed.services.set_triage``) and the findings
  as Observations (source ``pre_read``): ``ECG:HR`` with the rate, ``ECG:LONG_PAUSE`` /
  ``ECG:ASYSTOLE`` when found, checked by ``telemed.critical`` so the critical value reaches
  the requester.

Hooked to new ECG attachments by ``signals.py`` (post_save, after commit); telemed itself
knows nothing of this app.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from countycare.core import audit
from countycare.core.errors import ValidationError
from countycare.ecg import formats, preread
from countycare.ecg.models import EcgRecording, PreReadStatus
from countycare.telemed import critical
from countycare.telemed import services as telemed_services
from countycare.telemed.models import (
    Attachment,
    AttachmentKind,
    Flag,
    Observation,
    ObservationSource,
)

log = logging.getLogger(__name__)

# Pre-read statements that become Observations (code → (name, critical rule code or "")).
FINDINGS = {
    "LONG_PAUSE": ("长RR间期（>3秒）", "ECG:LONG_PAUSE"),
    "ASYSTOLE": ("心搏停止", "ECG:ASYSTOLE"),
    "PAUSE": ("RR长间歇（>2秒）", "ECG:PAUSE"),
    "BRADY": ("心动过缓", "ECG:BRADY"),
    "TACHY": ("心动过速", "ECG:TACHY"),
    "IRREGULAR": ("RR间期不规则", "ECG:IRREGULAR"),
}


def return_reason(quality: preread.Quality) -> str:
    return "心电图信号质量差：" + "；".join(quality.reasons) + "，请重新采集"


def ingest(attachment: Attachment) -> EcgRecording | None:
    """Store the recording of an ECG attachment and run (or queue) its pre-read. Idempotent:
    a second call for the same attachment returns the existing recording."""
    if attachment.kind != AttachmentKind.ECG:
        return None
    existing = EcgRecording.objects.filter(attachment=attachment).first()
    if existing is not None:
        return existing
    with attachment.file.open("rb") as fh:
        data = fh.read()
    try:
        wf = formats.read(data)
    except ValidationError as exc:  # accepted by detection, so this should not happen
        log.warning("ECG attachment %s unreadable: %s", attachment.pk, exc)
        return None
    with transaction.atomic():
        rec = EcgRecording(
            attachment=attachment, order_id=attachment.order_id, leads=list(wf.leads),
            fs=wf.fs, n_samples=wf.n_samples, duration_s=round(wf.duration, 3),
            source_format=wf.source_format[:40], acquired_at=_aware(wf.acquired_at),
            device=(wf.device or "")[:200],
        )  # fmt: skip
        rec.file.save(f"{attachment.pk}.npz", ContentFile(wf.to_bytes()), save=False)
        rec.save()
        audit.log("create", actor=None, obj=rec, detail={"leads": len(wf.leads)})
    from countycare.ecg import tasks

    transaction.on_commit(lambda: tasks.preread.delay(rec.pk))
    return rec


def run_preread(recording_id: int) -> EcgRecording:
    rec = EcgRecording.objects.select_related("order", "order__resident").get(pk=recording_id)
    try:
        result = preread.analyse(rec.waveform())
    except Exception as exc:
        rec.status = PreReadStatus.FAILED
        rec.error = str(exc)[:500]
        rec.analysed_at = timezone.now()
        rec.save(update_fields=["status", "error", "analysed_at"])
        log.exception("ECG pre-read failed for recording %s", recording_id)
        return rec
    with transaction.atomic():
        rec.quality = result.quality.as_dict()
        rec.heart_rate = result.heart_rate_bpm
        rec.triage_score = result.triage_score
        rec.statements = result.statements
        rec.status = PreReadStatus.DONE
        rec.analysed_at = timezone.now()
        rec.save(
            update_fields=[
                "quality", "heart_rate", "triage_score", "statements", "status", "analysed_at",
            ]
        )  # fmt: skip
        order = rec.order
        if not result.quality.ok:
            telemed_services.auto_return(order.pk, return_reason(result.quality))
            return rec
        note = _triage_note(result)
        telemed_services.set_triage(order.pk, result.triage_score, note)
        _observations(rec, result)
    return rec


def _triage_note(result: preread.PreRead) -> str:
    parts = [f"预判读（草稿）：{result.priority}"]
    if result.heart_rate_bpm is not None:
        parts.append(f"心率 {result.heart_rate_bpm:.0f} 次/分")
    parts += [s["code"] for s in result.statements]
    return "；".join(parts)


def _observations(rec: EcgRecording, result: preread.PreRead) -> list[Observation]:
    order = rec.order
    observed_at = rec.acquired_at or rec.analysed_at
    common = {
        "resident_id": order.resident_id,
        "order": order,
        "source": ObservationSource.PRE_READ,
        "observed_at": observed_at,
        "recorded_by": None,
        "institution_id": order.requesting_institution_id,
    }
    rows = []
    if result.heart_rate_bpm is not None:
        hr = result.heart_rate_bpm
        flag = Flag.LOW if hr < preread.BRADY_BPM else Flag.HIGH if hr > preread.TACHY_BPM else ""
        rows.append(
            Observation.objects.create(
                code="ECG:HR",
                name="心率（心电图预判读）",
                value=Decimal(f"{hr:.1f}"),
                unit="/min",
                reference_low=Decimal(int(preread.BRADY_BPM)),
                reference_high=Decimal(int(preread.TACHY_BPM)),
                flag=flag or Flag.NORMAL,
                **common,
            )
        )
    for statement in result.statements:
        name, code = FINDINGS.get(statement["code"], (statement["code"], ""))
        if not code:
            continue
        value = (
            result.longest_gap_s
            if statement["code"] in ("LONG_PAUSE", "ASYSTOLE", "PAUSE")
            else None
        )
        rows.append(
            Observation.objects.create(
                code=code,
                name=name,
                value=Decimal(f"{value:.3f}") if value is not None else None,
                value_text="" if value is not None else f"置信度 {statement['confidence']:.2f}",
                unit="s" if value is not None else "",
                flag=Flag.ABNORMAL,
                **common,
            )
        )
    for obs in rows:
        critical.check(obs, notify=order.requested_by, order=order)
    return rows


def _aware(when):
    """Device clocks write local time without a zone (aECG, DICOM): read it as the county's."""
    if when is not None and timezone.is_naive(when):
        return timezone.make_aware(when)
    return when
