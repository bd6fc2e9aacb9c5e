"""The indexer (issue 4; WH-02, WH-04): receipts → Study / Series / Instance rows, matched to
their exam orders, in batches.

The listener answers a C-STORE once the file is in storage and its ``Receipt`` committed
(:func:`countycare.imaging.services.receive`); the index follows here, off the device's
time. Who runs it:

- embedded default (no Celery broker): a thread in each ``countycare dicom-listen`` process
  (:class:`IndexerThread`), woken by every receipt, that also looks every few seconds for
  work nobody holds — receipts left by a listener that stopped, leases that expired,
  retries that are due — and does so first thing when the listener starts;
- with a broker: the Celery task ``imaging.index_receipts`` (sent by the listener as
  receipts arrive, and every minute by celery beat for the same recovery).

Nothing assumes a single process: any number of listeners and workers may index the same
database. An indexer claims a batch of receipts under a lease (``available_at`` moves to the
lease's end, ``claimed_by`` names the indexer) — on PostgreSQL with ``SELECT … FOR UPDATE
SKIP LOCKED``, so concurrent indexers take different rows without waiting; on SQLite the
claim's write transaction is exclusive (BEGIN IMMEDIATE). A batch is written in one
transaction; should it fail (two indexers creating the same study at the same moment, one
bad object), each instance is written in its own transaction, so one instance never holds
back the others. Either way an instance is indexed whole — its series and study, its
receipt marked indexed, its audit entry — or not at all.

A receipt whose indexing failed keeps the error and is retried later (30 s, 2 min, 10 min,
1 h), then left as failed for the interface manager (Django admin → DICOM receipts: retry).
A receipt whose file is missing or unreadable fails at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass

from django.db import close_old_connections, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from countycare.core import audit
from countycare.imaging import dicom, services
from countycare.imaging.models import Instance, InstanceKind, Receipt, ReceiptState, Series, Study

log = logging.getLogger("countycare.imaging.indexer")

BATCH = 50
LEASE = dt.timedelta(minutes=2)
RETRY_DELAYS = (
    dt.timedelta(seconds=30),
    dt.timedelta(minutes=2),
    dt.timedelta(minutes=10),
    dt.timedelta(hours=1),
)
POLL_SECONDS = 5.0
QUIET_SECONDS = 0.3
MAX_DELAY_SECONDS = 3.0


def worker_name() -> str:
    """This indexer's name in ``Receipt.claimed_by``: host, process, a token of its own."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# --- claiming --------------------------------------------------------------------------------
def claim(worker: str, *, limit: int = BATCH, ids=None, now=None) -> list[int]:
    """Take up to ``limit`` receipts nobody holds (oldest first) under a lease for
    ``worker``: their ids. ``ids``: only among these (``services.store``)."""
    now = now or timezone.now()
    with transaction.atomic():
        qs = Receipt.objects.filter(state=ReceiptState.PENDING, available_at__lte=now)
        if ids is not None:
            qs = qs.filter(pk__in=list(ids))
        qs = qs.order_by("pk")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        picked = list(qs.values_list("pk", flat=True)[:limit])
        if picked:
            Receipt.objects.filter(pk__in=picked).update(
                claimed_by=worker, available_at=now + LEASE, attempts=F("attempts") + 1
            )
    return picked


# --- indexing --------------------------------------------------------------------------------
class _Unusable(Exception):
    """The receipt's file cannot be indexed, now or later (missing, not DICOM)."""


@dataclass
class _Item:
    receipt: Receipt
    facts: dicom.Facts
    findings: dict
    sha256: str
    instance_id: int | None = None


def _prepare(receipt: Receipt) -> _Item:
    """Read a receipt's file (outside any transaction): its header facts, device findings,
    SHA-256. The pixel data are not decoded."""
    try:
        fh = receipt.file.open("rb")
    except (FileNotFoundError, OSError) as exc:
        raise _Unusable(f"the file is missing from storage: {exc}") from None
    with fh:
        digest = hashlib.sha256()
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
        fh.seek(0)
        try:
            header = dicom.read_header(fh)
            f = dicom.facts(header.dataset, has_pixels=header.has_pixels)
        except dicom.DatasetProblem as problem:
            raise _Unusable(problem.reason) from None
    try:
        document = services.findings_of(header.dataset, f)
    except Exception as exc:  # a broken SR content tree: keep the object, say so in the log
        log.warning("findings of %s unreadable: %s", f.sop_instance_uid, exc)
        document = {}
    return _Item(receipt, f, document, digest.hexdigest())


def _write(items: list[_Item]) -> None:
    """The index rows of prepared receipts (in the caller's transaction): studies (created
    and matched for a study's first instance), series, instances, one audit entry per study
    naming its new instances, ECG waveforms handed to the ECG app, receipts marked indexed.
    A handful of statements per batch, not per instance."""
    now = timezone.now()
    rows = {
        values[0]: services.study_row(values[1:])
        for values in Study.objects.filter(
            study_instance_uid__in={i.facts.study_instance_uid for i in items}
        ).values_list("study_instance_uid", *services.STUDY_FIELDS)
    }
    matches: dict[str, services.Match] = {}
    for item in items:
        uid = item.facts.study_instance_uid
        if uid not in rows:
            rows[uid], matches[uid] = services.new_study(
                item.facts, item.receipt.device, item.receipt.received_at
            )
    series = dict(
        Series.objects.filter(
            series_instance_uid__in={i.facts.series_instance_uid for i in items}
        ).values_list("series_instance_uid", "pk")
    )
    for item in items:
        f = item.facts
        if f.series_instance_uid not in series:
            series[f.series_instance_uid] = Series.objects.create(
                study_id=rows[f.study_instance_uid]["pk"], series_instance_uid=f.series_instance_uid,
                modality=f.modality, number=f.series_number, description=f.series_description,
                body_part=f.body_part,
            ).pk  # fmt: skip
    # Indexed already: by another indexer whose lease this one took over, or before receipts.
    existing = dict(
        Instance.objects.filter(
            sop_instance_uid__in=[i.facts.sop_instance_uid for i in items]
        ).values_list("sop_instance_uid", "pk")
    )
    new: list[tuple[_Item, Instance]] = []
    for item in items:
        f, receipt = item.facts, item.receipt
        if f.sop_instance_uid in existing:
            item.instance_id = existing[f.sop_instance_uid]
            if item.instance_id is not None:
                _forget_copy(receipt, item.instance_id)
            continue
        instance = Instance(
            series_id=series[f.series_instance_uid], sop_instance_uid=f.sop_instance_uid,
            sop_class_uid=f.sop_class_uid, transfer_syntax_uid=f.transfer_syntax_uid,
            kind=f.kind, number=f.instance_number, frames=f.frames, rows=f.rows,
            columns=f.columns, photometric=f.photometric, pixel_spacing=f.spacing,
            spacing_source=f.spacing_source, frame_time_ms=f.frame_time_ms, window=f.window,
            size=receipt.size, sha256=item.sha256, findings=item.findings,
            association_id=receipt.association_id, received_at=receipt.received_at,
        )  # fmt: skip
        instance.file.name = receipt.file.name
        new.append((item, instance))
    Instance.objects.bulk_create([instance for _, instance in new])
    if any(instance.pk is None for _, instance in new):  # pragma: no cover — old backends
        pks = dict(
            Instance.objects.filter(
                sop_instance_uid__in=[i.sop_instance_uid for _, i in new]
            ).values_list("sop_instance_uid", "pk")
        )
        for _, instance in new:
            instance.pk = pks[instance.sop_instance_uid]
    for item, instance in new:
        item.instance_id = instance.pk
    # Per study: its modalities, one audit entry for what this batch added.
    by_study: dict[str, list[tuple[_Item, Instance]]] = {}
    for item, instance in new:
        by_study.setdefault(item.facts.study_instance_uid, []).append((item, instance))
    for uid, added in by_study.items():
        row = rows[uid]
        modalities = set(filter(None, row["modalities"].split(",")))
        modalities |= {item.facts.modality for item, _ in added}
        joined = ",".join(sorted(modalities))[:64]
        if joined != row["modalities"]:
            Study.objects.filter(pk=row["pk"]).update(modalities=joined, updated_at=now)
            row["modalities"] = joined
        device = added[0][0].receipt.device
        detail = {
            "ae": device.ae_title if device else "",
            "instances": [item.facts.sop_instance_uid for item, _ in added],
            "associations": sorted({i.receipt.association_id for i, _ in added} - {None}),
        }
        if uid in matches:
            detail |= {"matched": matches[uid].method or "", "note": matches[uid].note}
        audit.log(
            "create" if uid in matches else "update",
            obj=Study(pk=row["pk"], study_instance_uid=uid,
                      accession_number=row["accession_number"]),
            resident_id=row["resident_id"], institution=row["place"], detail=detail,
        )  # fmt: skip
        if row["order_id"]:
            for item, instance in added:
                if item.facts.kind == InstanceKind.ECG:
                    services.attach_ecg(instance, row["order_id"])
    for item in items:
        receipt = item.receipt
        receipt.state = ReceiptState.INDEXED
        receipt.instance_id = item.instance_id
        receipt.claimed_by = ""
        receipt.error = ""
        receipt.indexed_at = now
    Receipt.objects.bulk_update(
        [item.receipt for item in items], ["state", "instance", "claimed_by", "error", "indexed_at"]
    )


def _forget_copy(receipt: Receipt, instance_id: int) -> None:
    """A receipt for an instance indexed before from another file: that file stays the
    instance's, this copy is removed once the batch commits."""
    kept = Instance.objects.filter(pk=instance_id).values_list("file", flat=True).first()
    if kept and kept != receipt.file.name:
        name = receipt.file.name
        transaction.on_commit(lambda: services._discard(name))


def _later(receipt: Receipt, error: str, *, final: bool = False) -> None:
    """Leave a receipt for a retry (or, after the last one or for an unusable file, failed)."""
    attempts = Receipt.objects.filter(pk=receipt.pk).values_list("attempts", flat=True).first()
    attempts = attempts or 1
    final = final or attempts > len(RETRY_DELAYS)
    fields = {"claimed_by": "", "error": error[:500]}
    if final:
        fields["state"] = ReceiptState.FAILED
    else:
        fields["available_at"] = timezone.now() + RETRY_DELAYS[attempts - 1]
    Receipt.objects.filter(pk=receipt.pk, state=ReceiptState.PENDING).update(**fields)
    log.warning(
        "indexing %s %s: %s",
        receipt.sop_instance_uid,
        "failed" if final else f"failed (attempt {attempts}, retried later)",
        error,
    )


def run_batch(worker: str, *, limit: int = BATCH, ids=None) -> int:
    """Claim and index one batch: how many receipts were taken (0: nothing to do)."""
    picked = claim(worker, limit=limit, ids=ids)
    if not picked:
        return 0
    receipts = list(
        Receipt.objects.filter(pk__in=picked, claimed_by=worker)
        .select_related("device__institution")
        .order_by("pk")
    )
    ready: list[_Item] = []
    for receipt in receipts:
        try:
            ready.append(_prepare(receipt))
        except _Unusable as exc:
            _later(receipt, str(exc), final=True)
        except Exception as exc:
            _later(receipt, f"{type(exc).__name__}: {exc}")
    if not ready:
        return len(receipts)
    try:
        with transaction.atomic():
            _write(ready)
        return len(receipts)
    except Exception as exc:
        if len(ready) == 1:
            log.exception("indexing %s failed", ready[0].receipt.sop_instance_uid)
            _later(ready[0].receipt, f"{type(exc).__name__}: {exc}")
            return len(receipts)
        log.info("batch of %d not indexed together (%s): one by one", len(ready), exc)
    for item in ready:
        try:
            with transaction.atomic():
                _write([item])
        except Exception as exc:
            log.exception("indexing %s failed", item.receipt.sop_instance_uid)
            _later(item.receipt, f"{type(exc).__name__}: {exc}")
    return len(receipts)


def drain(worker: str | None = None, *, limit: int = BATCH, stop=None) -> int:
    """Index batches until nothing is left to take: how many receipts were taken."""
    worker = worker or worker_name()
    total = 0
    while not (stop is not None and stop.is_set()):
        taken = run_batch(worker, limit=limit)
        if not taken:
            break
        total += taken
    return total


def pending() -> int:
    """Receipts not indexed yet (waiting, held, or waiting for a retry)."""
    return Receipt.objects.filter(state=ReceiptState.PENDING).count()


# --- the listener's own indexer (embedded default) ------------------------------------------
class IndexerThread(threading.Thread):
    """Indexes in the listener's process: woken by each receipt (:meth:`notify`), and every
    ``poll`` seconds for work nobody holds; the first pass runs at start (recovery).

    While objects are arriving it lets the receivers have the database (on SQLite one
    writer at a time: a receipt waiting behind an index batch is a device waiting): it
    indexes after a pause of ``quiet`` seconds in the arrivals, or once the oldest
    un-indexed arrival has waited ``max_delay`` seconds — so under a steady stream the
    index still follows within a few seconds."""

    def __init__(
        self,
        *,
        poll: float = POLL_SECONDS,
        batch: int = BATCH,
        quiet: float = QUIET_SECONDS,
        max_delay: float = MAX_DELAY_SECONDS,
    ) -> None:
        super().__init__(name="imaging-indexer", daemon=True)
        self.poll = poll
        self.batch = batch
        self.quiet = quiet
        self.max_delay = max_delay
        self.worker = worker_name()
        self._lock = threading.Lock()
        self._last: float | None = None  # the latest arrival
        self._first: float | None = None  # the first arrival not yet taken in a batch
        self._wake = threading.Event()
        self._wake.set()
        self._halt = threading.Event()
        self._idle = threading.Event()

    def notify(self) -> None:
        with self._lock:
            self._last = time.monotonic()
            if self._first is None:
                self._first = self._last
        self._wake.set()

    def _wait_for_a_pause(self) -> None:
        while not self._halt.is_set():
            with self._lock:
                last, first = self._last, self._first
            now = time.monotonic()
            if first is None or now - last >= self.quiet or now - first >= self.max_delay:
                return
            self._halt.wait(min(self.quiet - (now - last), self.max_delay - (now - first)))

    def run(self) -> None:
        while not self._halt.is_set():
            self._wake.wait(self.poll)
            self._wake.clear()
            self._idle.clear()
            try:
                while not self._halt.is_set():
                    self._wait_for_a_pause()
                    with self._lock:
                        self._first = None
                    if not run_batch(self.worker, limit=self.batch):
                        break
                close_old_connections()
            except Exception:
                log.exception("the indexer failed; it starts again")
                connections.close_all()
            finally:
                self._idle.set()
        connections.close_all()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Until nothing is being indexed and no wake-up is pending (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._idle.wait(0.05) and not self._wake.is_set():
                return True
        return False

    def stop(self, timeout: float = 60.0) -> None:
        """Finish the batch in hand, then end."""
        self._halt.set()
        self._wake.set()
        self.join(timeout)
