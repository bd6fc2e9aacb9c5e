"""The DICOM application entity (``countycare dicom-listen``, issue 4; WH-04): C-ECHO,
Storage SCP and Modality Worklist SCP on pynetdicom.

- Only devices registered with their calling AE title (``DeviceAE``, active) are accepted;
  the list is read from the database (cached a few seconds), so a device registered in the
  admin can push at once. A refused association is logged with its reason, like an accepted
  one with what it did.
- Each association runs in its own thread (pynetdicom); it closes its database connections
  when it ends. One association's failure never stops the listener.
- Unsupported SOP classes and transfer syntaxes are refused at negotiation (the presentation
  context is rejected: the device is told before it sends); a dataset that cannot be stored
  gets the failure status of PS3.4 B.2.3 with the reason in the log.
- A C-STORE is answered success once the file is in storage and its receipt is committed
  (``services.receive``); indexing follows off the device's time (``imaging.indexer``): in a
  thread of this process (embedded default), or by Celery workers when a broker is set.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone
from pynetdicom import AE, _config, evt
from pynetdicom.sop_class import ModalityWorklistInformationFind, Verification

from countycare.imaging import dicom, indexer, services, worklist
from countycare.imaging.models import Association, DeviceAE

log = logging.getLogger("countycare.imaging.listener")

KNOWN_AE_CACHE_SECONDS = 5.0


class _Known:
    """The active devices' AE titles, re-read every few seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._titles: list[str] = []
        self._at = 0.0

    def titles(self) -> list[str]:
        with self._lock:
            if time.monotonic() - self._at > KNOWN_AE_CACHE_SECONDS:
                try:
                    self._titles = list(
                        DeviceAE.objects.filter(is_active=True).values_list("ae_title", flat=True)
                    )
                finally:
                    close_old_connections()
                self._at = time.monotonic()
            return list(self._titles)

    def forget(self) -> None:
        with self._lock:
            self._at = 0.0


class CountyCareAE(AE):
    """pynetdicom's AE, with the allowed calling AE titles taken from the database. An empty
    register refuses everyone (pynetdicom's empty list would accept everyone)."""

    known = _Known()

    @property
    def require_calling_aet(self) -> list[str]:  # type: ignore[override]
        return self.known.titles() or ["\\NO DEVICE\\"]

    @require_calling_aet.setter
    def require_calling_aet(self, ae_titles: list[str]) -> None:
        pass


@dataclass
class _Session:
    row_id: int
    device: DeviceAE | None
    counts: dict[str, int] = field(
        default_factory=lambda: {"stored": 0, "duplicates": 0, "failed": 0, "finds": 0,
                                 "echoes": 0}
    )  # fmt: skip


class _CeleryIndexer:
    """With a broker: send ``imaging.index_receipts`` as receipts arrive — at most once a
    second while they do, and when an association ends (its last receipts)."""

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self._sent = 0.0
        self._lock = threading.Lock()

    def notify(self, *, now: bool = False) -> None:
        with self._lock:
            if not now and time.monotonic() - self._sent < self.every:
                return
            self._sent = time.monotonic()
        from countycare.imaging.tasks import index_receipts

        try:
            index_receipts.delay()
        except Exception:  # the broker is down: beat's periodic run picks the receipts up
            log.exception("could not send imaging.index_receipts")


class Listener:
    """One DICOM AE: ``start()`` in a thread (tests, benchmarks) or ``serve()`` blocking.

    ``indexing``: who indexes what this listener receives — ``"auto"`` (a thread of this
    process without a Celery broker, Celery with one), ``"thread"``, ``"celery"``, or
    ``"manual"`` (nobody: :meth:`settle` indexes in the caller's thread — tests)."""

    def __init__(
        self,
        ae_title: str = "COUNTYCARE",
        host: str = "127.0.0.1",
        port: int = 11112,
        *,
        indexing: str = "auto",
    ):
        self.ae_title = ae_title
        self.host = host
        self.port = port
        self._sessions: dict[int, _Session] = {}
        self._lock = threading.Lock()
        self.server = None
        self.ae = self._build()
        if indexing == "auto":
            indexing = "thread" if settings.CELERY_TASK_ALWAYS_EAGER else "celery"
        if indexing not in ("thread", "celery", "manual"):
            raise ValueError(f"unknown indexing {indexing!r}")
        self.indexing = indexing
        self.indexer: indexer.IndexerThread | None = None
        self._celery = _CeleryIndexer() if indexing == "celery" else None

    def _start_indexing(self) -> None:
        if self.indexing == "thread" and self.indexer is None:
            self.indexer = indexer.IndexerThread()
            self.indexer.start()  # its first pass: receipts left from before (recovery)
        elif self._celery is not None:
            self._celery.notify(now=True)

    def _stop_indexing(self) -> None:
        if self.indexer is not None:
            self.indexer.stop()
            self.indexer = None

    def _notify(self, *, now: bool = False) -> None:
        if self.indexer is not None:
            self.indexer.notify()
        elif self._celery is not None:
            self._celery.notify(now=now)

    def _build(self) -> CountyCareAE:
        # pynetdicom's per-message event logging costs more than the C-STORE handler; its
        # warnings and errors still go to the log (and all of it with countycare.imaging at
        # DEBUG). The received dataset stays in memory and is written once, with file meta
        # encoded by dicom.file_meta: pynetdicom's chunked receive into a temporary file
        # (STORE_RECV_CHUNKED_DATASET) measured slower — it flushes every PDV and encodes the
        # file meta with pydicom's writer (benchmarks/dicom_ingest.py, docs/imaging.md).
        if not log.isEnabledFor(logging.DEBUG):
            _config.LOG_HANDLER_LEVEL = "none"
            logging.getLogger("pynetdicom").setLevel(logging.WARNING)
        ae = CountyCareAE(ae_title=self.ae_title)
        ae.maximum_associations = 20
        ae.maximum_pdu_size = 0  # no limit on what we receive
        ae.network_timeout = 60
        ae.acse_timeout = 30
        ae.dimse_timeout = 60
        ae.add_supported_context(Verification)
        ae.add_supported_context(ModalityWorklistInformationFind)
        for uid in dicom.STORAGE_CLASSES:
            ae.add_supported_context(uid, dicom.TRANSFER_SYNTAXES)
        return ae

    @property
    def handlers(self):
        return [
            (evt.EVT_C_ECHO, self.on_echo),
            (evt.EVT_C_STORE, self.on_store),
            (evt.EVT_C_FIND, self.on_find),
            (evt.EVT_ESTABLISHED, self.on_established),
            (evt.EVT_REJECTED, self.on_rejected),
            (evt.EVT_RELEASED, self.on_ended),
            (evt.EVT_ABORTED, self.on_ended),
        ]

    def start(self):
        """Serve in background threads; returns (host, port) actually bound."""
        self.server = self.ae.start_server(
            (self.host, self.port), block=False, evt_handlers=self.handlers
        )
        self.port = self.server.server_address[1]
        self._start_indexing()
        return self.host, self.port

    def serve(self) -> None:
        """Serve until interrupted (SIGINT, or SIGTERM by the command); then the indexer
        finishes the batch in hand."""
        self._start_indexing()
        try:
            self.ae.start_server((self.host, self.port), block=True, evt_handlers=self.handlers)
        finally:
            self.ae.shutdown()
            self._stop_indexing()

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until every association has ended and been logged and what it received is
        indexed (tests, benchmarks): with ``indexing="manual"`` the caller's thread indexes,
        with the thread this waits for it. Celery's workers are not waited for."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                busy = bool(self._sessions)
            if not busy and not self.ae.active_associations:
                break
            time.sleep(0.01)
        else:
            return False
        if self.indexing == "manual":
            indexer.drain()
            return True
        if self.indexer is not None:
            return self.indexer.wait_idle(max(deadline - time.monotonic(), 0.1))
        return True

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server = None
        self.ae.shutdown()
        self._stop_indexing()

    # --- association bookkeeping --------------------------------------------------------------
    @staticmethod
    def _peer(assoc) -> str:
        return f"{assoc.requestor.address}:{assoc.requestor.port}"[:64]

    def _session(self, assoc) -> _Session | None:
        with self._lock:
            return self._sessions.get(id(assoc))

    def on_established(self, event) -> None:
        assoc = event.assoc
        calling = (assoc.requestor.ae_title or "").strip()
        try:
            device = (
                DeviceAE.objects.filter(ae_title=calling, is_active=True)
                .select_related("institution")
                .first()
            )
            row = Association.objects.create(
                calling_ae=calling[:16], called_ae=(assoc.acceptor.ae_title or "").strip()[:16],
                peer=self._peer(assoc), device=device, accepted=True, started_at=timezone.now(),
            )  # fmt: skip
        except Exception:
            log.exception("could not log the association from %s", calling)
            return
        with self._lock:
            self._sessions[id(assoc)] = _Session(row.pk, device)
        log.info("association from %s (%s) accepted", calling, self._peer(assoc))

    def on_rejected(self, event) -> None:
        assoc = event.assoc
        calling = (assoc.requestor.ae_title or "").strip()
        known = calling in self.ae.known.titles()
        reason = "too many associations" if known else f"unknown calling AE title {calling!r}"
        log.warning("association from %s (%s) refused: %s", calling, self._peer(assoc), reason)
        try:
            Association.objects.create(
                calling_ae=calling[:16], called_ae=(assoc.acceptor.ae_title or "").strip()[:16],
                peer=self._peer(assoc), accepted=False, reason=reason[:300],
                started_at=timezone.now(), ended_at=timezone.now(),
            )  # fmt: skip
        except Exception:
            log.exception("could not log the refused association from %s", calling)
        finally:
            connections.close_all()

    def on_ended(self, event) -> None:
        with self._lock:
            session = self._sessions.pop(id(event.assoc), None)
        try:
            if session is not None:
                Association.objects.filter(pk=session.row_id).update(
                    ended_at=timezone.now(), **session.counts
                )
                if session.counts["stored"]:
                    self._notify(now=True)  # (Celery: its last receipts)
        except Exception:
            log.exception("could not close the association log")
        finally:
            connections.close_all()

    # --- services -----------------------------------------------------------------------------
    def on_echo(self, event) -> int:
        session = self._session(event.assoc)
        if session is not None:
            session.counts["echoes"] += 1
        return 0x0000

    def on_store(self, event):
        session = self._session(event.assoc)
        device = session.device if session else None
        association = Association(pk=session.row_id) if session else None
        try:
            received = dicom.Received(
                event.request.DataSet,
                str(event.context.transfer_syntax),
                device.ae_title if device else "",
            )
            outcome = services.receive(received, device=device, association=association)
        except Exception as exc:  # never let one dataset take the association down
            log.exception("C-STORE failed")
            outcome = services.StoreOutcome(dicom.OUT_OF_RESOURCES, f"internal error: {exc}")
        if outcome.status == dicom.OUT_OF_RESOURCES:
            # A broken database connection must not fail the rest of the association: the
            # next C-STORE opens a fresh one. (Not after every C-STORE: with CONN_MAX_AGE=0
            # that would reconnect for each instance.)
            connections.close_all()
        if session is not None:
            key = "failed" if not outcome.ok else ("stored" if outcome.created else "duplicates")
            session.counts[key] += 1
        if outcome.created:
            self._notify()
        if not outcome.ok:
            log.warning(
                "C-STORE from %s refused (0x%04X): %s",
                device.ae_title if device else "?", outcome.status, outcome.reason,
            )  # fmt: skip
            status = _status(outcome.status, outcome.reason)
            return status
        return 0x0000

    def on_find(self, event):
        session = self._session(event.assoc)
        if session is not None:
            session.counts["finds"] += 1
        if event.request.AffectedSOPClassUID != ModalityWorklistInformationFind:
            yield 0xC000, None  # pragma: no cover — only MWL is negotiated
            return
        device = session.device if session else None
        if device is None:
            yield _status(0xC000, "unknown device"), None
            return
        try:
            query = event.identifier
            items = list(worklist.answers(device, query))
        except Exception as exc:
            log.warning("worklist query from %s failed: %s", device.ae_title, exc)
            yield _status(0xC000, f"cannot process the query: {exc}"), None
            return
        finally:
            close_old_connections()
        for item in items:
            if event.is_cancelled:
                yield 0xFE00, None
                return
            yield 0xFF00, item
        log.info("worklist query from %s: %d items", device.ae_title, len(items))


def _status(code: int, reason: str):
    """A status dataset with the Error Comment the device shows its user (64 chars)."""
    from pydicom.dataset import Dataset

    status = Dataset()
    status.Status = code
    status.ErrorComment = reason[:64]
    return status
