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

# Statement code → the Observation code raised for it (critical rules match these codes;
# telemed's defaults have ECG:VT, ECG:ASYSTOLE, ECG:STEMI, ECG:LONG_PAUSE; migration 0003 adds
# ECG:HR and ECG:AFIB_RVR).
OBSERVATION_CODES = {"VTAC": "ECG:VT", "ASYST": "ECG:ASYSTOLE", "STEMI": "ECG:STEMI"}
PRIORITY_OF = {"critical": "stat", "urgent": "urgent"}


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


def run_preread(recording_id: int, *, force: bool = False) -> EcgRecording:
    """The pre-read of a stored recording. Idempotent: a task delivered twice (Celery
    ``acks_late`` redelivery, a retry) finds the pre-read done and changes nothing — no second
    set of Observations, no second critical alert. ``force`` runs it again (a new algorithm
    version), replacing its Observations."""
    rec = EcgRecording.objects.select_related("order", "order__resident").get(pk=recording_id)
    if rec.status == PreReadStatus.DONE and not force:
        return rec
    if force:
        Observation.objects.filter(order=rec.order, source=ObservationSource.PRE_READ).delete()
    resident = rec.order.resident
    # The sex- and age-specific criteria (V2–V3 ST elevation, Cornell voltage) need both.
    on = timezone.localtime(rec.acquired_at).date() if rec.acquired_at else timezone.localdate()
    try:
        result = preread.analyse(rec.waveform(), sex=resident.sex or None, age=resident.age_on(on))
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
        rec.priority = result.priority
        rec.measurements = result.measurements
        rec.beats = result.beats
        rec.statements = result.statements
        rec.status = PreReadStatus.DONE
        rec.analysed_at = timezone.now()
        rec.save(
            update_fields=[
                "quality", "heart_rate", "triage_score", "priority", "measurements", "beats",
                "statements", "status", "analysed_at",
            ]
        )  # fmt: skip
        order = rec.order
        if not result.quality.ok:
            telemed_services.auto_return(order.pk, return_reason(result.quality))
            return rec
        note = _triage_note(result)
        telemed_services.set_triage(
            order.pk, result.triage_score, note, priority=PRIORITY_OF.get(result.priority)
        )
        _observations(rec, result)
    return rec


def _triage_note(result: preread.PreRead) -> str:
    parts = [f"预判读（草稿）：{PRIORITY_ZH[result.priority]}"]
    if result.heart_rate_bpm is not None:
        parts.append(f"心率 {result.heart_rate_bpm:.0f} 次/分")
    parts += [preread.statement_name(s["code"]) for s in result.statements]
    return "；".join(parts)


PRIORITY_ZH = {"routine": "常规", "urgent": "异常", "critical": "危急"}


def _observations(rec: EcgRecording, result: preread.PreRead) -> list[Observation]:
    """The pre-read's findings as Observations (source pre_read) on the order, each checked
    against the critical-value rules so a critical ECG reaches the requester at once."""
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
    hr = result.heart_rate_bpm
    if hr is not None:
        low, high = preread.BRADY_BPM, preread.TACHY_BPM
        flag = Flag.LOW if hr < low else Flag.HIGH if hr > high else Flag.NORMAL
        rows.append(
            Observation.objects.create(
                code="ECG:HR", name="心率（心电图预判读）", value=Decimal(f"{hr:.1f}"),
                unit="/min", reference_low=Decimal(int(low)), reference_high=Decimal(int(high)),
                flag=flag, **common,
            )
        )  # fmt: skip
    m = result.measurements or {}
    for key, name in (("pr_ms", "PR间期"), ("qrs_ms", "QRS时限"), ("qt_ms", "QT间期"),
                      ("qtc_bazett_ms", "QTc（Bazett）"), ("qtc_fridericia_ms", "QTc（Fridericia）")):  # fmt: skip
        if m.get(key) is not None:
            rows.append(
                Observation.objects.create(
                    code=f"ECG:{key.upper().removesuffix('_MS')}", name=f"{name}（预判读）",
                    value=Decimal(f"{m[key]:.0f}"), unit="ms", flag=Flag.NORMAL, **common,
                )
            )  # fmt: skip
    codes = result.codes()
    findings: list[tuple[str, str, Decimal | None, str]] = []
    for statement in result.statements:
        code = statement["code"]
        if code in NORMAL_STATEMENTS:
            continue
        obs_code = OBSERVATION_CODES.get(code, f"ECG:{code}")
        value, unit = None, ""
        if code == "PAUSE":
            value, unit = Decimal(f"{result.longest_gap_s:.3f}"), "s"
            if result.longest_gap_s > preread.LONG_PAUSE_S:
                obs_code = "ECG:LONG_PAUSE"
        findings.append((obs_code, preread.statement_name(code), value, unit,
                         f"置信度 {statement['confidence']:.2f}"))  # fmt: skip
    if "AFIB" in codes and hr is not None and hr > preread.AF_RVR_BPM:
        findings.append(("ECG:AFIB_RVR", "心房颤动伴快速心室率", None, "", ""))
    for obs_code, name, value, unit, text in findings:
        rows.append(
            Observation.objects.create(
                code=obs_code, name=name, value=value, value_text="" if value is not None else text,
                unit=unit, flag=Flag.ABNORMAL, **common,
            )
        )  # fmt: skip
    for obs in rows:
        critical.check(obs, notify=order.requested_by, order=order)
    return rows


NORMAL_STATEMENTS = preread.NORMAL_CODES


def _aware(when):
    """Device clocks write local time without a zone (aECG, DICOM): read it as the county's."""
    if when is not None and timezone.is_naive(when):
        return timezone.make_aware(when)
    return when
