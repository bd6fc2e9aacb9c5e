"""The ECG sweep (issue 10; celery beat ``ecg.sweep``): an ECG attachment whose after-commit
ingest was lost (the process died between the commit and the callback) is ingested and
pre-read by the next sweep; a pre-read left pending is queued again; fresh uploads are left
to their own callback."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.utils import timezone

from countycare.ecg import services
from countycare.ecg.models import EcgRecording, PreReadStatus
from countycare.telemed.attachments import add_attachment
from countycare.telemed.models import Attachment
from tests.ecg.helpers import wfdb_zip

pytestmark = pytest.mark.django_db


@pytest.fixture
def lost_upload(make_order, village_doctor, settings, tmp_path, django_capture_on_commit_callbacks):
    """An ECG upload whose after-commit callbacks never ran."""
    settings.MEDIA_ROOT = tmp_path
    order = make_order()
    with django_capture_on_commit_callbacks(execute=False):
        att, created = add_attachment(village_doctor, order.pk, io.BytesIO(wfdb_zip("1")))
    assert created and not EcgRecording.objects.filter(attachment=att).exists()
    return att


def test_a_lost_ingest_is_done_by_the_next_sweep(lost_upload, django_capture_on_commit_callbacks):
    later = lost_upload.uploaded_at + dt.timedelta(minutes=2)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.sweep(now=later) == {"ingested": 1, "requeued": 0}
    rec = EcgRecording.objects.get(attachment=lost_upload)
    assert rec.status == PreReadStatus.DONE and rec.heart_rate
    # Once done, the next sweeps find nothing.
    assert services.sweep(now=later) == {"ingested": 0, "requeued": 0}


def test_a_fresh_upload_is_left_to_its_own_callback(lost_upload):
    just_after = lost_upload.uploaded_at + dt.timedelta(seconds=10)
    assert services.sweep(now=just_after) == {"ingested": 0, "requeued": 0}
    assert not EcgRecording.objects.filter(attachment=lost_upload).exists()


def test_an_old_orphan_is_past_the_window(lost_upload):
    Attachment.objects.filter(pk=lost_upload.pk).update(
        uploaded_at=timezone.now() - dt.timedelta(days=3)
    )
    assert services.sweep() == {"ingested": 0, "requeued": 0}


def test_a_pre_read_left_pending_is_queued_again(lost_upload, django_capture_on_commit_callbacks):
    # The recording was stored but its pre-read task never ran.
    with django_capture_on_commit_callbacks(execute=False):
        rec = services.ingest(lost_upload)
    assert rec.status == PreReadStatus.PENDING
    soon = lost_upload.uploaded_at + dt.timedelta(minutes=5)
    assert services.sweep(now=soon) == {"ingested": 0, "requeued": 0}  # may still be running
    later = lost_upload.uploaded_at + dt.timedelta(minutes=11)
    assert services.sweep(now=later) == {"ingested": 0, "requeued": 1}
    rec.refresh_from_db()
    assert rec.status == PreReadStatus.DONE
