"""The durable hand-off between the DICOM receiver and the index (issue 4; WH-02): a receipt
held by an indexer that died comes back when its lease ends, a failed one stays failed with
its error until someone sends it back, and a listener starting up indexes what was left."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.contrib.admin.sites import site
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.files.storage import default_storage
from django.test import RequestFactory
from django.utils import timezone

from countycare.imaging import indexer, services
from countycare.imaging.models import Instance, Receipt, ReceiptState
from tests.imaging.conftest import US_CINE, US_PALETTE, dicom_bytes, for_order

pytestmark = pytest.mark.django_db


def test_a_dead_indexers_receipts_come_back_when_its_lease_ends(devices, make_order):
    order = make_order(service="US-ABD")
    services.receive(dicom_bytes(US_CINE, **for_order(order)), device=devices["US"])
    assert indexer.claim("host:1:dead") != []  # an indexer took it and then died
    assert indexer.drain("host:2:alive") == 0  # held: nobody else takes it meanwhile
    later = timezone.now() + indexer.LEASE + dt.timedelta(seconds=1)
    assert indexer.claim("host:2:alive", now=later) != []
    Receipt.objects.update(available_at=timezone.now())  # (as if that time had come)
    assert indexer.drain("host:2:alive") == 1
    receipt = Receipt.objects.get()
    assert receipt.state == ReceiptState.INDEXED
    assert receipt.instance.series.study.order == order


def test_an_unreadable_file_fails_at_once_and_the_admin_sends_it_back(
    devices, make_order, admin_user
):
    order = make_order(service="US-ABD")
    outcome = services.receive(dicom_bytes(US_PALETTE, **for_order(order)), device=devices["US"])
    receipt = outcome.receipt
    kept = default_storage.open(receipt.file.name, "rb").read()
    default_storage.delete(receipt.file.name)  # the file went missing from storage
    assert indexer.drain() == 1
    receipt.refresh_from_db()
    assert receipt.state == ReceiptState.FAILED and "missing" in receipt.error
    assert not Instance.objects.exists()

    # The interface manager puts the file back and retries from the admin.
    default_storage.save(receipt.file.name, _file(kept))
    request = RequestFactory().post("/admin/imaging/receipt/")
    request.user = admin_user
    request.session = {}
    request._messages = FallbackStorage(request)
    model_admin = site._registry[Receipt]
    model_admin.retry(request, Receipt.objects.filter(pk=receipt.pk))
    assert indexer.drain() == 1
    receipt.refresh_from_db()
    assert receipt.state == ReceiptState.INDEXED and receipt.instance.series.study.order == order


def test_a_receipt_fails_after_the_last_retry(devices, monkeypatch):
    services.receive(dicom_bytes(US_PALETTE, PatientID="P1"), device=devices["US"])

    def broken(items):
        raise RuntimeError("index table locked")

    monkeypatch.setattr(indexer, "_write", broken)
    for _ in range(len(indexer.RETRY_DELAYS) + 1):
        Receipt.objects.filter(state=ReceiptState.PENDING).update(available_at=timezone.now())
        indexer.drain()
    receipt = Receipt.objects.get()
    assert receipt.state == ReceiptState.FAILED and "index table locked" in receipt.error
    assert receipt.attempts == len(indexer.RETRY_DELAYS) + 1


@pytest.mark.django_db(transaction=True)
def test_the_listeners_indexer_thread_indexes_what_was_left_at_start(devices, make_order):
    order = make_order(service="US-ABD")
    services.receive(dicom_bytes(US_CINE, **for_order(order)), device=devices["US"])
    assert indexer.pending() == 1  # received before the listener (and its indexer) stopped
    thread = indexer.IndexerThread(poll=0.1, quiet=0.0, max_delay=0.1)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while indexer.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        thread.stop()
    assert indexer.pending() == 0
    assert Instance.objects.get().series.study.order == order


def _file(data: bytes):
    from django.core.files.base import ContentFile

    return ContentFile(data)
