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
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from django.db import close_old_connections, connections
from django.utils import timezone
from pynetdicom import AE, _config, evt
from pynetdicom.sop_class import ModalityWorklistInformationFind, Verification

from countycare.core import audit
from countycare.imaging import dicom, services, worklist
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
    studies: set[str] = field(default_factory=set)


class Listener:
    """One DICOM AE: ``start()`` in a thread (tests, benchmarks) or ``serve()`` blocking."""

    def __init__(self, ae_title: str = "COUNTYCARE", host: str = "127.0.0.1", port: int = 11112):
        self.ae_title = ae_title
        self.host = host
        self.port = port
        self._sessions: dict[int, _Session] = {}
        self._lock = threading.Lock()
        self.server = None
        self.ae = self._build()

    def _build(self) -> CountyCareAE:
        # pynetdicom writes each received dataset straight to a file (with its file meta)
        # instead of collecting it in memory; the C-STORE handler moves that file into
        # storage. Its per-message INFO logging would cost more than our handler.
        _config.STORE_RECV_CHUNKED_DATASET = True
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
        return self.host, self.port

    def serve(self) -> None:
        self.ae.start_server((self.host, self.port), block=True, evt_handlers=self.handlers)

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until every association has ended and been logged (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                busy = bool(self._sessions)
            if not busy and not self.ae.active_associations:
                return True
            time.sleep(0.01)
        return False

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server = None
        self.ae.shutdown()

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
                    # One audit entry per association, not one per instance: every instance
                    # it stored points to its association row.
                    device = session.device
                    audit.log(
                        "create", object_type="imaging.association", object_id=session.row_id,
                        institution=device.institution if device else None,
                        detail={"ae": device.ae_title if device else "",
                                "stored": session.counts["stored"],
                                "duplicates": session.counts["duplicates"],
                                "failed": session.counts["failed"],
                                "studies": sorted(session.studies)[:100]},
                    )  # fmt: skip
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
            outcome = services.store(
                str(event.dataset_path), device=device, association=association
            )
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
            if outcome.created and outcome.instance is not None:
                session.studies.add(outcome.study_uid)
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
