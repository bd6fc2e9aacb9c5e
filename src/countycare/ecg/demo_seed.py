"""The demo county's ECGs (issue 10): real 12-lead records attached to the live 12-lead ECG
orders (the demo village doctor's first, then the ECG center's queue), through the real
upload path (``telemed.attachments.add_attachment``: detection by content, storage, then the
pre-read task, triage and critical values), so the demo reader sees calibrated tracings and
drafts on real signals.

Records (``data/demo/``, see its README.md): LUDB 1 (sinus bradycardia), 112 (atrial
fibrillation), 21 (sinus rhythm, STEMI by the cardiologists) as ZIPs of their WFDB files;
the HL7 aECG example is in tests only; pydicom's bundled 12-lead DICOM waveform.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from django.utils.translation import gettext

from countycare.demo.steps import step

DEMO_DATA = Path(__file__).resolve().parent / "data" / "demo"


def _wfdb_zip(record: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for suffix in (".hea", ".dat"):
            zf.writestr(record + suffix, (DEMO_DATA / (record + suffix)).read_bytes())
    return buf.getvalue()


def _records() -> list[tuple[str, bytes]]:
    out = [(f"LUDB-{r}.zip", _wfdb_zip(r)) for r in ("1", "112", "21")]
    from pydicom.data import get_testdata_file

    path = get_testdata_file("waveform_ecg.dcm")  # None without pydicom's test files
    if path:
        out.append(("waveform_ecg.dcm", Path(path).read_bytes()))
    return out


@step("ecg", order=40)
def seed_ecgs(seed: int, *, traffic: bool) -> str:
    if not traffic:
        return "no traffic"
    from django.db.models import Case, IntegerField, Value, When

    from countycare.telemed.attachments import OPEN_STATES, add_attachment
    from countycare.telemed.models import AttachmentKind, ExamOrder

    orders = list(
        ExamOrder.objects.filter(service__code="ECG12", status__in=OPEN_STATES)
        .exclude(attachments__kind=AttachmentKind.ECG)
        .annotate(
            mine=Case(
                When(requested_by__username="village_doctor", then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("mine", "-created_at", "pk")
        .select_related("requested_by")[:8]
    )
    records = _records()
    attached = 0
    for i, order in enumerate(orders):
        name, data = records[(i + seed) % len(records)]
        add_attachment(order.requested_by, order.pk, io.BytesIO(data), name=name)
        attached += 1
    return gettext("%(n)s real ECG records on open 12-lead ECG orders (pre-read on commit)") % {
        "n": attached
    }
