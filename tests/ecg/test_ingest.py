"""An ECG uploaded to a Walking Hospital order is stored, pre-read and triaged (issue 10)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from countycare.ecg.models import EcgRecording, PreReadStatus
from countycare.telemed.attachments import add_attachment
from countycare.telemed.models import CriticalAlert, ExamOrder, Observation, OrderStatus
from tests.ecg.test_preread import LEADS, synth

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parent.parent / "data" / "ecg"


def _json_upload(wf) -> io.BytesIO:
    doc = {
        "fs": wf.fs,
        "leads": {
            n: [round(float(v)) for v in r] for n, r in zip(wf.leads, wf.samples, strict=True)
        },
    }
    return io.BytesIO(json.dumps(doc).encode())


def _upload(actor, order, fileobj, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        att, created = add_attachment(actor, order.pk, fileobj)
    assert created and att.kind == "ecg"
    return att


def test_real_aecg_upload_is_stored_pre_read_and_triaged(
    make_order, village_doctor, django_capture_on_commit_callbacks
):
    order = make_order()
    data = (DATA / "hl7_example_aecg.xml").read_bytes()
    att = _upload(village_doctor, order, io.BytesIO(data), django_capture_on_commit_callbacks)
    rec = EcgRecording.objects.get(attachment=att)
    assert rec.status == PreReadStatus.DONE
    assert rec.leads[:2] == ["I", "II"] and rec.fs == 500 and rec.duration_s == 10.0
    assert 60 <= rec.heart_rate <= 100
    assert rec.quality["ok"] is True
    assert rec.waveform().n_samples == rec.n_samples  # the samples are in storage
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED
    assert order.triage_score == pytest.approx(rec.triage_score)
    assert "心率" in order.triage_note
    hr = Observation.objects.get(order=order, code="ECG:HR")
    assert hr.source == "pre_read" and float(hr.value) == pytest.approx(rec.heart_rate)
    assert not CriticalAlert.objects.filter(order=order).exists()


def test_flat_lead_returns_the_order_with_the_reason(
    make_order, village_doctor, django_capture_on_commit_callbacks
):
    order = make_order()
    wf = synth(list(np.arange(0.4, 9.8, 0.85)))
    wf.samples[LEADS.index("V3")] = 0.0
    _upload(village_doctor, order, _json_upload(wf), django_capture_on_commit_callbacks)
    order.refresh_from_db()
    assert order.status == OrderStatus.RETURNED
    assert order.status_reason == "心电图信号质量差：V3导联无信号（直线），请重新采集"
    last = order.transitions.order_by("-pk").first()
    assert last.actor is None and last.to_status == OrderStatus.RETURNED
    assert not Observation.objects.filter(order=order).exists()


def test_long_pause_raises_a_critical_alert_to_the_requester(
    make_order, village_doctor, django_capture_on_commit_callbacks
):
    order = make_order()
    wf = synth([0.5, 1.3, 2.1, 2.9, 6.3, 7.1, 7.9, 8.7, 9.5])  # a 3.4 s pause (synthetic)
    _upload(village_doctor, order, _json_upload(wf), django_capture_on_commit_callbacks)
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED
    assert order.triage_score >= 0.9
    alert = CriticalAlert.objects.get(order=order)
    assert alert.rule.code == "ECG:LONG_PAUSE"
    assert alert.notify == village_doctor


def test_critical_ecg_is_read_before_a_normal_one(
    make_order, village_doctor, django_capture_on_commit_callbacks
):
    normal = make_order()
    _upload(
        village_doctor, normal, _json_upload(synth(list(np.arange(0.4, 9.8, 0.85)))),
        django_capture_on_commit_callbacks,
    )  # fmt: skip
    paused = make_order()
    _upload(
        village_doctor, paused, _json_upload(synth([0.5, 1.3, 2.1, 2.9, 6.3, 7.1, 7.9, 8.7])),
        django_capture_on_commit_callbacks,
    )  # fmt: skip
    scores = dict(
        ExamOrder.objects.filter(pk__in=[normal.pk, paused.pk]).values_list("pk", "triage_score")
    )
    assert scores[paused.pk] > scores[normal.pk]


def test_flat_lead_on_a_draft_order_comes_back_before_it_is_submitted(
    make_order, village_doctor, django_capture_on_commit_callbacks
):
    """The no-orphan upload flow (draft → upload → submit): the re-acquire message reaches the
    village doctor while still with the patient, and the order can be resubmitted."""
    from countycare.telemed import services

    order = make_order(submit=False)
    wf = synth(list(np.arange(0.4, 9.8, 0.85)))
    wf.samples[LEADS.index("V3")] = 0.0
    _upload(village_doctor, order, _json_upload(wf), django_capture_on_commit_callbacks)
    order.refresh_from_db()
    assert order.status == OrderStatus.RETURNED and "V3" in order.status_reason
    services.resubmit(village_doctor, order.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED


def test_critical_ecg_jumps_the_queue_as_stat(
    make_order, village_doctor, django_capture_on_commit_callbacks
):
    """Issue 10 triage (WH-07): a critical pre-read makes the order stat, so it is read before
    urgent orders sent earlier; a normal ECG stays routine; nothing lowers a priority."""
    from countycare.telemed.services import READING_ORDER

    urgent = make_order(priority="urgent")
    normal = make_order()
    _upload(
        village_doctor, normal, _json_upload(synth(list(np.arange(0.4, 9.8, 0.85)))),
        django_capture_on_commit_callbacks,
    )  # fmt: skip
    paused = make_order()
    _upload(
        village_doctor, paused, _json_upload(synth([0.5, 1.3, 2.1, 2.9, 6.3, 7.1, 7.9, 8.7])),
        django_capture_on_commit_callbacks,
    )  # fmt: skip
    queue = list(
        ExamOrder.objects.filter(pk__in=[urgent.pk, normal.pk, paused.pk])
        .order_by(*READING_ORDER)
        .values_list("pk", "priority")
    )
    assert queue[0] == (paused.pk, "stat")
    assert queue[1] == (urgent.pk, "urgent")
    rec = EcgRecording.objects.get(order=paused)
    assert rec.priority == "critical" and rec.measurements["rr_ms"] > 0


def _window_json(record: str, start: float, end: float) -> io.BytesIO:
    """A 10 s window of a real CPSC 2021 Holter record in the documented JSON layout (what a
    2-lead kit exporting samples would send)."""
    from countycare.ecg.evaluation import read_path

    wf = read_path(f"{DATA / record}.hea#t={start:g},{end:g}")
    return _json_upload(wf)


def test_real_af_with_rapid_response_jumps_the_queue_and_raises_a_critical_value(
    make_order, village_doctor, django_capture_on_commit_callbacks
):
    """Issue 10 triage on a real record: CPSC 2021 data_101_8, 50–60 s — atrial fibrillation
    by its annotations, ~139 bpm (AF with rapid response, critical). Sent after a routine
    ECG (LUDB record 1, sinus bradycardia: abnormal → urgent) and an urgent order, it is read
    first, as stat,
    and the requesting village doctor gets the critical value."""
    from countycare.telemed.services import READING_ORDER

    urgent = make_order(priority="urgent")
    routine = make_order()
    ludb = {n: (DATA / n).read_bytes() for n in ("1.hea", "1.dat")}
    zipped = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(zipped, "w") as zf:
        for name, data in ludb.items():
            zf.writestr(name, data)
    zipped.seek(0)
    _upload(village_doctor, routine, zipped, django_capture_on_commit_callbacks)
    af = make_order()
    _upload(village_doctor, af, _window_json("data_101_8", 50, 60),
            django_capture_on_commit_callbacks)  # fmt: skip
    rec = EcgRecording.objects.get(order=af)
    assert rec.quality["ok"] and rec.priority == "critical"
    assert "AFIB" in {s["code"] for s in rec.statements} and rec.heart_rate > 110
    queue = list(
        ExamOrder.objects.filter(pk__in=[urgent.pk, routine.pk, af.pk])
        .order_by(*READING_ORDER)
        .values_list("pk", flat=True)
    )
    assert queue[0] == af.pk  # stat; the bradycardia became urgent (abnormal) too
    alert = CriticalAlert.objects.get(order=af)
    assert alert.rule.code == "ECG:AFIB_RVR" and alert.notify == village_doctor
    assert not CriticalAlert.objects.filter(order=routine).exists()


def test_the_pre_read_is_a_draft_never_a_signed_result(
    make_order, village_doctor, center_reader, web, django_capture_on_commit_callbacks
):
    """The pre-read fills the triage and the draft panel; it never creates or signs a report,
    and every place that shows it says it is an automatic draft."""
    from django.utils import translation

    from countycare.telemed import panels
    from countycare.telemed.models import Report

    order = make_order()
    _upload(village_doctor, order, io.BytesIO((DATA / "hl7_example_aecg.xml").read_bytes()),
            django_capture_on_commit_callbacks)  # fmt: skip
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED and not Report.objects.filter(order=order).exists()
    assert order.triage_note.startswith("预判读（草稿）")
    with translation.override("zh-hans"):
        page = web(center_reader).get(f"/telemed/orders/{order.pk}/read/").content.decode()
        pdf_html = "".join(panels.render(order, "pdf"))
    assert "AI自动预判读（草稿，非签发报告）" in page
    assert "AI自动预判读（草稿）" in pdf_html
    assert all(o.source == "pre_read" for o in Observation.objects.filter(order=order))


def test_a_redelivered_pre_read_task_changes_nothing(
    make_order, village_doctor, django_capture_on_commit_callbacks
):
    """Celery may deliver ``ecg.preread`` twice (acks_late): the second run finds the pre-read
    done — no duplicate Observations, no second critical alert."""
    from countycare.ecg import tasks

    order = make_order()
    wf = synth([0.5, 1.3, 2.1, 2.9, 6.3, 7.1, 7.9, 8.7, 9.5])  # a 3.4 s pause (synthetic)
    _upload(village_doctor, order, _json_upload(wf), django_capture_on_commit_callbacks)
    rec = EcgRecording.objects.get(order=order)
    before = (Observation.objects.filter(order=order).count(),
              CriticalAlert.objects.filter(order=order).count())  # fmt: skip
    tasks.preread.delay(rec.pk)
    after = (Observation.objects.filter(order=order).count(),
             CriticalAlert.objects.filter(order=order).count())  # fmt: skip
    assert before == after and before[1] == 1
